#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hls_vod_play.py DIR FILE [--mp4] [--frames N] [--joins T1,T2] [--tone-level A]: plays
DIR/FILE (an HLS playlist through hls.js, or with --mp4 an MP4 in <video>) in headless
Chromium from the start to the end, and prints one JSON object: frames presented, `waiting`
events after the start, errors, hls.js's discontinuity counters, and, for every join time
given (seconds of media), the deepest 5 ms level of the audio the page heard within 60 ms
of it, in dB against the tones' steady level (--tone-level: the peak amplitude, ffmpeg's
sine source: 1/8).

The verdict: it started and ended, no fatal error, no `waiting` after the start, frames
presented within 5 % (and 2 frames) of --frames (the compositor's
count: a loaded machine drops a few), and with --max-dip D no join deeper than
D dB; with --grid T1:FPS,T2:FPS..., every presented frame's media time (the
requestVideoFrameCallback's mediaTime) from each Ti until the next lies on Ti + k / FPS
within 0.5 ms, and the first frame at or after Ti is at Ti (or up to three frames later,
when a busy machine missed those callbacks): where the player put each
part's pictures, so a wrongly mapped discontinuity shows.

With --seek T1,T2,... --parts S1:FILE1,S2:FILE2,... it seeks instead, to each time in turn
(backwards too), and judges the first picture presented after each seek against FFmpeg's
decode of the part it falls in (FILEi, the source that the person's timeline shows from Si
on): the presented media time that of the frame showing at the time sought (seeked while
paused; when no picture comes paused, it plays: up to three frames later), its
part's picture at that media time (mean absolute difference of 64x112 RGB below 15, and
nearer to it than to the other parts' pictures at the same place and to the frames beside
it), and playback resuming (the clock 0.3 s past it within 5 s). Exit 0 when clean, 1 with the reasons in "violations", 77 when Chromium or hls.js is
not there. hls.js comes from tests/live/hls_js_play.py's cache (~/.cache/vidpipe-npm)."""
import argparse
import base64
import http.server
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "live"))
sys.dont_write_bytecode = True
import hls_js_play  # noqa: E402  (find_hls_js: the one npm cache of the tests)
from frame_compare import decode_frames, mad, nearest  # noqa: E402

SEEK_W, SEEK_H = 128, 224  # the test media's size: no scaling on either side
MAX_MAD = 15.0            # colour conversion differs by a few levels, another picture by tens


