#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python module: cv2.VideoWriter's interface over libvidpipe, checked through the
decoded files (ffmpeg), the exceptions and messages, and what is left on disk."""
import contextlib
import io
import os
import resource
import signal
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("skipped: numpy is not installed for", sys.executable)
    sys.exit(77)

sys.path.insert(0, os.path.join(os.environ.get("VP_SRCDIR", "."), "python"))
import vidpipe  # noqa: E402

FAILS = 0
CHECKS = 0


def check(cond, what):
    global FAILS, CHECKS
    CHECKS += 1
    if not cond:
        FAILS += 1
        print("FAIL:", what, file=sys.stderr)


PATCHES = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (235, 235, 235),
           (20, 20, 20), (128, 128, 128), (220, 200, 40), (40, 190, 210)]


def scene_rgb(w, h):
    """Eight solid patches over a horizontal gradient, as an (h, w, 3) RGB array."""
    img = np.zeros((h, w, 3), np.uint8)
    for p, c in enumerate(PATCHES):
        x0, y0 = (p % 4) * w // 4, (p // 4) * h // 4
        img[y0:y0 + h // 4, x0:x0 + w // 4] = c
    ramp = (16 + np.arange(w) * 223 // (w - 1)).astype(np.uint8)
    img[h // 2:, :, 0] = ramp
    img[h // 2:, :, 1] = 255 - ramp
    img[h // 2:, :, 2] = 128
    return img


def decode(path, w, h):
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True).stdout
    check(len(raw) % (w * h * 3) == 0, "%s: decoded size %d" % (path, len(raw)))
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def check_colours(what, frames, expected, tol=5):
    for i, f in enumerate(frames):
        h, w = expected.shape[:2]
        for p in range(8):
            x0, y0 = (p % 4) * w // 4 + 4, (p // 4) * h // 4 + 4
            got = f[y0:y0 + h // 4 - 8, x0:x0 + w // 4 - 8].reshape(-1, 3).mean(0)
            exp = expected[y0 + 2, x0 + 2].astype(float)
            check(np.all(np.abs(got - exp) <= tol),
                  "%s frame %d patch %d: %s vs %s" % (what, i, p, got.round(1), exp))
        for b in range(8):
            x0, x1 = b * w // 8 + 2, (b + 1) * w // 8 - 2
            got = f[h // 2 + 4:h - 4, x0:x1].reshape(-1, 3).mean(0)
            exp = expected[h - 1, x0:x1].reshape(-1, 3).mean(0)
            check(np.all(np.abs(got - exp) <= tol),
                  "%s frame %d gradient bin %d: %s vs %s" % (what, i, b, got.round(1),
                                                             exp.round(1)))


def leftovers(d):
    return [n for n in os.listdir(d) if ".vptmp-" in n]


def test_cv2_style(d):
    w, h = 160, 96
    rgb = scene_rgb(w, h)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    path = os.path.join(d, "cv2style.mp4")
    out = vidpipe.VideoWriter(path, vidpipe.VideoWriter_fourcc(*"avc1"), 25, (w, h),
                              preset="ultrafast", crf=12, hw="none")
    check(out.isOpened(), "open: " + out.error)
    check(out.encoder == "libx264", "encoder " + out.encoder)
    for _ in range(6):
        check(out.write(bgr) is True, "write returns True")
    # A crop of a larger image (padded rows) and a non-contiguous view.
    big = np.zeros((h, w + 40, 3), np.uint8)
    big[:, :w] = bgr
    out.write(big[:, :w])
    out.write(rgb[:, :, ::-1])
    out.release()
    out.release()  # a second release is harmless, as in cv2
    check(not out.isOpened(), "closed after release")
    check(out.stats["frames"] == 8, "stats frames %s" % out.stats)
    check(out.stats["bytes"] == os.path.getsize(path), "stats bytes")
    frames = decode(path, w, h)
    check(len(frames) == 8, "decoded %d frames, wrote 8" % len(frames))
    check_colours("cv2-style bgr", frames, rgb)


def test_formats(d):
    w, h = 128, 64
    rgb = scene_rgb(w, h)
    gray_rgb = np.repeat(((rgb[:, :, 0].astype(int) * 2 + rgb[:, :, 1].astype(int) * 5 +
                           rgb[:, :, 2]) // 8).astype(np.uint8)[:, :, None], 3, axis=2)
    cases = {
        "rgb24": (rgb, rgb),
        "bgra": (np.dstack([rgb[:, :, ::-1], np.full((h, w), 9, np.uint8)]), rgb),
        "rgba": (np.dstack([rgb, np.full((h, w), 9, np.uint8)]), rgb),
        "gray": (gray_rgb[:, :, 0].copy(), gray_rgb),
    }
    for fmt, (frame, expected) in cases.items():
        path = os.path.join(d, fmt + ".mkv")
        with vidpipe.VideoWriter(path, "h264", 30, (w, h), pix_fmt=fmt, preset="ultrafast",
                                 crf=12, hw="none") as out:
            check(out.isOpened(), fmt + ": " + out.error)
            for _ in range(3):
                out.write(frame)
        frames = decode(path, w, h)
        check(len(frames) == 3, "%s: decoded %d frames" % (fmt, len(frames)))
        check_colours(fmt, frames, expected)
    # isColor=False takes gray frames, as cv2 does.
    path = os.path.join(d, "iscolor.mp4")
    out = vidpipe.VideoWriter(path, "avc1", 30, (w, h), False, preset="ultrafast", hw="none")
    out.write(gray_rgb[:, :, :1])
    out.release()
    check(len(decode(path, w, h)) == 1, "isColor=False")


def test_hevc_keywords(d):
    w, h = 64, 48
    path = os.path.join(d, "hevc.mp4")
    out = vidpipe.VideoWriter(path, "hvc1", 24000 / 1001, (w, h), preset="ultrafast",
                              hw="none", keyint=4, queue_depth=3)
    rgb = scene_rgb(w, h)
    for _ in range(10):
        out.write(np.ascontiguousarray(rgb[:, :, ::-1]))
    out.release()
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                            "stream=codec_name,r_frame_rate,nb_frames,codec_tag_string", "-of",
                            "csv=p=0", path], capture_output=True, text=True).stdout.strip()
    # 'hvc1' as asked (and as Safari and QuickTime need), not the muxer's default 'hev1'.
    check(probe == "hevc,hvc1,24000/1001,10", "hevc probe: " + probe)


def test_audio(d):
    w, h = 64, 48
    path = os.path.join(d, "audio.mp4")
    out = vidpipe.VideoWriter(path, "avc1", 25, (w, h), preset="ultrafast", hw="none",
                              audio_rate=48000, audio_channels=2)
    t = np.arange(48000) / 48000.0
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    stereo = np.stack([pcm, pcm], axis=1)
    frame = np.ascontiguousarray(scene_rgb(w, h)[:, :, ::-1])
    for i in range(25):
        out.write(frame)
        out.write_audio(stereo[i * 1920:(i + 1) * 1920])
    out.release()
    check(out.stats["audio_samples"] == 48000, "audio samples %s" % out.stats)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                            "stream=codec_name,channels,sample_rate", "-of", "csv=p=0", path],
                           capture_output=True, text=True).stdout.split()
    check(probe == ["h264", "aac,48000,2"], "audio probe: %s" % probe)
    # The tone survives AAC: its RMS (8000 / sqrt(2) ~ 5657) within a few percent.
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:a",
                          "-f", "s16le", "-ac", "1", "-"], capture_output=True).stdout
    dec = np.frombuffer(raw, np.int16).astype(float)
    check(abs(len(dec) - 48000) <= 1024, "decoded %d samples" % len(dec))
    rms = np.sqrt(np.mean(dec[4800:-4800] ** 2)) if len(dec) > 9600 else 0
    check(abs(rms - 8000 / np.sqrt(2)) < 300, "decoded tone RMS %.0f" % rms)


def test_errors(d):
    w, h = 64, 48
    path = os.path.join(d, "bad.mp4")
    out = vidpipe.VideoWriter(path, "avc1", 30, (w, h), preset="warp9")
    check(not out.isOpened(), "bad preset must not open")
    check("preset" in out.error and path in out.error, "bad preset message: " + out.error)
    try:
        out.write(np.zeros((h, w, 3), np.uint8))
        check(False, "write to an unopened writer must raise")
    except vidpipe.VidpipeError as e:
        check("preset" in str(e), "raised: %s" % e)

    out = vidpipe.VideoWriter(path, "avc1", 30, (63, h))
    check(not out.isOpened() and "width" in out.error, "odd width: " + out.error)

    # Options go through the library's table: its range, its message.
    out = vidpipe.VideoWriter(path, "avc1", 30, (w, h), queue_depth=1)
    check(not out.isOpened(), "queue_depth=1 must not open")
    check(out.error == path + ": queue_depth: value 1 is out of range 2..256",
          "queue_depth message: " + out.error)
    opts = {o["name"]: o for o in vidpipe.writer_options()}
    check(opts["crf"]["default"] == "23" and opts["crf"]["range"] == "0..51",
          "writer_options crf: %r" % opts.get("crf"))
    check(opts["fps"]["default"] == "30" and opts["preset"]["default"] == "medium",
          "writer_options fps, preset: %r %r" % (opts.get("fps"), opts.get("preset")))
    out = vidpipe.VideoWriter(path, "avc1", "30x", (w, h))
    check(out.error == path + ": fps: '30x' is not a frame rate (30, 29.97, 30000/1001, ntsc)",
          "bad fps message: " + out.error)

    # A fourcc the writer cannot encode: as cv2 for a fourcc it cannot write, a warning on
    # stderr, a writer that is not opened, write() that does nothing, no file.
    for fourcc, shown in [(vidpipe.VideoWriter_fourcc(*"MJPG"), "0x47504a4d/'MJPG'"),
                          (vidpipe.VideoWriter_fourcc(*"XVID"), "0x44495658/'XVID'"),
                          ("mjpg", "'mjpg'")]:
        avi = os.path.join(d, "cv2.avi")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            out = vidpipe.VideoWriter(avi, fourcc, 30, (w, h))
        check(not out.isOpened(), "%s must not open" % shown)
        check(err.getvalue() == "vidpipe: %s: fourcc %s is not supported: the writer encodes "
              "H.264 (avc1) and HEVC (hvc1)\n" % (avi, shown), "stderr: %r" % err.getvalue())
        check(out.write(np.zeros((h, w, 3), np.uint8)) is False, "%s: write" % shown)
        out.release()
        check(not os.path.exists(avi), "%s: a file was left" % shown)
    try:
        vidpipe.VideoWriter(path, None, 30, (w, h), codec="mjpg")
        check(False, "codec= naming no codec must raise")
    except ValueError as e:
        check("mjpg" in str(e), "codec message: %s" % e)

    out = vidpipe.VideoWriter(os.path.join(d, "nodir", "x.mp4"), "avc1", 30, (w, h))
    check(not out.isOpened() and "No such file" in out.error, "missing dir: " + out.error)

    if not os.path.exists("/dev/nvidia0"):
        out = vidpipe.VideoWriter(path, "avc1", 30, (w, h), hw="nvenc")
        check(not out.isOpened() and "nvenc unavailable" in out.error,
              "hw=nvenc: " + out.error)

    out = vidpipe.VideoWriter(path, "avc1", 30, (w, h), hw="none", preset="ultrafast")
    try:
        out.write(np.zeros((h, w + 2, 3), np.uint8))
        check(False, "wrong shape must raise")
    except ValueError as e:
        check("shape" in str(e), "shape message: %s" % e)
    try:
        out.write(np.zeros((h, w, 3), np.float32))
        check(False, "float frame must raise")
    except ValueError as e:
        check("uint8" in str(e), "dtype message: %s" % e)
    out.release()
    check(out.stats["frames"] == 0, "no frame written")
    check(leftovers(d) == [], "temporary files left: %s" % leftovers(d))
    # No frame, no file (finishing would leave a 262-byte MP4 with no stream, as cv2 4.6
    # does, that players refuse).
    check(not os.path.exists(path), "release() with no frame left %s" % path)


def test_properties(d):
    w, h = 64, 48
    check((vidpipe.VIDEOWRITER_PROP_QUALITY, vidpipe.VIDEOWRITER_PROP_FRAMEBYTES,
           vidpipe.VIDEOWRITER_PROP_NSTRIPES, vidpipe.VIDEOWRITER_PROP_IS_COLOR,
           vidpipe.VIDEOWRITER_PROP_DEPTH, vidpipe.VIDEOWRITER_PROP_HW_ACCELERATION,
           vidpipe.VIDEOWRITER_PROP_HW_DEVICE,
           vidpipe.VIDEOWRITER_PROP_KEY_INTERVAL) == (1, 2, 3, 4, 5, 6, 7, 10),
          "cv2's property ids")
    path = os.path.join(d, "props.mp4")
    out = vidpipe.VideoWriter(path, "avc1", 30, (w, h), False, preset="ultrafast", hw="none",
                              threads=2, keyint=12)
    got = {p: out.get(p) for p in (1, 2, 3, 4, 5, 6, 7, 10, 99)}
    check(got == {1: 0.0, 2: 0.0, 3: 2.0, 4: 0.0, 5: 0.0, 6: 0.0, 7: -1.0, 10: 12.0, 99: 0.0},
          "get, gray writer: %s" % got)
    check(out.set(vidpipe.VIDEOWRITER_PROP_QUALITY, 50) is False, "set QUALITY")
    check(out.set(vidpipe.VIDEOWRITER_PROP_NSTRIPES, 4) is False and
          out.get(vidpipe.VIDEOWRITER_PROP_NSTRIPES) == 2.0, "set NSTRIPES changes nothing")
    out.write(np.zeros((h, w), np.uint8))
    out.release()
    check(out.get(vidpipe.VIDEOWRITER_PROP_IS_COLOR) == 0.0, "get after release")
    out = vidpipe.VideoWriter(path, "avc1", 30, (w, h), preset="ultrafast", hw="none")
    check(out.get(vidpipe.VIDEOWRITER_PROP_IS_COLOR) == 1.0 and
          out.get(vidpipe.VIDEOWRITER_PROP_NSTRIPES) == -1.0 and
          out.get(vidpipe.VIDEOWRITER_PROP_KEY_INTERVAL) == 0.0,
          "get, colour writer with defaults: %s %s" % (out.get(4), out.get(3)))
    out.release()


def fill_disk_child(path):
    """Runs in a child: the file size limit stands in for a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, 200 * 1024))
    out = vidpipe.VideoWriter(path, "avc1", 30, (320, 240), crf=0, preset="ultrafast",
                              hw="none")
    rng = np.random.default_rng(1)
    try:
        for _ in range(400):
            out.write(rng.integers(0, 256, (240, 320, 3), np.uint8))
    except vidpipe.VidpipeError as e:
        print("write:", e)
    try:
        out.release()
    except vidpipe.VidpipeError as e:
        print("release:", e)


