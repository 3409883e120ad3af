#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Probing 1,000 files: ffprobe once per file (as the seed scripts do) vs one vidpipe run.
# Prints per-method median wall time over RUNS runs and the ratio against ffprobe.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VP="$(pwd)/$BUILD/tools/vidpipe"
N=${N:-1000}
RUNS=${RUNS:-3}
CACHE=${CACHE:-/tmp/vidpipe-bench/probe}
mkdir -p "$CACHE/files"

# 10 distinct 20 s personal clips (720x1260 24 fps H.264 + AAC), hard-linked N times.
for i in 0 1 2 3 4 5 6 7 8 9; do
    f="$CACHE/src$i.mp4"
    [ -s "$f" ] || ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=720x1260:r=24:d=20" \
        -f lavfi -i "sine=f=$((300 + i * 20)):r=48000:d=20" -c:v libx264 -preset ultrafast \
        -crf $((23 + i)) -g 48 -c:a aac -shortest "$f"
done
if [ "$(ls "$CACHE/files" | wc -l)" -ne "$N" ]; then
    rm -f "$CACHE/files"/*
    i=0
    while [ $i -lt "$N" ]; do
        ln "$CACHE/src$((i % 10)).mp4" "$CACHE/files/clip$(printf %05d $i).mp4"
        i=$((i + 1))
    done
fi
ls "$CACHE/files"/*.mp4 > "$CACHE/list.txt"
cat "$CACHE"/src*.mp4 > /dev/null   # warm the page cache for everyone alike

now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
time_it() { # label command...
    label=$1; shift
    : > "$CACHE/t.$label"
    r=0
    while [ $r -lt "$RUNS" ]; do
        t0=$(now); "$@" > /dev/null; t1=$(now)
        echo "$t1 - $t0" | bc -l >> "$CACHE/t.$label"
        r=$((r + 1))
    done
    median < "$CACHE/t.$label"
}

ffprobe_each() { # the seed's way: one ffprobe process per file
    while read -r f; do
        ffprobe -v error -show_format -show_streams -of json "$f" > /dev/null
    done < "$CACHE/list.txt"
}
ffprobe_each_count() { # the same with packet counting, as vidpipe probe does
    while read -r f; do
        ffprobe -v error -show_format -show_streams -count_packets -of json "$f" > /dev/null
    done < "$CACHE/list.txt"
}

echo "probing $N files (20 s 720x1260 H.264+AAC MP4), median of $RUNS runs, $(nproc) cores"
t_ff=$(time_it ffprobe ffprobe_each)
t_ffc=$(time_it ffprobe_count ffprobe_each_count)
t_vp=$(time_it vidpipe "$VP" probe --json --list "$CACHE/list.txt")
t_vp1=$(time_it vidpipe1 "$VP" probe --json -j 1 --list "$CACHE/list.txt")
t_ck=$(time_it check "$VP" check --list "$CACHE/list.txt")

row() { printf '%-52s %9.2f s %9.2f ms/file %8.1fx\n' "$1" "$2" "$(echo "$2 * 1000 / $N" | bc -l)" "$(echo "$t_ff / $2" | bc -l)"; }
printf '%-52s %11s %16s %9s\n' "method" "total" "per file" "vs ffprobe"
row "ffprobe -show_format -show_streams, once per file" "$t_ff"
row "ffprobe ... -count_packets, once per file" "$t_ffc"
row "vidpipe probe --json (all cores)" "$t_vp"
row "vidpipe probe --json -j 1" "$t_vp1"
row "vidpipe check (all cores)" "$t_ck"
