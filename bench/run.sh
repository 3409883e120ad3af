#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe run against the toolkit's way of running a production pipeline: the same four
# steps (qc, cleanup: eq + audio denoise, loudnorm, export to two presets) as ffmpeg
# commands one after the other with temporary files, as its Python template does (QC pass;
# cleanup encode to a temporary file; loudnorm measure + apply to a second one; one ffmpeg
# per export preset). vidpipe plans two decodes and encodes only the final outputs. The
# floor is the two final encodes alone: one ffmpeg decoding the source once, scaling and
# encoding both outputs with the same settings, no filters, no checks.
# Each case runs RUNS times (default 3), interleaved; the table shows medians and ratios.
#
#   BUILD=build bench/run.sh      (CACHE=dir keeps the generated source; default
#                                  /tmp/vidpipe-bench; SECONDS_OF_SOURCE=20)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VP=$PWD/$BUILD/tools/vidpipe
RUNS=${RUNS:-3}
LEN=${SECONDS_OF_SOURCE:-20}
CACHE=${CACHE:-/tmp/vidpipe-bench}
mkdir -p "$CACHE"
SRC=$CACHE/run_src1080p30_${LEN}s.mp4
if [ ! -s "$SRC" ]; then
    echo "generating $SRC (once)..." >&2
    # picture with motion; a tone swelling twice a second at about -35 LUFS (work for
    # loudnorm)
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=1920x1080:r=30:d=$LEN" \
        -f lavfi -i "sine=f=300:d=$LEN:sample_rate=48000,tremolo=f=2:d=0.8,volume=-10dB,aformat=channel_layouts=stereo" \
        -c:v libx264 -preset fast -b:v 8M -pix_fmt yuv420p -c:a aac -b:a 128k \
        -movflags +faststart "$CACHE/.run_src.mp4"
    mv "$CACHE/.run_src.mp4" "$SRC"
fi
OUT=$(mktemp -d "${TMPDIR:-/tmp}/vpbench-run.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
FF="ffmpeg -nostdin -v error -y"

# The two presets, for both: 720p landscape and 720x1280 portrait, veryfast, CRF 23.
cat >"$OUT/presets.json" <<'EOF'
{"presets": [{"name": "h720", "width": 1280, "height": 720, "fps": 30, "crf": 23,
              "x264_preset": "veryfast", "max_bitrate": 0, "audio_bitrate": 128000},
             {"name": "v720", "width": 720, "height": 1280, "fps": 30, "crf": 23,
              "x264_preset": "veryfast", "max_bitrate": 0, "audio_bitrate": 128000}]}
EOF
cat >"$OUT/pipeline.json" <<'EOF'
{"steps": [
   {"qc": {"min_loudness": -70, "max_silence": 1000, "fail": "stop"}},
   {"cleanup": {"eq": true, "denoise_audio": true}},
   {"loudnorm": {"i": -16, "tp": -1.5}},
   {"export": {"preset_file": "presets.json", "presets": ["h720", "v720"]}}]}
EOF

now() { date +%s.%N; }
time_cmd() {
    name=$1; shift
    t0=$(now)
    "$@" >/dev/null 2>"$OUT/$name.err" || { echo "$name failed:" >&2; cat "$OUT/$name.err" >&2; exit 1; }
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >>"$OUT/$name.times"
}
median() { sort -n "$OUT/$1.times" | awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] }'; }

vp_run() { rm -rf "$OUT/vp"; "$VP" run "$OUT/pipeline.json" "$SRC" -o "$OUT/vp" -y; }

