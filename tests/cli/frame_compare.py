# SPDX-License-Identifier: LGPL-2.1-or-later
"""Frames FFmpeg decodes, to compare with what Chromium presented (tests/cli/chromium_seek.py,
tests/cli/hls_vod_play.py --seek): every picture of a file scaled to W x H RGB, with its
presentation time, and the mean absolute difference of two such pictures."""
import subprocess


def decode_frames(path, w, h):
    """(pts, frames): each decoded picture's presentation time (seconds, as ffprobe reads it)
    and its pixels, W x H RGB24 bytes scaled by area averaging, in presentation order."""
    pts = [float(x) for x in subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time",
         "-of", "csv=p=0", path], capture_output=True, text=True,
        check=True).stdout.replace(",", " ").split()]
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-vf",
         "scale=%d:%d:flags=area,format=rgb24" % (w, h), "-fps_mode", "passthrough",
         "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    size = w * h * 3
    frames = [raw[i * size:(i + 1) * size] for i in range(len(raw) // size)]
    return pts[:len(frames)], frames


def nearest(pts, t):
    """The index of the picture presented at @t: the one whose time is nearest."""
    return min(range(len(pts)), key=lambda k: abs(pts[k] - t))


def mad(a, b):
    """Mean absolute difference of two pictures of one size, per channel sample (0..255);
    infinite when the sizes differ."""
    if len(a) != len(b) or not a:
        return float("inf")
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)
