#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Burned-in captions: vidpipe subtitles burn against the seed's way, one ffmpeg run
#   ffmpeg -i IN -vf subtitles=SUBS:force_style=STYLE -c:v libx264 -crf 23 -preset medium
#          -c:a copy OUT
# on the same clip (1080p30 H.264 + AAC, DUR seconds, default 30) with the same captions
# (an SRT of one cue every 2 s) and the same x264 settings (CRF 23, preset medium, each
# program's default thread count). Each method runs REPS times (default 3); the table shows
# the median wall seconds, the fastest run, the median CPU seconds, and vidpipe's medians as
# ratios of ffmpeg's (below 1: vidpipe is faster). The load average before and after is
# printed: the machine is shared.
# (bench/subtitles.sh, transcription against the seed, is the transcription engineer's; this
# file holds the burn rows until both are merged.)
#
# Environment: BUILD (build dir, default build), VIDPIPE (the CLI), DUR (default 30),
# REPS (default 3), BENCH_CACHE (default /tmp/vidpipe-bench-cache/burn), BENCH_WORK
# (default /tmp/vidpipe-bench-burn).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VIDPIPE=${VIDPIPE:-$BUILD/tools/vidpipe}
DUR=${DUR:-30}
REPS=${REPS:-3}
CACHE=${BENCH_CACHE:-/tmp/vidpipe-bench-cache/burn}
WORK=${BENCH_WORK:-/tmp/vidpipe-bench-burn}
STYLE="Fontsize=24,Outline=2"

[ -x "$VIDPIPE" ] || { echo "bench/subtitles_burn.sh: $VIDPIPE not built" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "bench/subtitles_burn.sh: no ffmpeg" >&2; exit 1; }

mkdir -p "$CACHE"
rm -rf "$WORK"
mkdir -p "$WORK"
CLIP=$CACHE/clip1080_$DUR.mp4
if [ ! -s "$CLIP" ]; then
    echo "bench/subtitles_burn.sh: generating $CLIP (once)" >&2
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=1920x1080:r=30:d=$DUR" \
        -f lavfi -i "sine=f=440:r=48000:d=$DUR" -ac 2 -c:v libx264 -preset ultrafast \
        -b:v 8M -pix_fmt yuv420p -c:a aac -b:a 128k "$CLIP.tmp.mp4"
    mv "$CLIP.tmp.mp4" "$CLIP"
fi
SUBS=$WORK/captions.srt
python3 - "$DUR" > "$SUBS" <<'E'
import sys
d = int(sys.argv[1])
for i, t in enumerate(range(0, d - 1, 2)):
    c = lambda s: "%02d:%02d:%02d,%03d" % (s // 3600, s // 60 % 60, s % 60, 0)
    print("%d\n%s --> %s,500\nCaption number %d, two lines\nof burned-in text\n" %
          (i + 1, c(t), c(t + 1)[:-4], i + 1))
E

# On a shared machine wall time moves with the load; CPU seconds (user + system) much less.
timed() { # name cmd...: one run's "wall cpu" seconds appended to $WORK/NAME.times
    name=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$WORK/$name.t" "$@" >/dev/null 2>"$WORK/$name.err" ||
        { cat "$WORK/$name.err" >&2; exit 1; }
    awk '{ print $1, $2 + $3 }' "$WORK/$name.t" >> "$WORK/$name.times"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
r=1
while [ $r -le "$REPS" ]; do
    timed ffmpeg ffmpeg -nostdin -v error -y -i "$CLIP" \
        -vf "subtitles=$SUBS:force_style='$STYLE'" -c:v libx264 -crf 23 -preset medium \
        -c:a copy "$WORK/ffmpeg.mp4"
    timed vidpipe "$VIDPIPE" subtitles burn "$CLIP" "$SUBS" -o "$WORK/vidpipe.mp4" -y \
        --style "$STYLE" --crf 23 --preset medium
    r=$((r + 1))
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# Both outputs: the same frames and the audio untouched, or the comparison means nothing.
for m in ffmpeg vidpipe; do
    ffprobe -v error -show_entries stream=codec_name,nb_frames -of csv=p=0 "$WORK/$m.mp4" |
        tr '\n' ' ' > "$WORK/$m.streams"
done
cmp -s "$WORK/ffmpeg.streams" "$WORK/vidpipe.streams" ||
    echo "warning: outputs differ: ffmpeg $(cat "$WORK/ffmpeg.streams")," \
         "vidpipe $(cat "$WORK/vidpipe.streams")" >&2

python3 - "$WORK" "$DUR" "$REPS" "$load0" "$load1" <<'E'
import statistics, sys
work, dur, reps, l0, l1 = sys.argv[1:]
runs = {m: [tuple(map(float, l.split())) for l in open("%s/%s.times" % (work, m))]
        for m in ("ffmpeg", "vidpipe")}
wall = {m: statistics.median(r[0] for r in v) for m, v in runs.items()}
cpu = {m: statistics.median(r[1] for r in v) for m, v in runs.items()}
best = {m: min(r[0] for r in v) for m, v in runs.items()}
print("burn: 1920x1080 30 fps, %s s, one cue every 2 s, x264 CRF 23 medium, audio copied;"
      " %s runs each; load %s -> %s" % (dur, reps, l0, l1))
print("%-42s %8s %8s %8s %8s %8s" % ("method", "wall s", "best s", "x ffmpeg", "cpu s",
                                     "x ffmpeg"))
for m, name in (("ffmpeg", "ffmpeg -vf subtitles=... -c:a copy (seed)"),
                ("vidpipe", "vidpipe subtitles burn")):
    print("%-42s %8.2f %8.2f %8.2f %8.1f %8.2f" % (name, wall[m], best[m],
          wall[m] / wall["ffmpeg"], cpu[m], cpu[m] / cpu["ffmpeg"]))
print("wall, cpu: medians (cpu = user + system); x ffmpeg: vidpipe's / ffmpeg's (below 1: "
      "vidpipe is faster)")
E