# The toolkit's template: each step its own ffmpeg, handing the next a temporary file.
FIT() { echo "scale=$1:$2:force_original_aspect_ratio=decrease,pad=$1:$2:(ow-iw)/2:(oh-ih)/2"; }
ff_steps() {
    d=$OUT/ff; rm -rf "$d"; mkdir -p "$d"
    # validate + QC: metadata, then one analysis pass
    ffprobe -v error -show_format -show_streams -of json "$SRC" >"$d/meta.json"
    $FF -i "$SRC" -vf blackdetect=d=0.5,freezedetect=d=0.5 \
        -af ebur128=peak=sample+true,silencedetect=d=0.5 -f null - 2>"$d/qc.log"
    # cleanup: colour and denoise, encoded to a temporary file (the template's defaults)
    $FF -i "$SRC" -vf eq=brightness=0.05:contrast=1.1:saturation=1.1 \
        -af highpass=f=200,lowpass=f=3000,afftdn -c:v libx264 -crf 23 -preset medium \
        -pix_fmt yuv420p -c:a aac -b:a 192k "$d/t1.mp4"
    # loudnorm, two passes: measure, then apply (video copied)
    ffmpeg -nostdin -hide_banner -i "$d/t1.mp4" -af loudnorm=I=-16:TP=-1.5:LRA=11:print_format=json \
        -f null - 2>"$d/ln.log"
    m=$(python3 -c '
import json, re, sys
t = open(sys.argv[1]).read(); j = json.loads(t[t.rindex("{"):t.rindex("}") + 1])
print("measured_I=%s:measured_TP=%s:measured_LRA=%s:measured_thresh=%s:offset=%s" % (
    j["input_i"], j["input_tp"], j["input_lra"], j["input_thresh"], j["target_offset"]))' "$d/ln.log")
    $FF -i "$d/t1.mp4" -af "loudnorm=I=-16:TP=-1.5:LRA=11:$m:linear=true" -c:v copy \
        -c:a aac -b:a 192k "$d/t2.mp4"
    # export: one ffmpeg per preset
    $FF -i "$d/t2.mp4" -vf "$(FIT 1280 720)" -r 30 -c:v libx264 -preset veryfast -crf 23 \
        -pix_fmt yuv420p -c:a aac -b:a 128k "$d/h720.mp4"
    $FF -i "$d/t2.mp4" -vf "$(FIT 720 1280)" -r 30 -c:v libx264 -preset veryfast -crf 23 \
        -pix_fmt yuv420p -c:a aac -b:a 128k "$d/v720.mp4"
    rm -f "$d/t1.mp4" "$d/t2.mp4"
}
# The floor: the two final encodes alone, from one decode.
floor() {
    rm -rf "$OUT/fl"; mkdir -p "$OUT/fl"
    $FF -i "$SRC" -filter_complex "[0:v]split[a][b];[a]$(FIT 1280 720)[h];[b]$(FIT 720 1280)[v]" \
        -map "[h]" -map 0:a -r 30 -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p \
        -c:a aac -b:a 128k "$OUT/fl/h720.mp4" \
        -map "[v]" -map 0:a -r 30 -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p \
        -c:a aac -b:a 128k "$OUT/fl/v720.mp4"
}

echo "vidpipe run: $("$VP" run --plan "$OUT/pipeline.json" | tail -1)" >&2
for i in $(seq "$RUNS"); do
    echo "run $i/$RUNS..." >&2
    time_cmd vp vp_run
    time_cmd ff ff_steps
    time_cmd floor floor
done
# The outputs are alike: same sizes, loudness near the target in both.
for f in h720 v720; do
    for who in vp ff; do
        p=$OUT/$who/$f.mp4
        [ "$who" = vp ] && p=$OUT/vp/$(basename "$SRC" .mp4)_$f.mp4
        l=$(ffmpeg -nostdin -nostats -i "$p" -map 0:a -af ebur128 -f null - 2>&1 |
            awk '/Integrated loudness/ { getline; print $2 }')
        s=$(ffprobe -v error -select_streams v -show_entries stream=width,height -of csv=p=0 "$p")
        echo "  $who $f: $s, $l LUFS" >&2
    done
done

vp=$(median vp); ff=$(median ff); fl=$(median floor)
echo
echo "4-step pipeline (qc, cleanup, loudnorm, export x2) on ${LEN} s of 1080p30, $(nproc) cores, medians of $RUNS:"
printf '%-52s %9s %10s\n' "" "seconds" "vs vidpipe"
printf '%-52s %9s %10s\n' "vidpipe run (2 decodes, 2 encodes)" "$vp" "1.00x"
printf '%-52s %9s %10s\n' "ffmpeg steps with temp files (6 decodes, 3 encodes)" "$ff" \
    "$(awk -v a="$ff" -v b="$vp" 'BEGIN { printf "%.2fx", a / b }')"
printf '%-52s %9s %10s\n' "floor: the two final encodes alone" "$fl" \
    "$(awk -v a="$fl" -v b="$vp" 'BEGIN { printf "%.2fx", a / b }')"
echo "speed-up of vidpipe over the ffmpeg steps: $(awk -v a="$ff" -v b="$vp" 'BEGIN { printf "%.2fx", a / b }')"
