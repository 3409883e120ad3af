#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hlsjs_watch.py PLAYLIST_URL SECONDS [--fps 25] [--work DIR] [--hlsjs DIR]

Plays a live HLS playlist with hls.js in headless Chromium for SECONDS after it starts
(tests/live/hlsjs_watch.html, served from a port of its own, so the playlist and segments
are fetched cross-origin as a web player on another site fetches them: they need
Access-Control-Allow-Origin). Prints one JSON report and exits 0 when the player started,
hls.js raised no fatal error, no `waiting` event came after the start, the media time played
kept up with the wall clock (within 10%), and the frames presented are SECONDS x FPS within
-10%/+5%; 1 otherwise; 77 when hls.js is not installed (see --hlsjs).

hls.js comes from npm, installed outside the tree (default ~/.cache/vidpipe-npm:
`npm install --prefix ~/.cache/vidpipe-npm hls.js@1`). The report's start_date/end_date are
the EXT-X-PROGRAM-DATE-TIME of the first and last position played, so a caller can count
the schedule's boundaries that were played."""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    a = sys.argv[1:]
    fps, work, hlsjs = 25.0, None, os.path.expanduser("~/.cache/vidpipe-npm")
    pos = []
    while a:
        x = a.pop(0)
        if x == "--fps":
            fps = float(a.pop(0))
        elif x == "--work":
            work = a.pop(0)
        elif x == "--hlsjs":
            hlsjs = a.pop(0)
        else:
            pos.append(x)
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, seconds = pos[0], float(pos[1])
    lib = os.path.join(hlsjs, "node_modules", "hls.js", "dist", "hls.min.js")
    if not os.path.exists(lib):
        print("hls.js not installed at %s (npm install --prefix %s hls.js@1)" % (lib, hlsjs))
        return 77
    if not shutil.which("chromium"):
        print("chromium not installed")
        return 77
    work = work or tempfile.mkdtemp(prefix="hlsjs")
    www = os.path.join(work, "hlsjs_www")
    os.makedirs(www, exist_ok=True)
    shutil.copy(lib, os.path.join(www, "hls.min.js"))
    shutil.copy(os.path.join(HERE, "hlsjs_watch.html"), os.path.join(www, "index.html"))
    result = {}
    done = threading.Event()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *k, **kw):
            super().__init__(*k, directory=www, **kw)

        def log_message(self, *k):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            result.update(json.loads(self.rfile.read(n)))
            self.send_response(204)
            self.end_headers()
            done.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/index.html?src=%s&seconds=%g" % (
        server.server_address[1], src, seconds)
    browser = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-background-timer-throttling",
         "--disable-renderer-backgrounding", "--user-data-dir=" + os.path.join(work, "hlsjs_profile"),
         "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0", url],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "chromium.log"), "w"))
    finished = done.wait(seconds + 45)
    browser.kill()
    browser.wait()
    server.shutdown()
    if not finished:
        print(json.dumps({"ok": False, "error": "no report from the page within %.0f s" %
                          (seconds + 45)}))
        return 1
    bad = []
    if result.get("error"):
        bad.append(result["error"])
    if result.get("started_after_s") is None:
        bad.append("never started playing")
    if result.get("fatal_errors"):
        bad.append("%d fatal hls.js errors" % result["fatal_errors"])
    if result.get("waiting_after_start"):
        bad.append("%d `waiting` after the start (a stall)" % result["waiting_after_start"])
    played, wall = result.get("played_s", 0), result.get("wall_s", 0)
    if wall and abs(played - wall) > 0.1 * wall:
        bad.append("played %.2f s of media in %.2f s" % (played, wall))
    want = seconds * fps
    got = result.get("presented_frames", 0)
    if not 0.9 * want <= got <= 1.05 * want:
        bad.append("%d frames presented, want about %.0f (%.0f s x %g fps)" % (got, want, seconds, fps))
    result["expected_frames"] = want
    result["violations"] = bad
    result["ok"] = not bad
    print(json.dumps(result))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
