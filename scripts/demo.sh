#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# make demo: generate sample media, run vidpipe's main jobs on it, and show the result.
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
VP="$BUILD/tools/vidpipe"
D=demo
mkdir -p "$D"
gen() { [ -s "$D/$1" ] || { shift 2; ffmpeg -nostdin -v error -y "$@"; }; }
echo "== making sample media in $D/ (intro, personalized clip, outro: 720x1260 24 fps H.264+AAC)"
gen intro.mp4 intro.mp4 -f lavfi -i "testsrc2=s=720x1260:r=24:d=12" \
    -f lavfi -i "sine=f=330:r=48000:d=12" -c:v libx264 -preset veryfast -g 48 -c:a aac \
    -shortest "$D/intro.mp4"
gen clip.mp4 clip.mp4 -f lavfi -i "smptebars=s=720x1260:r=24:d=4" \
    -f lavfi -i "sine=f=440:r=48000:d=4" -c:v libx264 -preset fast -crf 30 -g 24 -c:a aac \
    -shortest "$D/clip.mp4"
gen outro.mp4 outro.mp4 -f lavfi -i "testsrc=s=720x1260:r=24:d=4" \
    -f lavfi -i "sine=f=550:r=48000:d=4" -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 48 \
    -c:a aac \
    -shortest "$D/outro.mp4"
echo
echo "== vidpipe probe $D/clip.mp4"
"$VP" probe "$D/clip.mp4"
echo
echo "== vidpipe check $D/intro.mp4 $D/clip.mp4 $D/outro.mp4"
"$VP" check "$D/intro.mp4" "$D/clip.mp4" "$D/outro.mp4" || true
echo
echo "== vidpipe join -o $D/joined.mp4 $D/intro.mp4 $D/clip.mp4 $D/outro.mp4"
"$VP" join -o "$D/joined.mp4" "$D/intro.mp4" "$D/clip.mp4" "$D/outro.mp4"
echo
echo "== vidpipe probe $D/joined.mp4"
"$VP" probe "$D/joined.mp4"
frames=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames \
    -of csv=p=0 "$D/joined.mp4")
errors=$(ffmpeg -nostdin -v error -i "$D/joined.mp4" -f null - 2>&1 | wc -l)
echo "joins: 2 (intro|clip at 12 s, clip|outro at 16 s); FFmpeg decodes $frames video frames" \
     "(the segments hold 480) with $errors error lines; audio re-encoded only at the joins"
