#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Frame writer benchmark: BGR24 frames in memory to an H.264 MP4 (libx264, CRF 23), for
#   pipe     the ffmpeg CLI fed raw frames through a pipe (the fix users reach for)
#   floor    libx264 alone on frames converted to yuv420p beforehand (no muxing)
#   direct   a plain libavcodec loop: sws_scale then encode each frame on one thread (no
#            muxing), the code an application would write without a writer library
#   vidpipe  vp_writer_write() from C
#   python   vidpipe.VideoWriter from Python
#   cv2      cv2.VideoWriter (avc1; its own encoder settings: the preset does not apply)
# Prints fps, the ratios to the pipe and to the floor, the per-frame call's p50/p99 latency
# (while the queue had room) and the CPU time per frame (all threads and processes: the
# figure that stays put on a shared machine), medians of REPEAT runs in interleaved order.
#
# Environment: BUILD (build dir), FRAMES (600), REPEAT (3), SIZES ("1280x720 720x1260"),
# PRESETS ("ultrafast veryfast medium"), PY (a python3 with numpy: /usr/bin/python3).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FRAMES=${FRAMES:-600}
REPEAT=${REPEAT:-3}
SIZES=${SIZES:-"1280x720 720x1260"}
PRESETS=${PRESETS:-"ultrafast veryfast medium"}
PY=${PY:-/usr/bin/python3}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
BENCH="$BUILD/bench/bench_writer"
[ -x "$BENCH" ] || { echo "writer.sh: build first ($BENCH missing)" >&2; exit 1; }
export VIDPIPE_LIB="$BUILD/src/libvidpipe.so" VIDPIPE_PYTHONPATH="$PWD/python"

work=$(mktemp -d "${TMPDIR:-/tmp}/vp-bench-writer.XXXXXX")
trap 'rm -rf "$work"' EXIT
results="$work/results"
: >"$results"

have_cv2=0
"$PY" -c "import cv2" 2>/dev/null && have_cv2=1
have_np=0
"$PY" -c "import numpy" 2>/dev/null && have_np=1

for size in $SIZES; do
    w=${size%x*}
    h=${size#*x}
    raw="$work/in_$size.bgr"
    # 60 distinct frames (played forwards then backwards): a test pattern with moving parts
    # and light temporal noise, like a camera's.
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=s=${size}:r=30,noise=alls=6:allf=t" \
        -frames:v 60 -pix_fmt bgr24 -f rawvideo "$raw"
    for preset in $PRESETS; do
        r=1
        while [ "$r" -le "$REPEAT" ]; do
            echo "writer.sh: $size $preset, run $r of $REPEAT" >&2
            for mode in pipe floor direct vidpipe python; do
                out="$work/out.mp4"
                case $mode in
                python)
                    [ $have_np = 1 ] || continue
                    line=$("$PY" bench/writer_py.py vidpipe "$raw" "$w" "$h" "$FRAMES" \
                        "$preset" "$out") ;;
                *)  line=$("$BENCH" "$mode" "$raw" "$w" "$h" "$FRAMES" "$preset" "$out") ;;
                esac
                echo "$size $preset $line" | sed "s/ vidpipe / $mode /" >>"$results"
                rm -f "$out"
            done
            r=$((r + 1))
        done
    done
    if [ $have_cv2 = 1 ]; then
        r=1
        while [ "$r" -le "$REPEAT" ]; do
            line=$("$PY" bench/writer_py.py cv2 "$raw" "$w" "$h" "$FRAMES" - "$work/cv2.mp4")
            echo "$size - $line" >>"$results"
            rm -f "$work/cv2.mp4"
            r=$((r + 1))
        done
    fi
    rm -f "$raw"
done

"$PY" - "$results" "$FRAMES" "$REPEAT" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    size, preset, mode, *vals = line.split()
    rows.setdefault((size, preset, mode), []).append(tuple(map(float, vals)))
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in rows.items()}
print("frame writer: %s BGR24 frames to H.264 MP4 (libx264 CRF 23), median of %s runs"
      % (sys.argv[2], sys.argv[3]))
print("%-9s %-9s %-8s %7s %8s %8s %10s %10s %6s %8s" % ("size", "preset", "writer", "fps",
      "vs pipe", "vs floor", "call p50", "call p99", "full%", "cpu/frame"))
order = ["pipe", "floor", "direct", "vidpipe", "python", "cv2"]
for size in dict.fromkeys(k[0] for k in med):
    for preset in dict.fromkeys(k[1] for k in med if k[0] == size):
        pipe = med.get((size, preset, "pipe"), [0])[0]
        floor = med.get((size, preset, "floor"), [0])[0]
        for mode in order:
            if (size, preset, mode) not in med:
                continue
            fps, p50, p99, full, cpu = med[(size, preset, mode)]
            lat = lambda us: "-" if mode in ("floor", "direct") else (
                "%.2f ms" % (us / 1000) if us >= 1000 else "%.0f us" % us)
            print("%-9s %-9s %-8s %7.1f %8s %8s %10s %10s %6.1f %7.2f ms" % (
                size, preset if preset != "-" else "(own)", mode, fps,
                "%.2fx" % (fps / pipe) if pipe and mode != "pipe" else "",
                "%.2fx" % (fps / floor) if floor and mode != "floor" else "",
                lat(p50), lat(p99), full, cpu))
PY
