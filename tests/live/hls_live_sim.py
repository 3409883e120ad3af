#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hls_live_sim.py DIR [--stall-at S --stall-for T]

Serves the segments of an HLS playlist made by FFmpeg (DIR/index.m3u8, VOD) as a live
stream on a free loopback port, for tests/live/hlsjs_selftest.sh to show that
hls_js_play.py passes a live stream that keeps up and fails one that does not: at wall time e
after the start, the segments that end by e + 3 s are published, the playlist at
/live.m3u8 lists the last 6 of them (EXT-X-MEDIA-SEQUENCE, EXT-X-PROGRAM-DATE-TIME),
with Access-Control-Allow-Origin: *. --stall-at S --stall-for T: no new segment from S s for
T s (a producer that falls behind). Prints "http://127.0.0.1:PORT/live.m3u8" when ready and
runs until killed."""
import datetime
import http.server
import sys
import time


def main():
    a = sys.argv[1:]
    d = a.pop(0)
    stall_at, stall_for = 1e9, 0.0
    while a:
        x = a.pop(0)
        if x == "--stall-at":
            stall_at = float(a.pop(0))
        elif x == "--stall-for":
            stall_for = float(a.pop(0))
    segs, dur = [], None
    for line in open(d + "/index.m3u8"):
        line = line.strip()
        if line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            segs.append((line, dur))
    ends, t = [], 0.0
    for _, du in segs:
        t += du
        ends.append(t)
    target = int(max(du for _, du in segs) + 0.999)
    t0 = time.monotonic()
    wall0 = datetime.datetime.now(datetime.timezone.utc)

    def playlist():
        e = time.monotonic() - t0
        if e > stall_at:
            e = max(stall_at, e - stall_for)
        n = sum(1 for x in ends if x <= e + 3.0)
        first = max(0, n - 6)
        start = ends[first - 1] if first else 0.0
        out = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:%d" % target,
               "#EXT-X-MEDIA-SEQUENCE:%d" % first]
        for i in range(first, n):
            if i == first:
                pdt = wall0 + datetime.timedelta(seconds=start)
                out.append("#EXT-X-PROGRAM-DATE-TIME:" +
                           pdt.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
            out.append("#EXTINF:%.3f," % segs[i][1])
            out.append(segs[i][0])
        return ("\n".join(out) + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *k):
            pass

        def do_GET(self):
            path = self.path.split("?")[0].lstrip("/")
            if path == "live.m3u8":
                body, ctype = playlist(), "application/vnd.apple.mpegurl"
            elif path in dict(segs):
                body, ctype = open(d + "/" + path, "rb").read(), "video/mp2t"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("http://127.0.0.1:%d/live.m3u8" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
