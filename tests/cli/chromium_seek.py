#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""chromium_seek.py WORKDIR VIDEO T1,T2,...: seeks headless Chromium to each time in turn
(in the order given), lets it present one frame, and compares that frame (80x45 RGB) with
the frame FFmpeg decodes at the same media time. Prints one line per seek; exits 0 when
Chromium raised no media error and every frame matches (mean absolute difference below
MAX_MAD: colour conversion differs by a few levels, a picture decoded with the wrong
parameter sets by tens), 1 otherwise.

The file is handed to the page as a Blob, so seeking does not depend on the test server
answering range requests."""
import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
from frame_compare import decode_frames, mad, nearest  # noqa: E402

W, H = 80, 45
MAX_MAD = 15.0

PAGE = """<!doctype html><html><body><video id="v" muted playsinline preload="auto"></video>
<canvas id="c" width="%d" height="%d"></canvas>
<script>
const v = document.getElementById('v'), c = document.getElementById('c');
const g = c.getContext('2d', {willReadFrequently: true});
const q = new URLSearchParams(location.search);
const post = body => fetch('/done', {method: 'POST', body: JSON.stringify(body)});
v.addEventListener('error', () =>
  post({error: v.error ? v.error.code + ' ' + v.error.message : 'unknown'}));
// The frame presented after a seek: play until Chromium presents one, draw it, pause.
const presented = () => new Promise(res => v.requestVideoFrameCallback((now, m) => {
  g.drawImage(v, 0, 0, c.width, c.height);
  v.pause();
  res(m.mediaTime);
}));
async function run() {
  const blob = await (await fetch(q.get('src'))).blob();
  v.src = URL.createObjectURL(blob);
  await new Promise(res => v.addEventListener('loadeddata', res, {once: true}));
  const out = [];
  for (const t of q.get('t').split(',').map(Number)) {
    v.currentTime = t;
    await new Promise(res => v.addEventListener('seeked', res, {once: true}));
    const shown = presented();
    await v.play();
    const mt = await Promise.race([shown, new Promise(res => setTimeout(() => res(-1), 5000))]);
    const px = g.getImageData(0, 0, c.width, c.height).data;
    let rgb = '';
    for (let i = 0; i < px.length; i += 4) rgb += String.fromCharCode(px[i], px[i + 1], px[i + 2]);
    out.push({t: t, media_time: mt, rgb: btoa(rgb)});
  }
  post({seeks: out, error: v.error ? v.error.code + ' ' + v.error.message : null});
}
run().catch(e => post({error: 'exception ' + e}));
</script></body></html>""" % (W, H)


def main():
    work, video, times = sys.argv[1], sys.argv[2], sys.argv[3]
    www = os.path.join(work, "seek_www")
    os.makedirs(www, exist_ok=True)
    shutil.copy(video, os.path.join(www, "v.mp4"))
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write(PAGE)
    result = {}
    done = threading.Event()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=www, **k)

        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            result.update(json.loads(self.rfile.read(n)))
            self.send_response(204)
            self.end_headers()
            done.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/index.html?src=v.mp4&t=%s" % (server.server_address[1], times)
    browser = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--user-data-dir=" + os.path.join(work, "seek_profile"),
         "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = done.wait(90)
    browser.kill()
    browser.wait()
    server.shutdown()
    if not finished:
        print("chromium: no result within 90 s")
        return 1
    if "seeks" not in result:
        print("chromium: media error:", result.get("error"))
        return 1

    pts, frames = decode_frames(video, W, H)
    size = W * H * 3
    bad = 0
    for s in result["seeks"]:
        mt = s["media_time"]
        if mt < 0:
            print("seek to %.3f s: chromium presented no frame" % s["t"])
            bad += 1
            continue
        got = base64.b64decode(s["rgb"])
        diff = mad(frames[nearest(pts, mt)], got)
        ok = len(got) == size and diff < MAX_MAD
        bad += not ok
        print("seek to %.3f s: chromium shows %.3f s, difference from FFmpeg's frame %.1f%s"
              % (s["t"], mt, diff, "" if ok else "  <-- wrong picture"))
    if result.get("error"):
        print("chromium: media error:", result["error"])
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