def play(root, name, mp4=False, seek=None):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        return {"skipped": "chromium is not installed"}, None, 77
    js, why = hls_js_play.find_hls_js()
    if not js:
        return {"skipped": why}, None, 77
    result, got = {}, {}
    done = threading.Event()
    files = {"/player.html": os.path.join(HERE, "hls_vod_player.html"), "/hls.min.js": js}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, body, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if path in files:
                fn = files[path]
            elif path.startswith("/media/") and "/.." not in path:
                fn = os.path.join(root, path[7:])
            else:
                return self.reply(404, b"", "text/plain")
            try:
                with open(fn, "rb") as f:
                    body = f.read()
            except OSError:
                return self.reply(404, b"", "text/plain")
            ctype = {"html": "text/html", "js": "application/javascript",
                     "m3u8": "application/vnd.apple.mpegurl"}.get(fn.rsplit(".", 1)[-1],
                                                                  "video/mp4")
            self.reply(200, body, ctype)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(n)
            if self.path == "/pcm":
                got["pcm"] = body
            else:
                result.update(json.loads(body))
                done.set()
            self.send_response(204)
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    work = tempfile.mkdtemp(prefix="vp-hlsvod-")
    page = "http://127.0.0.1:%d/player.html?%s" % (port, urllib.parse.urlencode(
        dict({"src": "http://127.0.0.1:%d/media/%s" % (port, name), "mp4": "1" if mp4 else "0"},
             **({"seek": seek, "w": SEEK_W, "h": SEEK_H} if seek else {}))))
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--mute-audio", "--disable-background-timer-throttling",
         "--disable-renderer-backgrounding", "--user-data-dir=" + os.path.join(work, "p"),
         "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0", page],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = done.wait(75)
    browser.kill()
    browser.wait()
    server.shutdown()
    shutil.rmtree(work, ignore_errors=True)
    if not finished:
        result = {"started": False, "fatal": True, "errors": ["no report within 75 s"]}
    pcm = got.get("pcm", b"")
    samples = struct.unpack("<%df" % (len(pcm) // 4), pcm[:len(pcm) // 4 * 4])
    return result, samples, 0


def media_to_index(blocks, t):
    """The captured sample index where media time @t played (blocks: [index, media time] at
    each captured block; the nearest block before, plus the time since at 1x)."""
    best = None
    for idx, mt in blocks:
        if mt <= t:
            best = (idx, mt)
    if best is None:
        return None
    return best[0] + int(round((t - best[1]) * 48000))


def dips(result, pcm, joins, level):
    """Deepest 5 ms RMS within 60 ms of each join, dB against a steady tone of @level."""
    want = level / math.sqrt(2)
    out = []
    for t in joins:
        c = media_to_index(result.get("blocks", []), t)
        if c is None:
            out.append(None)
            continue
        w = 240
        worst = 0.0
        for s in range(c - 2880, c + 2880 - w, 48):
            if s < 0 or s + w > len(pcm):
                continue
            e = math.sqrt(sum(x * x for x in pcm[s:s + w]) / w)
            worst = min(worst, 20 * math.log10(max(e, 1e-10) / want))
        out.append(round(worst, 1))
    return out


def grid_check(mts, spec):
    """Each part's presented media times @mts on its grid (see --grid); (rows, faults)."""
    grid = [tuple(float(v) for v in g.split(":")) for g in spec.split(",") if g]
    rows, faults = [], []
    for k, (t, fps) in enumerate(grid):
        t_next = grid[k + 1][0] if k + 1 < len(grid) else 1e9
        part = [m for m in mts if t - 0.0005 <= m < t_next - 0.0005]
        off = [(m - t) * fps for m in part]
        worst = max((abs(o - round(o)) / fps for o in off), default=None)
        first = part[0] - t if part else None
        rows.append({"at": t, "frames": len(part),
                     "first_ms": None if first is None else round(first * 1000, 3),
                     "worst_ms": None if worst is None else round(worst * 1000, 3)})
        # a busy machine may miss the callbacks of a part's first pictures (or drop them at
        # a decoder change): a later one then comes first, still on the grid
        if not part or worst > 0.0005 or not -0.0005 <= first <= 3 / fps + 0.0005:
            faults.append("the pictures from %.6f s are not on its %g fps grid (first at "
                          "%s ms, worst %s ms off)" % (t, fps, rows[-1]["first_ms"],
                                                       rows[-1]["worst_ms"]))
    return rows, faults


def seek_check(seeks, parts):
    """Judges the seeks the page made (see --seek) against FFmpeg's decode of @parts
    [(start, file)]; (rows, faults)."""
    refs = []
    for start, fn in parts:
        pts, frames = decode_frames(fn, SEEK_W, SEEK_H)
        refs.append((start, [p - pts[0] for p in pts], frames))
    rows, faults = [], []
    for s in seeks:
        t, mt = s["t"], s["media_time"]
        row = {"t": t, "media_time": mt, "seek_ms": s.get("seek_ms"),
               "resume_ms": s.get("resume_ms")}
        rows.append(row)
        if not s.get("seeked") or mt < 0:
            faults.append("seek to %.3f s: %s" % (t, "no `seeked`" if not s.get("seeked")
                                                  else "no picture presented"))
            continue
        k = max(i for i, (st, _, _) in enumerate(refs) if st <= mt + 0.0005 or i == 0)
        start, pts, frames = refs[k]
        dur = pts[1] - pts[0] if len(pts) > 1 else 0.04
        got = base64.b64decode(s["rgb"])
        diffs = [mad(fr[nearest(p, mt - st)], got) for st, p, fr in refs]
        i = nearest(pts, mt - start)
        row.update(part=k, frame=i, mad=round(diffs[k], 1),
                   mad_other_parts=[round(d, 1) for j, d in enumerate(diffs) if j != k],
                   mad_frames_beside=[round(mad(frames[j], got), 1) for j in (i - 1, i + 1)
                                      if 0 <= j < len(frames)])
        # paused, the picture shown is the one whose time span holds the time sought;
        # played to a picture (none came while paused), up to three frames later
        lo, hi = (t - dur, t) if not s.get("played_to_present") else (t - dur, t + 3 * dur)
        row["played_to_present"] = bool(s.get("played_to_present"))
        if not lo - 0.0005 < mt <= hi + 0.0005:
            faults.append("seek to %.3f s presented the picture at %.3f s" % (t, mt))
        if diffs[k] >= MAX_MAD or min(diffs) < diffs[k] or \
                min(row["mad_frames_beside"], default=1e9) <= diffs[k]:
            faults.append("seek to %.3f s: the picture differs from part %d's frame %d at "
                          "%.3f s by %.1f (the other parts' by %s)"
                          % (t, k, row["frame"], mt, diffs[k], row["mad_other_parts"]))
        if s.get("resume_ms") is None:
            faults.append("seek to %.3f s: playback stalled at %s s after it"
                          % (t, s.get("resumed_to")))
    return rows, faults


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("file")
    ap.add_argument("--mp4", action="store_true")
    ap.add_argument("--frames", type=int)
    ap.add_argument("--joins", default="")
    ap.add_argument("--tone-level", type=float, default=0.125)
    ap.add_argument("--max-dip", type=float)
    ap.add_argument("--grid", default="")
    ap.add_argument("--save-times", help="write the presented media times here (JSON)")
    ap.add_argument("--save-pcm", help="write the audio the page heard here (f32le mono "
                    "48 kHz); \"capture_offset_s\" then says where media time 0 is in it")
    ap.add_argument("--place", default="", help="T1,T2,...: where each media time is in "
                    "the saved audio (\"placed\", seconds), from the blocks captured during "
                    "the following 0.2-1.0 s: a capture that lost or repeated a block (1024 "
                    "samples, an AAC frame's length) is placed right on both sides")
    ap.add_argument("--regrid", help="judge --grid on media times saved by --save-times, "
                    "without playing")
    ap.add_argument("--seek", default="", help="T1,T2,...: seek to each in turn (see above)")
    ap.add_argument("--parts", default="", help="S1:FILE1,...: with --seek, the sources of "
                    "the person's parts and where each starts on the timeline")
    ap.add_argument("--save-seeks", help="with --seek, write what the page reported here")
    ap.add_argument("--reseek", help="judge --seek and --parts on what --save-seeks wrote, "
                    "without playing")
    a = ap.parse_args()
    if a.seek:
        if a.reseek:
            with open(a.reseek) as f:
                result = json.load(f)
        else:
            result, _, code = play(a.dir, a.file, seek=a.seek)
            if code == 77:
                print(json.dumps(result))
                return 77
        if a.save_seeks:
            with open(a.save_seeks, "w") as f:
                json.dump({k: result.get(k) for k in ("seeks", "errors", "fatal")}, f)
        parts = [(float(p.split(":", 1)[0]), p.split(":", 1)[1]) for p in a.parts.split(",")]
        rows, faults = seek_check(result.get("seeks", []), parts)
        if result.get("fatal") or result.get("errors"):
            faults.append("errors: %s" % result.get("errors"))
        if len(rows) != len(a.seek.split(",")):
            faults.append("%d of %d seeks made" % (len(rows), len(a.seek.split(","))))
        print(json.dumps({"seeks": rows, "waiting": result.get("waiting"),
                          "violations": faults}, indent=1))
        for f in faults:
            print("hls_vod_play: " + f, file=sys.stderr)
        return 1 if faults else 0
    if a.regrid:
        with open(a.regrid) as f:
            rows, faults = grid_check(json.load(f), a.grid)
        print(json.dumps({"grid": rows, "violations": faults}))
        return 1 if faults else 0
    result, pcm, code = play(a.dir, a.file, a.mp4)
    if code == 77:
        print(json.dumps(result))
        return 77
    joins = [float(x) for x in a.joins.split(",") if x]
    result["join_dips_db"] = dips(result, pcm, joins, a.tone_level) if joins else []
    result["audio_seconds"] = round(len(pcm) / 48000, 3)
    blocks = result.pop("blocks", [])
    result["blocks"] = len(blocks)
    # media time t is at capture second t + offset: the median over the blocks captured
    # while playing (each block's index against the media time read when it came)
    offs = sorted(i / 48000 - t for i, t in blocks if t > 0.2)
    result["capture_offset_s"] = round(offs[len(offs) // 2], 6) if offs else None
    result["placed"] = []
    for t in [float(x) for x in a.place.split(",") if x]:
        near = sorted(i / 48000 - m for i, m in blocks if t + 0.2 <= m <= t + 1.0)
        o = near[len(near) // 2] if near else result["capture_offset_s"]
        result["placed"].append(None if o is None else round(t + o, 6))
    if a.save_pcm:
        with open(a.save_pcm, "wb") as f:
            f.write(struct.pack("<%df" % len(pcm), *pcm))
    faults = []
    mts = sorted(set(result.pop("media_times", [])))
    if a.save_times:
        with open(a.save_times, "w") as f:
            json.dump(mts, f)
    result["grid"], gf = grid_check(mts, a.grid)
    faults += gf
    if not result.get("started"):
        faults.append("never started: %s" % result.get("errors"))
    if result.get("fatal") or result.get("errors"):
        faults.append("errors: %s" % result.get("errors"))
    if not result.get("ended"):
        faults.append("did not play to the end (stopped at %s of %s s)"
                      % (result.get("current_time"), result.get("duration")))
    if result.get("waiting"):
        faults.append("%d `waiting` (stalls) at %s" % (result["waiting"], result["waiting_at"]))
    if a.frames is not None:
        f = result.get("frames", 0)
        if not (a.frames * 0.95 - 2 <= f <= a.frames + 2):
            faults.append("%d frames presented, the segments hold %d" % (f, a.frames))
    if a.max_dip is not None:
        for t, d in zip(joins, result["join_dips_db"]):
            if d is None or d < a.max_dip:
                faults.append("audio at the join at %.3f s dips to %s dB (limit %g)"
                              % (t, d, a.max_dip))
    result["violations"] = faults
    result["ok"] = not faults
    print(json.dumps(result, indent=1, sort_keys=True))
    for f in faults:
        print("hls_vod_play: " + f, file=sys.stderr)
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
