#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vidpipe probe --json agrees with ffprobe, field by field, on a range of generated files."""
import json
import os
import subprocess
import sys
import tempfile

VIDPIPE = os.environ["VIDPIPE"]
MEDIA = os.environ["VP_MEDIA"]
os.makedirs(MEDIA, exist_ok=True)

failures = 0
checks = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg, file=sys.stderr)


def ffmpeg(name, args):
    """Generate MEDIA/name once (cached between tests of a build)."""
    path = os.path.join(MEDIA, name)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        fd, tmp = tempfile.mkstemp(dir=MEDIA, prefix=".tmp-", suffix="-" + name)
        os.close(fd)
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y"] + args + [tmp], check=True)
        os.replace(tmp, path)
    return path


V = ["-f", "lavfi", "-i"]
# (name, ffmpeg args): each exercises different fields.
CASES = [
    ("pv_h264_aac.mp4", V + ["testsrc2=s=320x240:r=25:d=2"] + V + ["sine=f=440:r=48000:d=2"]
     + ["-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "12", "-c:a", "aac", "-ac", "2",
        "-metadata:s:a", "language=eng", "-shortest"]),
    ("pv_baseline_mono.mp4", V + ["testsrc=s=176x144:r=15:d=2"] + V + ["sine=r=44100:d=2"]
     + ["-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "10", "-c:a", "aac", "-ac", "1",
        "-shortest"]),
    ("pv_ts.ts", V + ["testsrc2=s=320x240:r=30:d=2"] + V + ["sine=r=48000:d=2"]
     + ["-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-c:a", "aac", "-shortest",
        "-f", "mpegts"]),
    ("pv_51.mkv", V + ["testsrc2=s=320x240:r=24:d=2"] + V
     + ["sine=r=48000:d=2,pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"]
     + ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"]),
    ("pv_anamorphic.mp4", V + ["testsrc2=s=352x288:r=25:d=1"]
     + ["-vf", "setsar=16/11", "-c:v", "libx264", "-preset", "ultrafast"]),
    ("pv_interlaced.mp4", V + ["testsrc2=s=320x240:r=25:d=1"]
     + ["-c:v", "libx264", "-preset", "ultrafast", "-flags", "+ildct+ilme", "-top", "1"]),
    ("pv_hevc.mp4", V + ["testsrc2=s=320x240:r=25:d=1"]
     + ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none",
        "-tag:v", "hvc1"]),
    ("pv_audio.m4a", V + ["sine=r=44100:d=2"] + ["-c:a", "aac", "-b:a", "96k"]),
    ("pv_mpeg4.avi", V + ["testsrc=s=320x240:r=25:d=1"] + V + ["sine=r=22050:d=1"]
     + ["-c:v", "mpeg4", "-c:a", "pcm_s16le", "-shortest"]),
]


# ffmpeg's metadata file: a title for the file and two chapters (the second untitled).
FFMETADATA = """;FFMETADATA1
title=Holiday = 2024
[CHAPTER]
TIMEBASE=1/1000
START=0
END=1200
title=Intro
[CHAPTER]
TIMEBASE=1/1000
START=1200
END=2000
"""


def make_tagged():
    """Tags (file and stream), chapters, and an HDR10-tagged 10-bit HEVC stream (MP4) or an
    H.264 one with other colour tags (Matroska, which also stores stream titles)."""
    meta = os.path.join(MEDIA, "pv_chapters.txt")
    with open(meta, "w") as f:
        f.write(FFMETADATA)
    common = V + ["testsrc2=s=320x240:r=25:d=2"] + ["-i", meta] + V + ["sine=r=48000:d=2"] + \
        ["-map", "0:v", "-map", "2:a", "-map_metadata", "1", "-map_chapters", "1",
         "-metadata", "creation_time=2024-05-01T10:00:00Z", "-metadata", "comment=take 3",
         "-metadata:s:a:0", "language=fra", "-metadata:s:v:0", "title=Cam A",
         "-c:a", "aac", "-shortest"]
    hdr = ffmpeg("pv_hdr_tags.mp4", common + [
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none",
        "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-color_primaries", "bt2020",
        "-color_trc", "smpte2084", "-colorspace", "bt2020nc", "-color_range", "tv"])
    mkv = ffmpeg("pv_tags.mkv", common + [
        "-c:v", "libx264", "-preset", "ultrafast", "-color_primaries", "bt709",
        "-color_trc", "arib-std-b67", "-colorspace", "bt709", "-color_range", "pc"])
    webm = ffmpeg("pv_vp9.webm", V + ["testsrc2=s=160x120:r=25:d=1"] + V + ["sine=r=48000:d=1"]
                  + ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus",
                     "-shortest"])
    return [hdr, mkv, webm]


def make_rotated():
    src = ffmpeg("pv_h264_aac.mp4", CASES[0][1])
    return ffmpeg("pv_rotated.mp4", ["-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90"])


