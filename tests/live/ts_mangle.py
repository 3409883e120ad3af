#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ts_mangle.py IN.ts OUT.ts OP [ARG]: breaks a good MPEG-TS in one known way, so that
tests/live/judges_selftest.sh can show each judge fails on it.

  drop-packet PID      remove the 500th packet of PID (a continuity-counter jump)
  discontinuity PID    set discontinuity_indicator on the first packet of PID from its
                       500th on that has an adaptation field (CC kept)
  sync                 overwrite the sync byte of packet 700
  pat-crc              flip a bit in the 3rd PAT's section (its CRC no longer matches)
  hide-sps PID         in every IDR's first packet of PID but the first IDR's, turn the
                       SPS and PPS NAL headers into filler data (type 12): same bytes, but
                       a player that starts at a later IDR has no parameter sets
  renumber-cc          rewrite every PID's continuity counters to run without a jump (for
                       `cat a.ts b.ts`: then only the timestamps go back)
  drop-pes PID T0 T1   remove PID's PES packets whose PTS is T0..T1 seconds after its first,
                       counters renumbered (a stream that pauses: PTS gap, nothing else)
"""
import sys

TS = 188


def pid_of(p):
    return ((p[1] & 0x1F) << 8) | p[2]


def nth_of_pid(pkts, pid, n):
    k = [i for i, p in enumerate(pkts) if pid_of(p) == pid]
    return k[min(n, len(k) - 1)]


def renumber(pkts):
    cc = {}
    for p in pkts:
        pid = pid_of(p)
        if pid == 0x1FFF:
            continue
        if pid in cc:
            c = (cc[pid] + 1) & 15 if p[3] & 0x10 else cc[pid]
        else:
            c = p[3] & 15
        p[3] = (p[3] & 0xF0) | c
        cc[pid] = c


def pts_of(p):
    pos = 4
    if p[3] & 0x20:
        pos = 5 + p[4]
    pl = p[pos:]
    if not p[1] & 0x40 or pl[:3] != b"\x00\x00\x01" or not pl[7] & 0x80:
        return None
    b = pl[9:14]
    return (((b[0] >> 1) & 7) << 30) | (b[1] << 22) | ((b[2] >> 1) << 15) | (b[3] << 7) | (b[4] >> 1)


def main():
    src, dst, op = sys.argv[1:4]
    args = sys.argv[4:]
    data = open(src, "rb").read()
    pkts = [bytearray(data[i:i + TS]) for i in range(0, len(data) - TS + 1, TS)]
    if op == "drop-packet":
        del pkts[nth_of_pid(pkts, int(args[0]), 500)]
    elif op == "discontinuity":
        k = nth_of_pid(pkts, int(args[0]), 500)
        while k < len(pkts) and (pid_of(pkts[k]) != int(args[0]) or not pkts[k][3] & 0x20
                                 or pkts[k][4] == 0):
            k += 1
        if k == len(pkts):
            sys.exit("ts_mangle: no packet with an adaptation field to flag")
        pkts[k][5] |= 0x80
    elif op == "sync":
        pkts[700][0] = 0x46
    elif op == "pat-crc":
        p = pkts[nth_of_pid(pkts, 0, 2)]
        p[4 + 1 + p[4] + 9] ^= 0x01
    elif op == "hide-sps":
        pid, first = int(args[0]), True
        for p in pkts:
            if pid_of(p) != pid or not p[1] & 0x40:
                continue
            pos = 5 + p[4] if p[3] & 0x20 else 4
            es = pos + 9 + p[pos + 8]
            nals = []
            i = p.find(b"\x00\x00\x01", es)
            while i != -1 and i + 3 < TS:
                nals.append(i + 3)
                i = p.find(b"\x00\x00\x01", i + 3)
            if not any(p[k] & 0x1F == 5 for k in nals) and not any(p[k] & 0x1F == 7 for k in nals):
                continue
            if first:
                first = False
                continue
            for k in nals:
                if p[k] & 0x1F in (7, 8):
                    p[k] = (p[k] & 0xE0) | 12
    elif op == "renumber-cc":
        renumber(pkts)
    elif op == "drop-pes":
        pid, t0, t1 = int(args[0]), float(args[1]), float(args[2])
        first, out, dropping = None, [], False
        for p in pkts:
            if pid_of(p) == pid:
                pts = pts_of(p)
                if pts is not None:
                    first = pts if first is None else first
                    dropping = t0 * 90000 <= pts - first <= t1 * 90000
                if dropping:
                    continue
            out.append(p)
        pkts = out
        renumber(pkts)
    else:
        sys.exit(__doc__)
    with open(dst, "wb") as f:
        for p in pkts:
            f.write(p)


if __name__ == "__main__":
    main()
