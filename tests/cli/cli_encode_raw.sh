#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe encode-raw: raw frames from a pipe or a file to H.264, as a user sees it.
. "$VP_SRCDIR/tests/cli/lib.sh"

raw=$(media writer_64x48_bgr24.raw -f lavfi -i testsrc2=s=64x48:r=25 -frames:v 12 \
      -pix_fmt bgr24 -f rawvideo)
probe() { ffprobe -v error -select_streams v -show_entries stream="$2" -of csv=p=0 "$1"; }

# From a pipe, with an NTSC rate.
run sh -c "cat '$raw' | '$VIDPIPE' encode-raw -s 64x48 -r 29.97 --preset ultrafast '$WORK/a.mp4'"
assert_eq "$RC" 0 "pipe: exit code"
assert_contains "$OUT" "a.mp4: 12 frames, libx264" "pipe: summary line"
assert_eq "$(probe "$WORK/a.mp4" codec_name,width,height,r_frame_rate,nb_frames)" \
    "h264,64,48,30000/1001,12" "pipe: decoded stream"
assert_eq "$(ffmpeg -v error -i "$WORK/a.mp4" -f framecrc - | grep -c '^0,')" 12 \
    "pipe: frames that decode"
# -q: errors only, so no summary line either.
run "$VIDPIPE" -q encode-raw -s 64x48 -i "$raw" --preset ultrafast "$WORK/q.mp4"
assert_eq "$RC|$OUT|$ERR" "0||" "-q: exit 0, nothing printed"
[ -s "$WORK/q.mp4" ] || fail "-q: no output written"

# From a file, to MKV, with --json; hevc.
run "$VIDPIPE" encode-raw -s 64x48 -i "$raw" -c hevc --json "$WORK/b.mkv"
assert_eq "$RC" 0 "json: exit code"
assert_eq "$(echo "$OUT" | jq -r '.frames, .encoder' | tr '\n' ' ')" "12 libx265 " "json: fields"
assert_eq "$(probe "$WORK/b.mkv" codec_name)" "hevc" "json: codec"
# HEVC in MP4 and MOV is 'hvc1' with its parameter sets in the sample entry (hvcC), as
# Safari and QuickTime need; the muxer's default 'hev1' plays in neither.
for e in mp4 mov; do
    run "$VIDPIPE" encode-raw -s 64x48 -i "$raw" -c hevc --hw none "$WORK/h.$e"
    assert_eq "$RC" 0 "hevc .$e exit"
    assert_eq "$(probe "$WORK/h.$e" codec_name,codec_tag_string,nb_frames)" "hevc,hvc1,12" \
        "hevc .$e: tagged hvc1"
    assert_contains "$(box_paths "$WORK/h.$e")" "stsd/hvc1/hvcC" "hevc .$e: parameter sets in hvcC"
done

# -v names the encoder chosen and why the hardware ones were not.
run "$VIDPIPE" -v encode-raw -s 64x48 -i "$raw" --preset ultrafast "$WORK/c.mp4"
assert_contains "$ERR" "c.mp4: encoder libx264" "-v: encoder line"
if [ ! -e /dev/nvidia0 ]; then
    assert_contains "$ERR" "h264_nvenc: " "-v: nvenc reason"
    run "$VIDPIPE" encode-raw -s 64x48 -i "$raw" --hw nvenc "$WORK/d.mp4"
    assert_eq "$RC" 4 "--hw nvenc: exit code"
    assert_contains "$ERR" "vidpipe: $WORK/d.mp4: hardware encoder nvenc unavailable: no NVIDIA" \
        "--hw nvenc: message"
    assert_eq "$(ls -A "$WORK" | grep -c 'd.mp4')" 0 "--hw nvenc: nothing left"
fi

# An incomplete last frame is dropped with a warning, as ffmpeg does.
run sh -c "head -c 50000 '$raw' | '$VIDPIPE' encode-raw -s 64x48 --preset ultrafast '$WORK/e.mp4'"
assert_eq "$RC" 0 "partial frame: exit code"
assert_contains "$ERR" "input ends inside frame 6" "partial frame: warning"
assert_eq "$(probe "$WORK/e.mp4" nb_frames)" 5 "partial frame: complete frames kept"

# Bad input and bad options: one line, the right exit code, nothing left behind.
run "$VIDPIPE" encode-raw -s 64x48 -i "$WORK/missing.raw" "$WORK/f.mp4"
assert_eq "$RC" 2 "missing input: exit code"
assert_eq "$ERR" "vidpipe: $WORK/missing.raw: No such file or directory" "missing input: message"
run sh -c "printf abc | '$VIDPIPE' encode-raw -s 64x48 '$WORK/f.mp4'"
assert_eq "$RC" 2 "empty input: exit code"
assert_contains "$ERR" "no complete frame of 64x48 bgr24" "empty input: message"
run "$VIDPIPE" encode-raw -s 63x48 -i "$raw" "$WORK/f.mp4"
assert_eq "$RC" 3 "odd width: exit code"
assert_eq "$ERR" "vidpipe: encode-raw: --size: value 63x48 is out of range 2x2..16384x16384, even sides" \
    "odd width: message"
run "$VIDPIPE" encode-raw -i "$raw" "$WORK/f.mp4"
assert_eq "$RC" 3 "no size: exit code"
run "$VIDPIPE" encode-raw -s 64x48 --preset warp9 -i "$raw" "$WORK/f.mp4"
assert_eq "$RC" 3 "bad preset: exit code"
assert_contains "$ERR" "preset: 'warp9' is not one of ultrafast," "bad preset: message"
run "$VIDPIPE" encode-raw -s 64x48 -i "$raw" "$WORK/no/such/dir/f.mp4"
assert_eq "$RC" 4 "unwritable output: exit code"
assert_contains "$ERR" "f.mp4: cannot create the output: No such file or directory" \
    "unwritable output: message"
assert_eq "$(ls -A "$WORK" | grep -c 'f.mp4')" 0 "failures: nothing left"

run "$VIDPIPE" encode-raw --help
assert_eq "$RC" 0 "--help: exit code"
assert_contains "$OUT" "Usage: vidpipe encode-raw -s WxH" "--help: usage"

finish
