#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe export: several presets from one decode; fit + pad geometry, frame rate, CRF and
# bitrate cap, AAC; user presets; no-audio and bad inputs; existing outputs not redone.
. "$VP_SRCDIR/tests/cli/lib.sh"

src=$(toolbox_av)
noaudio=$(toolbox_video)
audioonly=$(toolbox_audio)

# Small presets keep the test quick; the built-in ones are the same code with other numbers.
cat > "$WORK/presets.json" <<'EOF'
{"presets": [
  {"name": "wide", "base": "twitter", "width": 256, "height": 144, "fps": 24, "crf": 30,
   "x264_preset": "veryfast", "audio_bitrate": 64000},
  {"name": "tall", "base": "tiktok", "width": 144, "height": 256, "max_bitrate": 200000,
   "x264_preset": "veryfast"}
]}
EOF

run "$VIDPIPE" export --presets "$WORK/presets.json" --list-presets
assert_contains "$OUT" "youtube        1920x1080     30   18 slow            8000" "built-in youtube"
assert_contains "$OUT" "fast_draft     1280x720      24   28 ultrafast" "built-in fast_draft"
assert_contains "$OUT" "tall           144x256" "user preset listed"

run "$VIDPIPE" export "$src" --presets "$WORK/presets.json" --preset wide,tall -o "$WORK/x" --json
assert_eq "$RC" 0 "export exit"
assert_eq "$ERR" "" "export stderr"
v=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries \
    stream=codec_name,width,height,pix_fmt,r_frame_rate,nb_read_frames,sample_aspect_ratio \
    -of csv=p=0 "$WORK/x/tb_av_wide.mp4")
assert_eq "$v" "h264,256,144,1:1,yuv420p,24/1,144" "wide: 256x144 at 24 fps"
v=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries \
    stream=width,height,r_frame_rate,nb_read_frames -of csv=p=0 "$WORK/x/tb_av_tall.mp4")
assert_eq "$v" "144,256,30/1,180" "tall: 144x256 at 30 fps"
a=$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name,bit_rate -of csv=p=0 \
    "$WORK/x/tb_av_wide.mp4")
assert_near "${a#aac,}" 64000 12000 "wide: AAC at 64 kb/s"
sei=$(strings "$WORK/x/tb_av_tall.mp4" | grep -m1 'x264 - core' || true)
assert_contains "$sei" "crf=23.0" "tall: CRF from its base preset"
assert_contains "$sei" "vbv_maxrate=200" "tall: bitrate cap"

# Fit and pad: 4:3 in a 144x256 frame is 144x108 in the middle, black above and below.
bands=$(ffmpeg -nostdin -v error -i "$WORK/x/tb_av_tall.mp4" -frames:v 1 -f rawvideo -pix_fmt gray - | python3 -c '
import sys
d = sys.stdin.buffer.read(); w = 144
row = lambda y: sum(d[y * w:(y + 1) * w]) / w
print("black" if row(10) < 20 and row(245) < 20 else "not-black", "picture" if row(128) > 40 else "empty")')
assert_eq "$bands" "black picture" "tall: padded above and below"
bands=$(ffmpeg -nostdin -v error -i "$WORK/x/tb_av_wide.mp4" -frames:v 1 -f rawvideo -pix_fmt gray - | python3 -c '
import sys
d = sys.stdin.buffer.read(); w = 256
col = lambda x: sum(d[y * w + x] for y in range(144)) / 144
print("black" if col(5) < 20 and col(250) < 20 else "not-black", "picture" if col(128) > 40 else "empty")')
assert_eq "$bands" "black picture" "wide: padded left and right"
j=$(echo "$OUT" | python3 -c 'import json,sys; o=json.load(sys.stdin)["items"][0]["outputs"]; print(" ".join("%s:%d:%s" % (x["preset"], x["frames"], x["has_audio"]) for x in o))')
assert_eq "$j" "wide:144:True tall:180:True" "--json outputs"

# The overwrite rule (vidpipe(1)): one input's existing export is refused without -y, and
# -n leaves it as it is (it used to be skipped silently, whatever the settings).
m1=$(stat -c %Y "$WORK/x/tb_av_wide.mp4")
sleep 1
run "$VIDPIPE" export "$src" --presets "$WORK/presets.json" --preset wide -o "$WORK/x"
assert_eq "$RC" 3 "re-run exit: refused"
assert_eq "$ERR" "vidpipe: $WORK/x/tb_av_wide.mp4: already exists (use -y to overwrite)" \
    "re-run: one line"
run "$VIDPIPE" export -n "$src" --presets "$WORK/presets.json" --preset wide -o "$WORK/x"
assert_eq "$RC" 0 "re-run -n exit"
assert_eq "$(stat -c %Y "$WORK/x/tb_av_wide.mp4")" "$m1" "complete export not redone"

# No audio in, no audio out.
run "$VIDPIPE" export "$noaudio" --presets "$WORK/presets.json" --preset wide -o "$WORK/x"
assert_eq "$RC" 0 "no-audio exit"
s=$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$WORK/x/tb_v_wide.mp4" | tr '\n' ' ')
assert_eq "$s" "video " "no-audio export has no audio"

# Bad input and bad presets.
run "$VIDPIPE" export "$audioonly" --presets "$WORK/presets.json" --preset wide -o "$WORK/y"
assert_eq "$RC" 2 "audio-only exit"
assert_eq "$ERR" "vidpipe: $audioonly: has no video stream" "audio-only message"
assert_eq "$(ls -A "$WORK/y")" "" "nothing left for a bad input"
run "$VIDPIPE" export "$src" --preset nope -o "$WORK/y"
assert_eq "$RC" 3 "unknown preset exit"
assert_contains "$ERR" "unknown preset 'nope'" "unknown preset message"
printf '{"presets": [{"name": "z", "crf": 70}]}' > "$WORK/bad.json"
run "$VIDPIPE" export "$src" --presets "$WORK/bad.json" --preset z -o "$WORK/y"
assert_eq "$RC" 3 "bad preset file exit"
assert_eq "$ERR" "vidpipe: $WORK/bad.json: preset \"z\": crf: value 70 is out of range 0..51" \
    "bad preset file message"

# ---- --hw: every preset's encoder family, from the encode options table ----
mkdir -p "$WORK/hw"
run "$VIDPIPE" -v export "$src" --presets "$WORK/presets.json" -p wide -o "$WORK/hw" --hw auto
assert_eq "$RC" 0 "--hw auto: exit code"
assert_contains "$ERR" "_wide.mp4: encoder libx264 (not used: h264_nvenc: " "--hw auto: says why"
if [ ! -e /dev/dri ]; then
    run "$VIDPIPE" export "$src" --presets "$WORK/presets.json" -p wide,tall -o "$WORK/hwv" \
        --hw vaapi
    assert_eq "$RC" 4 "--hw vaapi: exit code (the output's fault)"
    assert_eq "$ERR" "vidpipe: $WORK/hwv/$(basename "${src%.*}")_wide.mp4: hardware encoder vaapi \
unavailable: no VAAPI device (no GPU render node in /dev/dri)" "--hw vaapi: one line"
    assert_eq "$(ls -A "$WORK/hwv")" "" "--hw vaapi: nothing left"
fi
run "$VIDPIPE" export "$src" -p twitter -o "$WORK/hw" --hw warp
assert_eq "$RC" 3 "--hw warp: exit code"
assert_contains "$ERR" "export: --hw: 'warp' is not one of auto, none," "--hw warp: message"

finish