def ffprobe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams",
                          "-show_chapters",
                          "-count_packets", "-count_frames", "-of", "json", path],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def vidpipe(path):
    r = subprocess.run([VIDPIPE, "probe", "--json", path], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{path}: vidpipe probe exited {r.returncode}: {r.stderr.strip()}")
        return None
    return json.loads(r.stdout)["items"][0]


def same(where, ours, theirs, tol=None):
    global checks
    checks += 1
    if tol is not None and not (ours is None and theirs is None):
        if ours is None or theirs is None or abs(float(ours) - float(theirs)) > tol:
            fail(f"{where}: vidpipe {ours!r} != ffprobe {theirs!r}")
    elif ours != theirs:
        fail(f"{where}: vidpipe {ours!r} != ffprobe {theirs!r}")


def num(v):
    return None if v in (None, "N/A") else float(v)


def intval(v):
    return None if v in (None, "N/A") else int(v)


def compare(path):
    ours = vidpipe(path)
    if ours is None:
        return
    ref = ffprobe(path)
    name = os.path.basename(path)
    f, rf = ours["format"], ref["format"]
    same(f"{name} format_name", f["format_name"], rf["format_name"])
    same(f"{name} format_long_name", f["format_long_name"], rf["format_long_name"])
    same(f"{name} size", f["size"], int(rf["size"]))
    same(f"{name} duration", f["duration"], num(rf.get("duration")), 1e-6)
    same(f"{name} start_time", f["start_time"], num(rf.get("start_time")), 1e-6)
    same(f"{name} bit_rate", f["bit_rate"], intval(rf.get("bit_rate")))
    same(f"{name} nb_streams", f["nb_streams"], rf["nb_streams"])
    same(f"{name} stream count", len(ours["streams"]), len(ref["streams"]))
    same(f"{name} tags", f["tags"], rf.get("tags", {}))
    rc = ref.get("chapters", [])
    same(f"{name} chapter count", len(ours["chapters"]), len(rc))
    for i, (c, r) in enumerate(zip(ours["chapters"], rc)):
        same(f"{name} chapter {i} start_time", c["start_time"], num(r.get("start_time")), 1e-6)
        same(f"{name} chapter {i} end_time", c["end_time"], num(r.get("end_time")), 1e-6)
        # MP4 stores an untitled chapter as "", Matroska stores nothing: both are null here
        same(f"{name} chapter {i} title", c["title"], r.get("tags", {}).get("title") or None)
    for s, r in zip(ours["streams"], ref["streams"]):
        w = f"{name} #{r['index']}"
        same(f"{w} index", s["index"], r["index"])
        same(f"{w} codec_type", s["codec_type"], r["codec_type"])
        same(f"{w} codec_name", s["codec_name"], r["codec_name"])
        tag = r.get("codec_tag_string")
        same(f"{w} codec_tag", s["codec_tag_string"] or "[0][0][0][0]", tag)
        same(f"{w} profile", s["profile"], r.get("profile"))
        same(f"{w} time_base", s["time_base"], r["time_base"])
        same(f"{w} start_pts", s["start_pts"], r.get("start_pts"))
        same(f"{w} start_time", s["start_time"], num(r.get("start_time")), 1e-6)
        same(f"{w} duration", s["duration"], num(r.get("duration")), 1e-6)
        same(f"{w} bit_rate", s["bit_rate"], intval(r.get("bit_rate")))
        if r.get("nb_read_packets") is not None or r["codec_type"] != "data":
            # (ffprobe reads no packet of MP4's chapter text track: the demuxer discards it)
            same(f"{w} nb_packets", s["nb_packets"], intval(r.get("nb_read_packets")))
        if intval(r.get("nb_frames")) is not None:
            same(f"{w} nb_frames", s["nb_frames"], intval(r.get("nb_frames")))
            same(f"{w} nb_frames_counted", s["nb_frames_counted"], False)
        elif r["codec_type"] == "video":
            # the container does not say: vidpipe counts packets, ffprobe decodes frames
            same(f"{w} nb_frames (counted)", s["nb_frames"], intval(r.get("nb_read_frames")))
            same(f"{w} nb_frames_counted", s["nb_frames_counted"], True)
        same(f"{w} language", s["language"], r.get("tags", {}).get("language"))
        same(f"{w} default", int(s["default"]), r["disposition"]["default"])
        same(f"{w} tags", s["tags"], r.get("tags", {}))
        if r["codec_type"] == "video":
            lvl = r.get("level")
            same(f"{w} level", s["level"], None if lvl == -99 else lvl)  # -99: unknown
            same(f"{w} width", s["width"], r["width"])
            same(f"{w} height", s["height"], r["height"])
            same(f"{w} sar", s["sample_aspect_ratio"], r.get("sample_aspect_ratio"))
            same(f"{w} dar", s["display_aspect_ratio"], r.get("display_aspect_ratio"))
            same(f"{w} pix_fmt", s["pix_fmt"], r.get("pix_fmt"))
            fo = r.get("field_order")
            same(f"{w} field_order", s["field_order"], None if fo == "unknown" else fo)
            for key in ("color_range", "color_space", "color_primaries", "color_transfer"):
                v = r.get(key)
                same(f"{w} {key}", s[key], None if v == "unknown" else v)
            same(f"{w} r_frame_rate", s["r_frame_rate"], r["r_frame_rate"])
            same(f"{w} avg_frame_rate", s["avg_frame_rate"], r["avg_frame_rate"])
            same(f"{w} video_delay", s["gop"]["video_delay"], r.get("has_b_frames"))
            rot = 0.0
            for sd in r.get("side_data_list", []):
                if "rotation" in sd:
                    rot = float(sd["rotation"])
            same(f"{w} rotation", s["rotation"], rot, 1e-6)
        if r["codec_type"] == "audio":
            same(f"{w} sample_rate", s["sample_rate"], int(r["sample_rate"]))
            same(f"{w} channels", s["channels"], r["channels"])
            same(f"{w} channel_layout", s["channel_layout"], r.get("channel_layout"))
            same(f"{w} sample_fmt", s["sample_fmt"], r.get("sample_fmt"))
    return ours


def main():
    paths = [ffmpeg(n, a) for n, a in CASES]
    paths.append(make_rotated())
    paths += make_tagged()
    results = {os.path.basename(p): compare(p) for p in paths}

    # GOP and priming facts, checked against what the generating commands asked for.
    def stream(name, kind):
        return next(s for s in results[name]["streams"] if s["codec_type"] == kind)

    v = stream("pv_h264_aac.mp4", "video")
    same("h264 starts_with_idr", v["gop"]["starts_with_idr"], True)
    same("h264 b_frames", v["gop"]["b_frames"], True)
    same("h264 keyint_max", v["gop"]["keyint_max"], 12)
    same("h264 keyframes", v["gop"]["keyframes"], 5)  # 50 frames, -g 12 -> 0,12,24,36,48
    same("h264 parameter_sets", v["gop"]["parameter_sets"], "header")
    same("h264 open_gop", v["gop"]["open_gop"], False)
    a = stream("pv_h264_aac.mp4", "audio")
    same("aac priming", a["priming_samples"], 1024)
    b = stream("pv_baseline_mono.mp4", "video")
    same("baseline b_frames", b["gop"]["b_frames"], False)
    same("baseline keyint", [b["gop"]["keyint_min"], b["gop"]["keyint_max"]], [10, 10])
    t = stream("pv_ts.ts", "video")
    same("ts parameter_sets", t["gop"]["parameter_sets"], "inband")
    same("ts keyframes", t["gop"]["keyframes"], 4)  # 60 frames, -g 15
    same("ts audio priming unknown", stream("pv_ts.ts", "audio")["priming_samples"], None)
    h = stream("pv_hevc.mp4", "video")
    same("hevc starts_with_idr", h["gop"]["starts_with_idr"], True)
    same("hevc parameter_sets", h["gop"]["parameter_sets"], "header")

    # What the generating commands wrote, so an ffprobe that loses them cannot hide a gap.
    hdr = stream("pv_hdr_tags.mp4", "video")
    same("hdr colour", [hdr[k] for k in ("color_primaries", "color_transfer", "color_space",
                                         "color_range")],
         ["bt2020", "smpte2084", "bt2020nc", "tv"])
    same("mkv colour", [stream("pv_tags.mkv", "video")[k] for k in
                        ("color_primaries", "color_transfer", "color_space", "color_range")],
         ["bt709", "arib-std-b67", "bt709", "pc"])
    for name in ("pv_hdr_tags.mp4", "pv_tags.mkv"):
        tags = {k.lower(): v for k, v in results[name]["format"]["tags"].items()}
        same(f"{name} title tag", tags.get("title"), "Holiday = 2024")
        same(f"{name} comment tag", tags.get("comment"), "take 3")
        same(f"{name} chapters", [(c["start_time"], c["end_time"], c["title"])
                                  for c in results[name]["chapters"]],
             [(0.0, 1.2, "Intro"), (1.2, 2.0, None)])
        same(f"{name} audio language", stream(name, "audio")["tags"].get("language"), "fra")
    same("mp4 creation_time", results["pv_hdr_tags.mp4"]["format"]["tags"].get("creation_time"),
         "2024-05-01T10:00:00.000000Z")
    same("mkv stream title", stream("pv_tags.mkv", "video")["tags"].get("title"), "Cam A")
    same("webm video duration unknown", stream("pv_vp9.webm", "video")["duration"], None)

    print(f"{checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
