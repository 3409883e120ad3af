#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""pacing.py URL SECONDS [--settle S]

A viewer that reads an MPEG-TS stream for SECONDS and notes when each PCR arrives, to see
how the server paces it. lead(t) = PCR time received by wall time t minus t (both from
their first values): a join burst raises it (content received faster than real time), real-
time pacing then keeps it flat. After --settle seconds (default 5: the burst is over),
prints one JSON line with the burst (lead at settle time, s), the spread of the lead
(max - min, ms) and its drift (least-squares slope, ms per minute). Exits 2 when no PCR
came; judging is the caller's."""
import json
import socket
import sys
import time

import httpstream


def main():
    url, seconds = sys.argv[1], float(sys.argv[2])
    settle = float(sys.argv[sys.argv.index("--settle") + 1]) if "--settle" in sys.argv else 5.0
    s, body = httpstream.connect(url)
    t0 = time.monotonic()
    buf, pts = b"", []
    pcr_pid = None
    last = None
    unwrapped = 0
    s.settimeout(1)
    while time.monotonic() - t0 < seconds:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        now = time.monotonic() - t0
        buf += body.feed(d)
        n = len(buf) // 188 * 188
        for i in range(0, n, 188):
            p = buf[i:i + 188]
            if p[0] != 0x47 or not p[3] & 0x20 or p[4] < 7 or not p[5] & 0x10:
                continue
            pid = ((p[1] & 0x1F) << 8) | p[2]
            if pcr_pid is None:
                pcr_pid = pid
            if pid != pcr_pid:
                continue
            base = (p[6] << 25) | (p[7] << 17) | (p[8] << 9) | (p[9] << 1) | (p[10] >> 7)
            if last is not None:
                unwrapped += (base - last) % (1 << 33)
            last = base
            pts.append((now, unwrapped / 90000.0))
        buf = buf[n:]
    s.close()
    if len(pts) < 2:
        print(json.dumps({"error": "no PCR received"}))
        return 2
    lead = [(t, c - t) for t, c in pts]
    steady = [(t, l) for t, l in lead if t >= settle]
    if len(steady) < 2:
        print(json.dumps({"error": "stream ended before %.0f s" % settle}))
        return 2
    n = len(steady)
    mt = sum(t for t, _ in steady) / n
    ml = sum(l for _, l in steady) / n
    var = sum((t - mt) ** 2 for t, _ in steady)
    slope = sum((t - mt) * (l - ml) for t, l in steady) / var if var else 0.0
    ls = [l for _, l in steady]
    print(json.dumps({"seconds": round(pts[-1][0], 2), "pcrs": len(pts),
                      "burst_s": round(steady[0][1] - lead[0][1], 3),
                      "lead_spread_ms": round((max(ls) - min(ls)) * 1000, 1),
                      "drift_ms_per_min": round(slope * 60000, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
