#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hls_js_play.py URL [--seconds N] [--fps F] [--work DIR] [--hlsjs DIR] [--proxy]: plays a
live HLS URL with hls.js in headless Chromium for N seconds after playback starts, judges
what a viewer saw and prints one JSON object:

  {"started", "startup_s", "frames" (presented, by requestVideoFrameCallback's counter),
   "wall_s", "media_advance_s", "waiting" (events after start), "waiting_at", "errors"
   (hls.js and <video> errors, "fatal ..." first), "fatal", "dropped", "fragments",
   "discontinuities" (hls.js's cc values seen), "playlist_reloads", "live_latency_s",
   "longest_frame_gap_ms", "start_date", "end_date" (the EXT-X-PROGRAM-DATE-TIME of the
   first and last position played, so a caller can count the schedule boundaries played),
   "events", "hls_version", "src", "seconds", "expected_frames", "violations", "ok"}

The verdict: playback started, no fatal error, no `waiting` after the start, the media time
played within 10 % of the wall time, and the frames presented within -10 %/+5 % of wall
time x F (default 25). Exit 0 when clean, 1 with the reasons in "violations", 77 when
Chromium or hls.js is not available (meson's "skipped").

The page (tests/live/hls_player.html) and hls.min.js are served from a local origin, so the
stream is fetched cross-origin as a web player on another site would (the server must send
Access-Control-Allow-Origin); --proxy fetches it through the local origin instead, for
servers without CORS (python3 -m http.server).

hls.js comes from npm, installed once outside the tree: --hlsjs DIR, else $VP_NPM_DIR, else
~/.cache/vidpipe-npm (`npm install --prefix DIR hls.js@1`).

--self-test: plays a live HLS that FFmpeg makes here (ffmpeg -re testsrc, -f hls with
delete_segments) and requires the verdict above: the helper checked against a known-good
stream. --window-test TEST_LIVE_HLS: the channels' HLS window fed real MPEG-TS (below)."""
import argparse
import glob
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def find_hls_js(d=None):
    d = d or os.environ.get("VP_NPM_DIR") or os.path.expanduser("~/.cache/vidpipe-npm")
    js = os.path.join(d, "node_modules", "hls.js", "dist", "hls.min.js")
    if not os.path.exists(js):
        if not shutil.which("npm"):
            return None, "npm is not installed"
        os.makedirs(d, exist_ok=True)
        p = subprocess.run(["npm", "install", "--prefix", d, "--no-audit", "--no-fund",
                            "hls.js@1"], capture_output=True, text=True, timeout=120)
        if p.returncode or not os.path.exists(js):
            return None, "npm install hls.js failed: " + (p.stderr.strip().splitlines()
                                                          or ["?"])[-1]
    return js, None


def play(url, seconds, work=None, proxy=False, serve_dir=None, hlsjs=None):
    """Play @url (or, with serve_dir, "/live/<url>" served from that folder on the page's
    own origin) for @seconds; returns (result dict, exit code)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        return {"skipped": "chromium is not installed"}, 77
    hls_js, why = find_hls_js(hlsjs)
    if not hls_js:
        return {"skipped": why}, 77

    own_work = not work
    work = work or tempfile.mkdtemp(prefix="vp-hlsjs-")
    os.makedirs(work, exist_ok=True)
    result = {}
    done = threading.Event()
    upstream = urllib.parse.urlsplit(url)
    files = {"/player.html": os.path.join(HERE, "hls_player.html"), "/hls.min.js": hls_js}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, body, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path
            if path in files:
                with open(files[path], "rb") as f:
                    body = f.read()
                return self.reply(200, body, "text/html" if path.endswith(".html")
                                  else "application/javascript")
            if serve_dir and path.startswith("/live/") and "/.." not in path:
                try:
                    with open(os.path.join(serve_dir, path[6:]), "rb") as f:
                        body = f.read()
                except OSError:
                    return self.reply(404, b"not found", "text/plain")
                return self.reply(200, body, "application/vnd.apple.mpegurl"
                                  if path.endswith(".m3u8") else "video/mp2t")
            if proxy and path.startswith("/up/"):
                # the upstream server's path, as is (relative URIs resolve the same way)
                target = urllib.parse.urlunsplit((upstream.scheme, upstream.netloc,
                                                  self.path[3:], "", ""))
                try:
                    with urllib.request.urlopen(target, timeout=10) as r:
                        return self.reply(r.status, r.read(), r.headers.get(
                            "Content-Type", "application/octet-stream"))
                except urllib.error.HTTPError as e:
                    return self.reply(e.code, e.read(), "text/plain")
                except OSError as e:
                    return self.reply(502, str(e).encode(), "text/plain")
            self.reply(404, b"not found", "text/plain")

        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            result.update(json.loads(self.rfile.read(n)))
            self.send_response(204)
            self.end_headers()
            done.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    src = url
    if serve_dir:
        src = "http://127.0.0.1:%d/live/%s" % (port, url)
    elif proxy:
        src = "http://127.0.0.1:%d/up%s" % (port, urllib.parse.urlunsplit(
            ("", "", upstream.path, upstream.query, "")))
    page = "http://127.0.0.1:%d/player.html?%s" % (port, urllib.parse.urlencode(
        {"src": src, "seconds": seconds}))
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--mute-audio", "--disable-background-timer-throttling",
         "--disable-renderer-backgrounding", "--user-data-dir=" + os.path.join(work, "profile"),
         "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0", page],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = done.wait(seconds + 60)
    browser.kill()
    browser.wait()
    server.shutdown()
    if own_work:
        shutil.rmtree(work, ignore_errors=True)
    if not finished:
        result = {"started": False, "fatal": True,
                  "errors": ["no report from the page within %.0f s" % (seconds + 60)]}
    result["src"] = url
    return result, 0 if result.get("started") and not result.get("fatal") else 1


def judge(result, fps):
    """The faults a viewer would have seen in @result (see the module's doc)."""
    faults = []
    if not result.get("started"):
        faults.append("never started playing: %s" % (result.get("errors") or "no reason"))
        return faults
    if result.get("fatal"):
        faults.append("fatal error: %s" % result.get("errors"))
    if result.get("waiting"):
        faults.append("%d `waiting` after the start (a stall) at media time %s"
                      % (result["waiting"], result.get("waiting_at")))
    wall, played = result.get("wall_s", 0), result.get("media_advance_s", 0)
    if wall and abs(played - wall) > 0.1 * wall:
        faults.append("played %.2f s of media in %.2f s" % (played, wall))
    want = wall * fps
    result["expected_frames"] = round(want)
    if not 0.9 * want <= result.get("frames", 0) <= 1.05 * want + 2:
        faults.append("%d frames presented in %.1f s, want about %.0f (%g fps)"
                      % (result.get("frames", 0), wall, want, fps))
    return faults


def verdict(result, code, fps, faults=(), what="hls.js"):
    """Adds the judgement to @result, prints it as JSON; the exit code."""
    if code == 77:
        print(json.dumps(result, indent=1, sort_keys=True))
        return 77
    faults = judge(result, fps) + list(faults)
    result["violations"] = faults
    result["ok"] = not faults
    print(json.dumps(result, indent=1, sort_keys=True))
    for f in faults:
        print("%s: %s" % (what, f), file=sys.stderr)
    return 1 if faults else 0


def self_test(seconds):
    """A live HLS made here by FFmpeg (-re testsrc, 25 fps, 1 s segments, delete_segments)
    played for @seconds: it must start, never stall, and present about seconds x 25 frames."""
    fps = 25
    d = tempfile.mkdtemp(prefix="vp-hlsjs-live-")
    ff = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i",
         "testsrc=size=320x240:rate=%d" % fps, "-f", "lavfi", "-i",
         "sine=frequency=440:sample_rate=48000", "-t", str(seconds + 40), "-c:v", "libx264",
         "-preset", "ultrafast", "-g", str(fps), "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
         "-hls_flags", "delete_segments+program_date_time", os.path.join(d, "live.m3u8")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):         # three segments listed
            try:
                with open(os.path.join(d, "live.m3u8")) as f:
                    if f.read().count("#EXTINF") >= 3:
                        break
            except OSError:
                pass
            if ff.poll() is not None:
                print(json.dumps({"error": "ffmpeg exited: " + ff.stderr.read().decode()}))
                return 1
            time.sleep(0.1)
        result, code = play("live.m3u8", seconds, serve_dir=d)
    finally:
        ff.kill()
        ff.wait()
        shutil.rmtree(d, ignore_errors=True)
    faults = ["errors: %s" % result["errors"]] if result.get("errors") else []
    return verdict(result, code, fps, faults, "hls.js self-test")


def window_test(feeder, seconds):
    """The channels' HLS window (src/live/live_hls.c) over real MPEG-TS, played by hls.js:
    two items with different parameter sets (320x240 High, 256x144 Baseline, 1 s GOPs)
    alternate every 4 s through `test_live_hls --feed`; hls.js must play across the
    discontinuities without a stall, presenting about seconds x 25 frames, and every
    playlist the window wrote must pass hls_playlist_check.py."""
    sys.path.insert(0, HERE)
    sys.dont_write_bytecode = True       # no __pycache__ in the source tree
    import hls_playlist_check
    fps = 25
    d = tempfile.mkdtemp(prefix="vp-hlsjs-window-")
    feeder_proc = None
    try:
        files = []
        for name, src, prof, freq in (("a", "testsrc=size=320x240", "high", 440),
                                      ("b", "testsrc2=size=256x144", "baseline", 880)):
            os.makedirs(os.path.join(d, name))
            subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                 "%s:rate=%d" % (src, fps), "-f", "lavfi", "-i",
                 "sine=frequency=%d:sample_rate=48000" % freq, "-t", "4", "-c:v", "libx264",
                 "-preset", "ultrafast", "-profile:v", prof, "-g", str(fps), "-keyint_min",
                 str(fps), "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac",
                 "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
                 "-hls_segment_filename", os.path.join(d, name, "%d.ts"),
                 os.path.join(d, name, "index.m3u8")], check=True)
            segs = sorted(glob.glob(os.path.join(d, name, "*.ts")),
                          key=lambda p: int(os.path.basename(p)[:-3]))
            files += ["+" + segs[0]] + segs[1:]
        out = os.path.join(d, "out")
        os.makedirs(out)
        feeder_proc = subprocess.Popen([feeder, "--feed", out, str(seconds + 30)] + files)
        for _ in range(200):
            if os.path.exists(os.path.join(out, "live.m3u8")):
                break
            time.sleep(0.1)
        result, code = play("live.m3u8", seconds, serve_dir=out)
        feeder_proc.kill()
        feeder_proc.wait()
        snaps = []
        for f in sorted(glob.glob(os.path.join(out, "snaps", "*.m3u8"))):
            with open(f) as fh:
                snaps.append((os.path.basename(f), fh.read()))
        faults = hls_playlist_check.check_series(snaps, require_pdt=True,
                                                 uri_format="seg/{seq}.ts")
    finally:
        if feeder_proc and feeder_proc.poll() is None:
            feeder_proc.kill()
            feeder_proc.wait()
        shutil.rmtree(d, ignore_errors=True)
    result["playlists_checked"] = len(snaps)
    if len(result.get("discontinuities", [])) < 2:
        faults.append("hls.js saw discontinuity counters %s: no discontinuity crossed"
                      % result.get("discontinuities"))
    if result.get("errors"):
        faults.append("errors: %s" % result["errors"])
    if len(snaps) < 5:
        faults.append("only %d playlists written" % len(snaps))
    return verdict(result, code, fps, faults, "hls.js window test")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url", nargs="?")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--fps", type=float, default=25, help="the stream's frame rate (25)")
    ap.add_argument("--work", help="folder for the browser profile (default: a temporary one)")
    ap.add_argument("--hlsjs", help="npm prefix holding hls.js (default: $VP_NPM_DIR or "
                    "~/.cache/vidpipe-npm)")
    ap.add_argument("--proxy", action="store_true")
    ap.add_argument("--self-test", action="store_true",
                    help="play a live HLS FFmpeg makes here and check the counts")
    ap.add_argument("--window-test", metavar="TEST_LIVE_HLS",
                    help="play the channels' HLS window fed by `TEST_LIVE_HLS --feed`")
    a = ap.parse_args()
    if a.hlsjs:
        os.environ["VP_NPM_DIR"] = a.hlsjs
    if a.window_test:
        return window_test(a.window_test, a.seconds)
    if a.self_test:
        return self_test(a.seconds)
    if not a.url:
        ap.error("a URL is needed")
    result, code = play(a.url, a.seconds, a.work, a.proxy, hlsjs=a.hlsjs)
    return verdict(result, code, a.fps)


if __name__ == "__main__":
    sys.exit(main())
