#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ts_check.py CAPTURE.ts [--max-pcr-ms 40] [--max-psi-ms 100] [--max-pts-ms 700]

A check of an MPEG-TS capture in the spirit of ETSI TR 101 290's first and second
priorities, written for the channel tests (what every viewer of a channel must see):

  1.1/1.2  sync bytes (a trailing partial packet, as a capture cut by a client leaves, is
           reported but is not an error)
  1.3/1.5  PAT and PMT present, table_id and CRC right, at most --max-psi-ms apart (the
           issue asks 100 ms; TR 101 290 allows 500), timed on the PCR timeline (packet
           times interpolated between PCRs by position); PAT and PMT never change (fixed
           PIDs and stream set)
  1.4      continuity counters per PID: +1 on every packet with payload, unchanged on
           adaptation-only packets, one duplicate allowed; any discontinuity_indicator is
           itself reported (a channel never needs one)
  1.6      every PID the PMT lists carries packets
  2.1      transport_error_indicator
  2.3      PCR of the PCR PID at most --max-pcr-ms apart and increasing (27 MHz, with wrap)
  2.5      PTS of each PID at most --max-pts-ms apart
  and      DTS (PTS without DTS) increasing per PID (33-bit wrap), no PES arriving after
           its DTS by the PCR (a decoder would underflow), and every H.264 IDR with SPS and
           PPS in its PES (a player may start there); per video PID: IDR count and whether
           the first whole PES is an IDR (a viewer's first picture comes at once)

Prints one JSON object (per PID: packets, PES count, first/last PTS and the last PES's
PTS in seconds on one unwrapped timeline, so a test can compare where audio and video end)
and exits 1 when anything is violated, 2 when the file cannot be read."""
import json
import sys

TS = 188
PCR_WRAP = (1 << 33) * 300
PTS_WRAP = 1 << 33


def crc32_mpeg(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ts_stamp(b):
    return (((b[0] >> 1) & 7) << 30) | (b[1] << 22) | ((b[2] >> 1) << 15) | (b[3] << 7) | (b[4] >> 1)


class Checker:
    def __init__(self, max_pcr_ms, max_psi_ms, max_pts_ms):
        self.max_pcr = max_pcr_ms * 27000
        self.max_psi_ms = max_psi_ms
        self.max_pts = max_pts_ms * 90
        self.counts = {}
        self.details = []
        self.pids = {}
        self.pat = None           # (section bytes)
        self.pmt_pids = {}        # pmt pid -> program number
        self.pmt = {}             # pmt pid -> section bytes
        self.pcr_pid = None
        self.es = {}              # pid -> stream_type
        self.pcrs = {}            # pid -> [(packet index, unwrapped pcr)]
        self.psi_at = {"pat": [], "pmt": []}
        self.pes_at = []          # (packet index, pid, dts) for the arrival check

    def violation(self, kind, idx, detail):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= 10:
            self.details.append({"kind": kind, "packet": idx, "detail": detail})

    def pid(self, p):
        st = self.pids.get(p)
        if st is None:
            st = self.pids[p] = {"packets": 0, "cc": None, "last": None, "dups": 0, "pes": 0,
                                 "dts": None, "pts": None, "pts_first": None, "pts_last": None,
                                 "pts_max": None}
        return st

    def section(self, payload, idx, what):
        ptr = payload[0]
        sec = payload[1 + ptr:]
        if len(sec) < 3:
            self.violation(what + "_error", idx, "section cut short")
            return None
        length = ((sec[1] & 0x0F) << 8) | sec[2]
        sec = sec[:3 + length]
        if len(sec) < 3 + length or length < 9:
            self.violation(what + "_error", idx, "section longer than its packet (%d)" % length)
            return None
        if crc32_mpeg(sec) != 0:
            self.violation("crc_error", idx, what + " CRC mismatch")
            return None
        return bytes(sec)

    def on_pat(self, payload, idx):
        sec = self.section(payload, idx, "pat")
        if sec is None:
            return
        if sec[0] != 0:
            self.violation("pat_error", idx, "table_id %d on PID 0" % sec[0])
            return
        self.psi_at["pat"].append(idx)
        if self.pat is not None and sec != self.pat:
            self.violation("pat_changed", idx, "PAT content changed")
        self.pat = sec
        body = sec[8:-4]
        for i in range(0, len(body) - 3, 4):
            prog = (body[i] << 8) | body[i + 1]
            pid = ((body[i + 2] & 0x1F) << 8) | body[i + 3]
            if prog != 0:
                self.pmt_pids[pid] = prog

    def on_pmt(self, p, payload, idx):
        sec = self.section(payload, idx, "pmt")
        if sec is None:
            return
        if sec[0] != 2:
            self.violation("pmt_error", idx, "table_id %d on PMT PID %d" % (sec[0], p))
            return
        self.psi_at["pmt"].append(idx)
        if p in self.pmt and sec != self.pmt[p]:
            self.violation("pmt_changed", idx, "PMT content changed (PIDs or streams)")
        self.pmt[p] = sec
        self.pcr_pid = ((sec[8] & 0x1F) << 8) | sec[9]
        pil = ((sec[10] & 0x0F) << 8) | sec[11]
        i, end = 12 + pil, len(sec) - 4
        while i + 5 <= end:
            stype, es_pid = sec[i], ((sec[i + 1] & 0x1F) << 8) | sec[i + 2]
            eil = ((sec[i + 3] & 0x0F) << 8) | sec[i + 4]
            self.es[es_pid] = stype
            i += 5 + eil

    def on_pes(self, p, st, payload, idx):
        if len(payload) < 14 or payload[0:3] != b"\x00\x00\x01":
            self.violation("pes_error", idx, "PID %d: payload start without a PES header" % p)
            return
        st["pes"] += 1
        flags = payload[7] >> 6
        if flags & 2 == 0:
            return
        pts = ts_stamp(payload[9:14])
        dts = ts_stamp(payload[14:19]) if flags == 3 and len(payload) >= 19 else pts
        # one unwrapped timeline per PID, starting at the first PTS
        if st["pts"] is None:
            upts = pts
        else:
            d = (pts - st["pts"]) % PTS_WRAP
            upts = st["pts_u"] + (d - PTS_WRAP if d >= PTS_WRAP // 2 else d)
        if st["pts_first"] is None:
            st["pts_first"] = upts
        if st["pts_max"] is not None and upts - st["pts_max"] > self.max_pts:
            self.violation("pts_error", idx, "PID %d: PTS %.3f s after the previous one" %
                           (p, (upts - st["pts_max"]) / 90000))
        st["pts_max"] = upts if st["pts_max"] is None else max(st["pts_max"], upts)
        st["pts"], st["pts_u"], st["pts_last"] = pts, upts, upts
        if st["dts"] is not None:
            d = (dts - st["dts"]) % PTS_WRAP
            if d == 0 or d >= PTS_WRAP // 2:
                back = 0 if d == 0 else PTS_WRAP - d
                self.violation("dts_not_increasing", idx, "PID %d: DTS %d after %d (%.3f s back)"
                               % (p, dts, st["dts"], back / 90000))
        st["dts"] = dts
        self.pes_at.append((idx, p, dts))

    def run(self, data):
        n = len(data) // TS
        self.trailing = len(data) - n * TS
        idx = 0
        off = 0
        while off + TS <= len(data):
            pkt = data[off:off + TS]
            if pkt[0] != 0x47:
                self.violation("sync_byte_error", idx, "byte 0x%02x at offset %d" % (pkt[0], off))
                nxt = data.find(b"\x47", off + 1)
                while nxt != -1 and nxt + TS < len(data) and data[nxt + TS] != 0x47:
                    nxt = data.find(b"\x47", nxt + 1)
                if nxt == -1:
                    break
                off = nxt
                continue
            self.packet(pkt, idx)
            idx += 1
            off += TS
        self.npackets = idx
        self.finish()

    def packet(self, pkt, idx):
        p = ((pkt[1] & 0x1F) << 8) | pkt[2]
        if pkt[1] & 0x80:
            self.violation("transport_error", idx, "PID %d: transport_error_indicator" % p)
        pusi = pkt[1] & 0x40
        afc = (pkt[3] >> 4) & 3
        cc = pkt[3] & 0x0F
        st = self.pid(p)
        st["packets"] += 1
        pos = 4
        if afc & 2:
            alen = pkt[4]
            pos = 5 + alen
            if alen > 0:
                fl = pkt[5]
                if fl & 0x80:
                    self.violation("discontinuity_indicator", idx, "PID %d" % p)
                if fl & 0x10 and alen >= 7:
                    b = pkt[6:12]
                    base = (b[0] << 25) | (b[1] << 17) | (b[2] << 9) | (b[3] << 1) | (b[4] >> 7)
                    pcr = base * 300 + (((b[4] & 1) << 8) | b[5])
                    self.on_pcr(p, pcr, idx)
        if p == 0x1FFF:
            return
        payload = pkt[pos:] if afc & 1 else b""
        if afc == 0:
            self.violation("cc_error", idx, "PID %d: adaptation_field_control 0" % p)
        if st["cc"] is not None:
            if afc & 1:
                if cc == st["cc"]:
                    st["dups"] += 1
                    if st["dups"] > 1 or pkt != st["last"]:
                        self.violation("cc_error", idx, "PID %d: CC %d repeated" % (p, cc))
                elif cc != (st["cc"] + 1) & 15:
                    self.violation("cc_error", idx, "PID %d: CC %d after %d" % (p, cc, st["cc"]))
                    st["dups"] = 0
                else:
                    st["dups"] = 0
            elif cc != st["cc"]:
                self.violation("cc_error", idx, "PID %d: adaptation-only packet changed CC %d -> %d"
                               % (p, st["cc"], cc))
        st["cc"], st["last"] = cc, pkt
        if not payload:
            return
        if p == 0:
            if pusi:
                self.on_pat(payload, idx)
        elif p in self.pmt_pids:
            if pusi:
                self.on_pmt(p, payload, idx)
        elif p in self.es:
            if self.es[p] == 0x1B:
                self.h264_payload(p, st, payload, pusi, idx)
            if pusi:
                self.on_pes(p, st, payload, idx)

    def h264_payload(self, p, st, payload, pusi, idx):
        """collects each H.264 PES; at its end, checks an IDR carries SPS and PPS"""
        if pusi:
            self.h264_access_unit(p, st)
            st["au"], st["au_idx"] = bytearray(payload), idx
        elif "au" in st:
            st["au"] += payload

    def h264_access_unit(self, p, st):
        au = st.pop("au", None)
        if au is None or len(au) < 9 or au[:3] != b"\x00\x00\x01":
            return
        es = bytes(au[9 + au[8]:])
        types = set()
        i = es.find(b"\x00\x00\x01")
        while i != -1 and i + 3 < len(es):
            types.add(es[i + 3] & 0x1F)
            i = es.find(b"\x00\x00\x01", i + 3)
        st["aus"] = st.get("aus", 0) + 1
        if 5 in types:
            st["idrs"] = st.get("idrs", 0) + 1
            if not {7, 8} <= types:
                self.violation("idr_without_sps_pps", st["au_idx"],
                               "PID %d: IDR without SPS/PPS in its PES" % p)
        if st["aus"] == 1:
            st["first_au_idr"] = 5 in types

    def on_pcr(self, p, pcr, idx):
        lst = self.pcrs.setdefault(p, [])
        if lst:
            prev_idx, prev = lst[-1]
            d = (pcr - prev % PCR_WRAP) % PCR_WRAP
            if d >= PCR_WRAP // 2:
                d -= PCR_WRAP
            lst.append((idx, prev + d))
        else:
            lst.append((idx, pcr))

    def time_of(self, pts, idx):
        """27 MHz time of packet idx, interpolated on the PCR PID's timeline."""
        import bisect
        k = bisect.bisect_left(self.pcr_idx, idx)
        if k == 0:
            k = 1
        if k >= len(pts):
            k = len(pts) - 1
        (i0, t0), (i1, t1) = pts[k - 1], pts[k]
        if i1 == i0:
            return t0
        return t0 + (t1 - t0) * (idx - i0) / (i1 - i0)

    def finish(self):
        for p, st in self.pids.items():
            if self.es.get(p) == 0x1B:
                self.h264_access_unit(p, st)
        if self.pat is None:
            self.violation("pat_error", None, "no PAT")
        if not self.pmt:
            self.violation("pmt_error", None, "no PMT")
        pcrs = self.pcrs.get(self.pcr_pid, []) if self.pcr_pid is not None else []
        self.pcr_idx = [i for i, _ in pcrs]
        self.report = {"packets": self.npackets, "trailing_bytes": self.trailing,
                       "pcr_pid": self.pcr_pid, "pcr_count": len(pcrs)}
        if self.pcr_pid is not None and len(pcrs) < 2:
            self.violation("pcr_error", None, "fewer than two PCRs on PCR PID %s" % self.pcr_pid)
        worst_pcr = 0
        for (i0, t0), (i1, t1) in zip(pcrs, pcrs[1:]):
            d = t1 - t0
            worst_pcr = max(worst_pcr, d)
            if d <= 0:
                self.violation("pcr_not_increasing", i1, "PCR went back %.3f ms" % (-d / 27000))
            elif d > self.max_pcr:
                self.violation("pcr_interval", i1, "PCRs %.1f ms apart" % (d / 27000))
        self.report["pcr_max_interval_ms"] = round(worst_pcr / 27000, 2)
        if len(pcrs) >= 2:
            span = pcrs[-1][1] - pcrs[0][1]
            self.report["duration_s"] = round(span / 27e6, 3)
            # only between the first and the last PCR: outside, a packet's time is a guess
            first_i, last_i = pcrs[0][0], pcrs[-1][0]
            for what, at in self.psi_at.items():
                worst = 0
                times = [pcrs[0][1]] + [self.time_of(pcrs, i) for i in at
                                        if first_i <= i <= last_i] + [pcrs[-1][1]]
                for a, b in zip(times, times[1:]):
                    if b - a > worst:
                        worst = b - a
                    if (b - a) / 27000 > self.max_psi_ms:
                        self.violation(what + "_interval", None, "%s %.1f ms apart (at %.3f s)"
                                       % (what.upper(), (b - a) / 27000, (a - pcrs[0][1]) / 27e6))
                self.report[what + "_max_interval_ms"] = round(worst / 27000, 2)
            late = 0
            for idx, p, dts in self.pes_at:
                t = self.time_of(pcrs, idx) % PCR_WRAP
                d = (dts * 300 - t) % PCR_WRAP
                if d >= PCR_WRAP // 2:
                    late += 1
                    self.violation("pes_late", idx, "PID %d: PES arrives %.1f ms after its DTS"
                                   % (p, (PCR_WRAP - d) / 27000))
        pids = {}
        for p, st in sorted(self.pids.items()):
            kind = "pat" if p == 0 else "pmt" if p in self.pmt_pids else \
                {0x1B: "h264", 0x24: "hevc", 0x0F: "aac", 0x11: "aac_latm", 0x03: "mp2",
                 0x04: "mp2", 0x81: "ac3", 0x06: "private"}.get(self.es.get(p), "other") \
                if p in self.es else "null" if p == 0x1FFF else "unlisted"
            e = {"kind": kind, "packets": st["packets"], "pes": st["pes"]}
            if "aus" in st:
                e["idrs"] = st.get("idrs", 0)
                e["first_pes_idr"] = st.get("first_au_idr", False)
            if st["pts_first"] is not None:
                e["first_pts"] = st["pts_first"]
                e["last_pts"] = st["pts_last"]
            pids[str(p)] = e
        for p in self.es:
            if p not in self.pids:
                self.violation("pid_error", None, "PID %d listed in the PMT never occurs" % p)
        # first and last PTS of every elementary stream in seconds on one timeline: the
        # earliest first PTS of any stream is 0
        firsts = [e["first_pts"] for e in pids.values() if "first_pts" in e]
        if firsts:
            base = min(firsts)
            for e in pids.values():
                if "first_pts" in e:
                    e["first_pts_s"] = round((e["first_pts"] - base) / 90000, 4)
                    e["last_pts_s"] = round((e["last_pts"] - base) / 90000, 4)
        self.report["pids"] = pids
        self.report["violations"] = self.counts
        self.report["details"] = self.details
        self.report["ok"] = not self.counts


def main():
    args = sys.argv[1:]
    opts = {"--max-pcr-ms": 40.0, "--max-psi-ms": 100.0, "--max-pts-ms": 700.0}
    path = None
    while args:
        a = args.pop(0)
        if a in opts and args:
            opts[a] = float(args.pop(0))
        elif path is None and not a.startswith("--"):
            path = a
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if path is None:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        print("%s: %s" % (path, e.strerror), file=sys.stderr)
        return 2
    c = Checker(opts["--max-pcr-ms"], opts["--max-psi-ms"], opts["--max-pts-ms"])
    c.run(data)
    c.report["file"] = path
    print(json.dumps(c.report, indent=1))
    return 0 if c.report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
