#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tunein.py URL [--runs N] [--timeout S]
   tunein.py --cmd 'COMMAND ...' [--runs N] [--timeout S]

Tune-in time of an MPEG-TS stream: from the moment the client connects (or starts
COMMAND, which writes the stream to its stdout, as the seed's per-viewer ffmpeg does) to the
first decodable picture, that is, when a PAT, the PMT it names and one whole H.264 IDR
access unit (its PES ends where the next video PES starts) have been received. Prints one
JSON line: every run's time in ms and their median; exits 1 when a run gets no picture."""
import json
import shlex
import statistics
import subprocess
import sys
import time

import httpstream


class TuneIn:
    def __init__(self):
        self.buf = b""
        self.pmt_pid = None
        self.video = None
        self.have_pat = self.have_pmt = False
        self.in_idr = False
        self.pes = b""
        self.done = False

    def feed(self, data):
        self.buf += data
        while len(self.buf) >= 188 and not self.done:
            if self.buf[0] != 0x47:
                k = self.buf.find(b"\x47", 1)
                self.buf = self.buf[k:] if k > 0 else b""
                continue
            self.packet(self.buf[:188])
            self.buf = self.buf[188:]
        return self.done

    def packet(self, p):
        pid = ((p[1] & 0x1F) << 8) | p[2]
        pusi = p[1] & 0x40
        afc = (p[3] >> 4) & 3
        if not afc & 1:
            return
        pos = 5 + p[4] if afc & 2 else 4
        pl = p[pos:]
        if pid == 0 and pusi:
            sec = pl[1 + pl[0]:]
            if sec and sec[0] == 0:
                n = ((sec[1] & 0x0F) << 8) | sec[2]
                body = sec[8:3 + n - 4]
                for i in range(0, len(body) - 3, 4):
                    if (body[i] << 8 | body[i + 1]) != 0:
                        self.pmt_pid = ((body[i + 2] & 0x1F) << 8) | body[i + 3]
                        self.have_pat = True
        elif self.have_pat and pid == self.pmt_pid and pusi:
            sec = pl[1 + pl[0]:]
            if sec and sec[0] == 2:
                n = ((sec[1] & 0x0F) << 8) | sec[2]
                pil = ((sec[10] & 0x0F) << 8) | sec[11]
                i, end = 12 + pil, 3 + n - 4
                while i + 5 <= end:
                    if sec[i] == 0x1B:
                        self.video = ((sec[i + 1] & 0x1F) << 8) | sec[i + 2]
                    i += 5 + (((sec[i + 3] & 0x0F) << 8) | sec[i + 4])
                self.have_pmt = self.video is not None
        elif self.have_pmt and pid == self.video:
            if pusi:
                if self.in_idr:
                    self.done = True
                    return
                self.pes = b""
            self.pes += pl
            if not self.in_idr and len(self.pes) > 9:
                es = self.pes[9 + self.pes[8]:]
                i = es.find(b"\x00\x00\x01")
                while i != -1 and i + 3 < len(es):
                    if es[i + 3] & 0x1F == 5:
                        self.in_idr = True
                        break
                    i = es.find(b"\x00\x00\x01", i + 3)


def run_url(url, timeout):
    t0 = time.monotonic()
    s, body = httpstream.connect(url, timeout)
    t = TuneIn()
    try:
        while time.monotonic() - t0 < timeout:
            d = s.recv(65536)
            if not d:
                break
            try:
                d = body.feed(d)
            except httpstream.HttpError as e:
                raise SystemExit("tunein: %s" % e)
            if t.feed(d):
                return time.monotonic() - t0
    finally:
        s.close()
    return None


def run_cmd(cmd, timeout):
    t0 = time.monotonic()
    p = subprocess.Popen(shlex.split(cmd), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    t = TuneIn()
    try:
        while time.monotonic() - t0 < timeout:
            d = p.stdout.read1(65536)
            if not d:
                break
            if t.feed(d):
                return time.monotonic() - t0
    finally:
        p.kill()
        p.wait()
    return None


def main():
    a = sys.argv[1:]
    runs, timeout, cmd, url = 3, 20.0, None, None
    while a:
        x = a.pop(0)
        if x == "--runs":
            runs = int(a.pop(0))
        elif x == "--timeout":
            timeout = float(a.pop(0))
        elif x == "--cmd":
            cmd = a.pop(0)
        else:
            url = x
    if not url and not cmd:
        print(__doc__, file=sys.stderr)
        return 2
    times = []
    for i in range(runs):
        r = run_cmd(cmd, timeout) if cmd else run_url(url, timeout)
        if r is None:
            print(json.dumps({"error": "no picture within %.0f s" % timeout, "runs_ms": times}))
            return 1
        times.append(round(r * 1000, 1))
        time.sleep(0.2)
    print(json.dumps({"runs_ms": times, "median_ms": statistics.median(times)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
