#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe cleanup: a shaky, noisy clip comes out steadier, brighter and quieter above 3 kHz,
# from one encode; the stabilization transforms file does not outlive the run.
. "$VP_SRCDIR/tests/cli/lib.sh"
# libvidstab leaks inside vsMotionDetection (see tests/lsan.supp); the full unwind lets the
# sanitizer see that the leak is in libvidstab.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0"

shaky=$(media tb_shaky.mp4 -f lavfi \
    -i "testsrc2=s=360x280:r=30:d=4,crop=w=320:h=240:x='20+14*sin(t*23)':y='20+14*cos(t*17)'" \
    -f lavfi -i "sine=f=440:d=4" -f lavfi -i "anoisesrc=d=4:a=0.2:c=white:seed=3" \
    -filter_complex "[1:a][2:a]amix=inputs=2[a]" -map 0:v -map "[a]" -c:v libx264 -preset fast \
    -pix_fmt yuv420p -c:a aac -b:a 128k)

mkdir -p "$WORK/tmp"
TMPDIR=$WORK/tmp run "$VIDPIPE" cleanup "$shaky" -o "$WORK/c.mp4" --stabilize --eq 0.1,1.1,1.1 \
    --denoise-audio
assert_eq "$RC" 0 "cleanup exit"
assert_eq "$ERR" "" "cleanup stderr"
assert_eq "$(ls -A "$WORK/tmp")" "" "transforms file removed"
v=$(ffprobe -v error -count_frames -show_entries stream=codec_name,width,height,nb_read_frames \
    -of csv=p=0 "$WORK/c.mp4" | tr '\n' ' ')
assert_eq "${v%,*}" "h264,320,240,120 aac" "one H.264 + AAC encode, every frame"

# motion between frames (mean luma difference) and mean luma, input vs output
m=$(python3 - "$shaky" "$WORK/c.mp4" <<'PY'
import subprocess, sys
def stats(f):
    d = subprocess.run(['ffmpeg', '-v', 'error', '-i', f, '-vf', 'scale=80:60', '-f', 'rawvideo',
                        '-pix_fmt', 'gray', '-'], capture_output=True).stdout
    n = 80 * 60
    fr = [d[i:i + n] for i in range(0, len(d), n)]
    mo = sum(sum(abs(x - y) for x, y in zip(a, b)) / n for a, b in zip(fr, fr[1:])) / (len(fr) - 1)
    return mo, sum(d) / len(d)
(mi, li), (mo, lo) = stats(sys.argv[1]), stats(sys.argv[2])
print("steadier" if mo < 0.6 * mi else "shaky %.1f %.1f" % (mi, mo),
      "brighter" if lo > li + 8 else "same %.1f %.1f" % (li, lo))
PY
)
assert_eq "$m" "steadier brighter" "stabilized and brightened"

hf() { ffmpeg -nostdin -i "$1" -vn -af highpass=f=6000,highpass=f=6000,astats=measure_overall=RMS_level:measure_perchannel=none \
    -f null - 2>&1 | sed -n 's/.*RMS level dB: *\(-*[0-9.]*\).*/\1/p' | tail -1; }
hin=$(hf "$shaky")
hout=$(hf "$WORK/c.mp4")
check
awk -v a="$hin" -v b="$hout" 'BEGIN { exit !(b < a - 15) }' || fail "noise above 6 kHz not removed ($hin -> $hout dB)"

# The --eq help gives an example, not a default: without --eq the colours are left alone.
run "$VIDPIPE" cleanup --help
assert_contains "$(echo "$OUT" | grep -e '--eq B,C,S ')" \
    "brightness,contrast,saturation: no default, e.g. 0.05,1.1,1.1" "--eq help: an example"
# eq alone: one pass, same frames.
run "$VIDPIPE" cleanup "$shaky" -o "$WORK/e.mp4" --eq 0,1,0
assert_eq "$RC" 0 "eq-only exit"
sat=$(ffmpeg -nostdin -v error -i "$WORK/e.mp4" -frames:v 1 -vf signalstats,metadata=print:key=lavfi.signalstats.SATAVG:file=- -f null - | sed -n 's/.*SATAVG=//p')
assert_near "$sat" 0 2 "saturation 0 makes it grey"

