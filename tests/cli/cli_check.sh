#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe check through the CLI: verdicts, one line per difference, exit codes.
. "$VP_SRCDIR/tests/cli/lib.sh"

V="-f lavfi -i testsrc2=s=320x240:r=24:d=2"
S="-f lavfi -i sine=r=48000:d=2"
REF=$(media cc_ref.mp4 $V $S -c:v libx264 -preset ultrafast -g 24 -c:a aac -shortest)
# Same shape, other encoder settings (profile, SPS/PPS) and another time base: joinable.
OTHER=$(media cc_other.mp4 $V $S -c:v libx264 -preset medium -profile:v main -crf 30 \
    -video_track_timescale 90000 -c:a aac -shortest)
NOAUDIO=$(media cc_noaudio.mp4 $V -c:v libx264 -preset ultrafast -g 24)
BIG=$(media cc_big.mp4 -f lavfi -i testsrc2=s=640x480:r=30:d=1 $S -c:v libx264 \
    -preset ultrafast -c:a aac -ar 44100 -shortest)
AUDIO=$(media cc_audio.m4a $S -c:a aac)

run "$VIDPIPE" check --help
assert_eq "$RC" 0 "check --help"
assert_contains "$OUT" "Exit status: 0 joinable, 1 not joinable, 2" "help documents exit codes"

run "$VIDPIPE" check "$REF" "$OTHER" "$NOAUDIO"
assert_eq "$RC" 0 "joinable set exits 0"
assert_contains "$OUT" "joinable: 3 files" "verdict line"
assert_contains "$OUT" "$OTHER: note: video.profile is Main, reference $REF has Constrained Baseline" \
    "profile difference is a note"
assert_contains "$OUT" "$OTHER: note: video.parameter_sets" "SPS/PPS difference is a note"
assert_contains "$OUT" "$OTHER: note: video.time_base is 1/90000, reference $REF has 1/12288" \
    "time base difference is a note"
assert_contains "$OUT" "$NOAUDIO: note: streams.audio is no audio" "missing audio is a note"

run "$VIDPIPE" check --errors-only "$REF" "$OTHER"
assert_eq "$OUT" "joinable: 2 files, 4 notes" "--errors-only hides notes"

run "$VIDPIPE" check "$REF" "$BIG"
assert_eq "$RC" 1 "not joinable exits 1"
assert_contains "$OUT" "$BIG: error: video.resolution is 640x480, reference $REF has 320x240" \
    "resolution error line"
assert_contains "$OUT" "$BIG: error: video.frame_rate is 30 fps, reference $REF has 24 fps" \
    "frame rate error line"
assert_contains "$OUT" "$BIG: error: audio.sample_rate is 44100 Hz, reference $REF has 48000 Hz" \
    "sample rate error line"
assert_contains "$OUT" "not joinable: 1 of 1 files" "verdict"

# --ref: the reference need not be among the files.
run "$VIDPIPE" check --ref "$BIG" "$REF"
assert_eq "$RC" 1 "--ref exit"
assert_contains "$OUT" "$REF: error: video.resolution is 320x240, reference $BIG has 640x480" \
    "--ref is the reference"

# Audio-only and missing files: exit 2, one line each naming the file.
run "$VIDPIPE" check "$REF" "$AUDIO" "$WORK/nope.mp4"
assert_eq "$RC" 2 "unreadable exits 2"
assert_contains "$ERR" "$AUDIO: has no video stream" "audio-only named"
assert_contains "$ERR" "$WORK/nope.mp4: no such file or directory" "missing named"

# JSON
run "$VIDPIPE" check --json "$REF" "$BIG" "$OTHER"
assert_eq "$RC" 1 "json exit"
printf '%s' "$OUT" > "$WORK/c.json"
python3 - "$WORK/c.json" <<'PY' || fail "check JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["joinable"] is False and d["errors"] == 3, d
big = d["items"][1]
assert big["joinable"] is False
res = [x for x in big["differences"] if x["field"] == "video.resolution"][0]
assert res == {"severity": "error", "field": "video.resolution", "value": "640x480",
               "reference_value": "320x240", "conformable": True, "requirement": False}, res
assert d["items"][2]["joinable"] is True
PY
check

# Audio longer than the video is the file's own note: both lengths are the file's, not the
# reference's (the line once said "reference REF has video 1.000 s").
LONGAUDIO=$(media cc_longaudio.mp4 -f lavfi -i testsrc2=s=320x240:r=24:d=1 \
    -f lavfi -i sine=r=48000:d=2 -c:v libx264 -preset ultrafast -g 24 -c:a aac)
run "$VIDPIPE" check "$REF" "$LONGAUDIO"
assert_contains "$OUT" "$LONGAUDIO: note: audio.longer_than_video: audio 2.0" \
    "long audio: the file's audio length"
assert_contains "$OUT" ", video 1.000 s" "long audio: the file's video length"
assert_not_contains "$OUT" "reference $REF has video" "long audio: not the reference's"
run "$VIDPIPE" check --json "$REF" "$LONGAUDIO"
printf '%s' "$OUT" > "$WORK/long.json"
python3 - "$WORK/long.json" <<'PY' || fail "long audio JSON"
import json, sys
d = json.load(open(sys.argv[1]))
n = [x for x in d["items"][1]["differences"] if x["field"] == "audio.longer_than_video"][0]
assert n["value"].startswith("audio 2.0") and n["value"].endswith(", video 1.000 s"), n
assert n["reference_value"] is None, n
PY
check

# Many files through --list, probed in parallel.
: > "$WORK/many.txt"
i=0
while [ $i -lt 200 ]; do echo "$REF" >> "$WORK/many.txt"; i=$((i + 1)); done
run "$VIDPIPE" check -j 2 --list "$WORK/many.txt"
assert_eq "$RC" 0 "200 files exit"
assert_eq "$OUT" "joinable: 200 files, 0 notes" "200 files verdict"

run "$VIDPIPE" check "$REF"
assert_eq "$RC" 3 "one file is a usage error"
finish
