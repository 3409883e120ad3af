#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# One join of a 300 s + 20 s + 20 s trio (720x1260, 24 fps, H.264 + AAC): vidpipe join
# against `cat` of the same files (the floor: a byte copy), FFmpeg's concat demuxer, and the
# seed's approach (3 MP4 -> TS remuxes + concat demuxer + TS -> MP4). Medians of RUNS runs,
# all measured in this run. Media is generated once into BENCH_MEDIA (default bench/.media).
set -eu
cd "$(dirname "$0")/.."
VP=${BUILD:-build}/tools/vidpipe
M=${BENCH_MEDIA:-bench/.media}
RUNS=${RUNS:-7}
T=$(mktemp -d "${TMPDIR:-/tmp}/vpbench.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir -p "$M"
gen() { [ -s "$M/$1" ] || { n=$1; shift; ffmpeg -nostdin -v error -y "$@" "$M/.$n" && mv "$M/.$n" "$M/$n"; }; }
gen intro.mp4 -f lavfi -i "testsrc2=s=720x1260:r=24:d=300" -f lavfi -i "sine=f=330:r=48000:d=300" \
    -c:v libx264 -preset veryfast -b:v 2M -maxrate 3M -bufsize 4M -g 48 -pix_fmt yuv420p \
    -c:a aac -b:a 128k
gen clip.mp4 -f lavfi -i "smptebars=s=720x1260:r=24:d=20" -f lavfi -i "sine=f=440:r=48000:d=20" \
    -c:v libx264 -preset fast -crf 23 -g 24 -pix_fmt yuv420p -c:a aac
gen outro.mp4 -f lavfi -i "testsrc=s=720x1260:r=24:d=20" -f lavfi -i "sine=f=550:r=48000:d=20" \
    -c:v libx264 -preset veryfast -b:v 2M -g 48 -pix_fmt yuv420p -c:a aac
cat "$M/intro.mp4" "$M/clip.mp4" "$M/outro.mp4" > /dev/null   # warm the page cache
MA=$(cd "$M" && pwd)
printf "file '%s'\n" "$MA/intro.mp4" "$MA/clip.mp4" "$MA/outro.mp4" > "$T/list.txt"

now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
time_runs() { # NAME CMD...
    name=$1; shift
    for i in $(seq "$RUNS"); do
        rm -f "$T"/out.*
        s=$(now); "$@" >/dev/null 2>&1; e=$(now)
        echo "$e - $s" | bc
    done | median > "$T/$name.t"
}
seed() {
    for f in intro clip outro; do
        ffmpeg -nostdin -v error -y -i "$M/$f.mp4" -c copy -bsf:v h264_mp4toannexb -f mpegts \
            "$T/$f.ts"
    done
    ffmpeg -nostdin -v error -y -i "concat:$T/intro.ts|$T/clip.ts|$T/outro.ts" -c copy \
        -bsf:a aac_adtstoasc "$T/out.mp4"
}
time_runs cat sh -c "cat '$M/intro.mp4' '$M/clip.mp4' '$M/outro.mp4' > '$T/out.cat'"
time_runs vidpipe "$VP" join -o "$T/out.mp4" "$M/intro.mp4" "$M/clip.mp4" "$M/outro.mp4"
time_runs concat ffmpeg -nostdin -v error -y -f concat -safe 0 -i "$T/list.txt" -c copy \
    -movflags +faststart "$T/out.mp4"
time_runs seed seed
c=$(cat "$T/cat.t")
printf "%-44s %9s %9s\n" "join of 300 s + 20 s + 20 s (median of $RUNS)" "seconds" "x cat"
for n in cat vidpipe concat seed; do
    case $n in
    cat) label="cat of the three files (floor)" ;;
    vidpipe) label="vidpipe join" ;;
    concat) label="ffmpeg concat demuxer (+faststart)" ;;
    seed) label="seed: 3 mp4->ts remuxes + concat" ;;
    esac
    t=$(cat "$T/$n.t")
    printf "%-44s %9.3f %9.2f\n" "$label" "$t" "$(echo "$t / $c" | bc -l)"
done