# A clean-up keeps the format: 10-bit stays 10-bit (libx264's High 10), and a variable frame
# rate keeps every picture at its own time (30 fps, then 15 fps for 1 s, then 30 fps again).
deep=$(media tb_10bit.mp4 -f lavfi -i testsrc2=s=320x240:r=30:d=2 -c:v libx264 -preset fast \
      -pix_fmt yuv420p10le)
run "$VIDPIPE" cleanup "$deep" -o "$WORK/deep.mp4" --eq 0.05,1,1
assert_eq "$RC|$ERR" "0|" "10-bit: exit, nothing on stderr"
assert_eq "$(ffprobe -v error -select_streams v -show_entries stream=pix_fmt,profile -of csv=p=0 \
    "$WORK/deep.mp4")" "High 10,yuv420p10le" "10-bit input gives 10-bit output"
# Deeper than the encoder goes: 12 bits become 10, and one warning line says why.
deep12=$(media tb_12bit.mkv -f lavfi -i testsrc2=s=320x240:r=30:d=1 -c:v ffv1 \
        -pix_fmt yuv420p12le)
run "$VIDPIPE" cleanup "$deep12" -o "$WORK/deep12.mp4" --eq 0.05,1,1
assert_eq "$RC|$ERR" "0|vidpipe: warning: $WORK/deep12.mp4: the source has 12-bit samples; libx264 \
encodes 10 bits at most, so the output has 10" "12-bit: exit, the one warning line"
assert_eq "$(ffprobe -v error -select_streams v -show_entries stream=pix_fmt,profile -of csv=p=0 \
    "$WORK/deep12.mp4")" "High 10,yuv420p10le" "12-bit input gives 10-bit output"
vfr=$(media tb_vfr.mp4 -f lavfi -i testsrc2=s=320x240:r=30:d=3 \
      -vf "setpts='if(lt(N,30),N/30,if(lt(N,60),1+(N-30)/15,3+(N-60)/30))/TB'" -fps_mode vfr \
      -c:v libx264 -preset fast -pix_fmt yuv420p)
run "$VIDPIPE" cleanup "$vfr" -o "$WORK/vfr.mp4" --eq 0.05,1,1
assert_eq "$RC|$ERR" "0|" "VFR: exit, nothing on stderr"
pic_times() { ffprobe -v error -select_streams v -show_entries frame=pts_time -of csv=p=0 "$1" | tr -d ,; }
pic_times "$vfr" > "$WORK/vfr_in.txt"
pic_times "$WORK/vfr.mp4" > "$WORK/vfr_out.txt"
assert_contains "$(tr '\n' ' ' < "$WORK/vfr_in.txt")" "1.000000 1.066667 1.133333" \
    "the source is VFR (15 fps after 1 s)"
check; cmp -s "$WORK/vfr_in.txt" "$WORK/vfr_out.txt" || fail "VFR: picture times differ from the source's"

run "$VIDPIPE" cleanup "$shaky" -o "$WORK/x.mp4"
assert_eq "$RC" 3 "nothing to do is a usage error"
run "$VIDPIPE" cleanup "$shaky" -o "$WORK/x.mp4" --eq 5,1,1
assert_eq "$RC" 3 "bad --eq"
printf 'junk' > "$WORK/j.mp4"
run "$VIDPIPE" cleanup "$WORK/j.mp4" -o "$WORK/x.mp4" --stabilize
assert_eq "$RC" 2 "unreadable exit"
assert_eq "$ERR" "vidpipe: $WORK/j.mp4: not a media file (no known container format)" "unreadable message"
check
[ ! -e "$WORK/x.mp4" ] || fail "nothing left"

# --json: one entry per item with its status, and the reason for a failed one.
run "$VIDPIPE" cleanup "$WORK/missing.mp4" -o "$WORK/y.mp4" --eq 0.05,1,1 --json
assert_eq "$RC" 2 "json: missing input exit"
printf '%s' "$OUT" > "$WORK/c.json"
python3 - "$WORK/c.json" "$WORK" <<'PY' || fail "cleanup --json document"
import json, sys
d = json.load(open(sys.argv[1]))
w = sys.argv[2]
assert d["command"] == "cleanup", d
assert d["items"] == [{"input": w + "/missing.mp4", "output": w + "/y.mp4", "status": "failed",
                       "error": w + "/missing.mp4: no such file or directory"}], d
PY
check

finish