def test_write_failure(d):
    path = os.path.join(d, "full.mp4")
    r = subprocess.run([sys.executable, __file__, "--fill-disk", path], capture_output=True,
                       text=True, env=os.environ)
    lines = r.stdout.splitlines()
    check(len(lines) == 2 and lines[0].startswith("write: " + path) and
          "File too large" in lines[0] and lines[1].startswith("release: " + path) and
          "File too large" in lines[1], "disk full: %r %r" % (r.stdout, r.stderr))
    check(not os.path.exists(path) and leftovers(d) == [], "nothing left after a failure")


def test_nonblocking(d):
    w, h = 640, 360
    path = os.path.join(d, "nonblock.mp4")
    out = vidpipe.VideoWriter(path, "avc1", 30, (w, h), preset="slow", hw="none",
                              queue_depth=2, threads=1, blocking=False)
    frame = np.ascontiguousarray(scene_rgb(w, h)[:, :, ::-1])
    results = [out.write(frame) for _ in range(30)]
    # block=True waits for room instead, on the same writer.
    results += [out.write(frame, block=True) for _ in range(3)]
    check(results[-3:] == [True] * 3, "block=True waits for room")
    out.release()
    check(False in results, "a full queue returns False")
    check(out.stats["frames"] == results.count(True),
          "frames %d, accepted %d" % (out.stats["frames"], results.count(True)))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--fill-disk":
        fill_disk_child(sys.argv[2])
        return 0
    with tempfile.TemporaryDirectory(prefix="vp_writer_py_") as d:
        test_cv2_style(d)
        test_formats(d)
        test_hevc_keywords(d)
        test_audio(d)
        test_errors(d)
        test_properties(d)
        test_write_failure(d)
        test_nonblocking(d)
    print("%d checks, %d failed" % (CHECKS, FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
