#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Subtitles against the seed's way (/work/shared/seeds/001_*, "Generate and burn subtitles":
# ffmpeg extracts a 16 kHz mono WAV, a speech model transcribes it, a script writes the SRT,
# a second ffmpeg burns it in). One row per step, each a pair of functions below:
#   transcribe  seed:    ffmpeg -vn -acodec pcm_s16le -ar 16000 -ac 1 to a temp WAV, then
#                        pocketsphinx_continuous -time yes on it (Debian's pocketsphinx, the
#                        engine vidpipe uses: the seed's Whisper is not packaged), its
#                        utterances written as SRT cues as the seed's generate_srt does
#               vidpipe: vidpipe subtitles transcribe IN -o OUT.srt (one decode, in-process)
#   auto_burn   seed:    the transcribe step's seed, then the seed's burn_subtitles: ffmpeg -i IN
#                        -vf subtitles=SRT:force_style=... -c:a copy OUT.mp4 (libx264 defaults)
#               vidpipe: vidpipe subtitles auto IN -o OUT.mp4 --sidecar OUT.srt --burn with
#                        the same style (transcribe, the SRT, the burn in one command)
# Median seconds of RUNS runs each (alternating which goes first), the ratio, and the word
# error rate of each transcript against the text the talk was spoken from.
# To add a step: write seed_STEP and vidpipe_STEP (IN OUT), add STEP to STEPS.
#
# The talk: SENTENCES sentences spoken by espeak-ng (en-us+m3, 150 words a minute) with
# 1.5 s of silence between, under a 640x360 30 fps H.264 picture, AAC 48 kHz stereo.
#
# Environment: BUILD (build), VIDPIPE, RUNS (3), STEPS ("transcribe auto_burn"), BENCH_CACHE
# (/tmp/vidpipe-bench-cache/subtitles), BENCH_WORK (/tmp/vidpipe-bench-subtitles).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VIDPIPE=${VIDPIPE:-$BUILD/tools/vidpipe}
RUNS=${RUNS:-3}
STEPS=${STEPS:-transcribe auto_burn}
CACHE=${BENCH_CACHE:-/tmp/vidpipe-bench-cache/subtitles}
WORK=${BENCH_WORK:-/tmp/vidpipe-bench-subtitles}
CHECK="python3 tests/cli/transcribe_check.py"

[ -x "$VIDPIPE" ] || { echo "bench/subtitles.sh: $VIDPIPE not built (make build)" >&2; exit 1; }
for p in ffmpeg espeak-ng pocketsphinx_continuous; do
    command -v $p >/dev/null || {
        echo "bench/subtitles.sh: $p is not installed (VIDPIPE_BENCH=1 scripts/install-deps.sh)" >&2
        exit 1; }
done

# ---- the talk, generated once -------------------------------------------------------------
TALK=$CACHE/talk.mp4
REF=$CACHE/talk.txt
if [ ! -s "$TALK" ]; then
    echo "bench/subtitles.sh: generating $TALK (once)" >&2
    mkdir -p "$CACHE/parts"
    : > "$REF"
    : > "$CACHE/parts/list.txt"
    ffmpeg -nostdin -v error -y -f lavfi -i anullsrc=r=22050:cl=mono -t 1.5 \
        "$CACHE/parts/gap.wav"
    i=0
    while IFS= read -r s; do
        i=$((i + 1))
        espeak-ng -v en-us+m3 -s 150 -g 8 -w "$CACHE/parts/s$i.wav" "$s"
        printf '%s\n' "$s" >> "$REF"
        printf "file 's%d.wav'\nfile 'gap.wav'\n" $i >> "$CACHE/parts/list.txt"
    done <<'TEXT'
Good morning and welcome to the weekly team meeting.
Today we will talk about the new video pipeline.
The old scripts took too long to process each file.
We measured the time spent on every step of the work.
Most of it went into reading the same file several times.
The new tool reads the file once and does everything in one pass.
Please turn off the lights before you leave the house.
We will meet at the station tomorrow morning.
The quick brown fox jumps over the lazy dog.
Thank you all for listening and see you next week.
TEXT
    ffmpeg -nostdin -v error -y -f concat -safe 0 -i "$CACHE/parts/list.txt" "$CACHE/speech.wav"
    d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$CACHE/speech.wav")
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=640x360:r=30:d=$d" \
        -i "$CACHE/speech.wav" -c:v libx264 -preset veryfast -pix_fmt yuv420p \
        -c:a aac -b:a 128k -ar 48000 -ac 2 -shortest "$TALK.tmp.mp4"
    mv "$TALK.tmp.mp4" "$TALK"
fi
SECS=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$TALK")
rm -rf "$WORK"
mkdir -p "$WORK"
cat "$TALK" > /dev/null   # warm the page cache

# ---- the steps: seed_STEP / vidpipe_STEP IN OUT ---------------------------------------------
seed_transcribe() {
    ffmpeg -nostdin -v error -y -i "$1" -vn -acodec pcm_s16le -ar 16000 -ac 1 "$WORK/audio.wav"
    pocketsphinx_continuous -infile "$WORK/audio.wav" -time yes -logfn /dev/null \
        > "$WORK/ps.txt" 2>/dev/null
    # generate_srt: one cue per utterance, from its <s> to its </s>, text as recognised
    python3 - "$WORK/ps.txt" "$2" <<'PY'
import re, sys
def ts(t):
    ms = int(round(t * 1000))
    return "%02d:%02d:%02d,%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)
cues, text, start = [], None, None
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 4 and re.match(r"^-?[0-9.]+$", f[1]):
        if f[0] == "<s>":
            start = float(f[1])
        elif f[0] == "</s>" and text is not None and start is not None:
            cues.append((start, float(f[2]), text))
            text = start = None
    elif line.strip():
        text = line.strip()
with open(sys.argv[2], "w") as out:
    for i, (a, z, t) in enumerate(cues, 1):
        out.write("%d\n%s --> %s\n%s\n\n" % (i, ts(a), ts(z), t))
PY
    rm -f "$WORK/audio.wav"
}
vidpipe_transcribe() {
    "$VIDPIPE" -q subtitles transcribe "$1" -o "$2" -y
}
# The seed's style (Arial is not installed on a bare Debian: both fall back to DejaVu Sans).
STYLE="FontName=Arial,FontSize=24,PrimaryColour=&HFFFFFF,OutlineColour=&H000000,Outline=2"
seed_auto_burn() {
    seed_transcribe "$1" "$2"
    ffmpeg -nostdin -v error -y -i "$1" -vf "subtitles=$2:force_style='$STYLE'" -c:a copy \
        "${2%.srt}.mp4"
}
vidpipe_auto_burn() {
    "$VIDPIPE" -q subtitles auto "$1" -o "${2%.srt}.mp4" --sidecar "$2" --burn \
        --style "$STYLE" -y
}

now() { date +%s.%N; }
# CPU seconds (user + system) of the waited-for children so far: `times`' second line (run
# in this shell, not in a $(...) subshell, whose children are others).
cpu() { times > "$WORK/times.now"; awk 'NR == 2 { split($1, u, "m"); split($2, s, "m")
    print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$WORK/times.now"; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$WORK/times.txt"
: > "$WORK/wer.txt"
for step in $STEPS; do
    run=1
    while [ $run -le "$RUNS" ]; do
        if [ $((run % 2)) = 1 ]; then order="seed vidpipe"; else order="vidpipe seed"; fi
        for m in $order; do
            out=$WORK/$m-$step.srt
            rm -f "$out" "${out%.srt}.mp4"
            cpu > "$WORK/c0"
            t0=$(now)
            "${m}_$step" "$TALK" "$out"
            t1=$(now)
            cpu > "$WORK/c1"
            c0=$(cat "$WORK/c0") c1=$(cat "$WORK/c1")
            echo "$step $m $(echo "$t1 $t0 $c1 $c0" | awk '{ print $1 - $2, $3 - $4 }')" \
                >> "$WORK/times.txt"
            if [ $run = 1 ]; then
                $CHECK text "$out" > "$WORK/$m-$step.txt"
                echo "$step $m $($CHECK wer "$REF" "$WORK/$m-$step.txt" 1)" >> "$WORK/wer.txt"
            fi
        done
        run=$((run + 1))
    done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$WORK" "$SECS" "$RUNS" "$load0" "$load1" "$(nproc)" <<'PY'
import statistics, sys
work, secs, runs, load0, load1, cores = sys.argv[1:]
t, c, wer = {}, {}, {}
for line in open(work + "/times.txt"):
    step, m, s, cs = line.split()
    t.setdefault((step, m), []).append(float(s))
    c.setdefault((step, m), []).append(float(cs))
for line in open(work + "/wer.txt"):
    step, m, w = line.split()
    wer[(step, m)] = w
print(f"subtitles benchmark: a {float(secs):.1f} s talk (640x360 H.264 + AAC), {runs} runs; "
      f"{cores} cores, load average {load0} at the start, {load1} at the end")
print("wall: seconds from start to end; cpu: user + system seconds of all its processes")
print(f"{'step':11} {'seed s':>7} {'vidpipe s':>10} {'ratio':>6} {'x real time':>12} "
      f"{'seed cpu':>9} {'vidpipe cpu':>12} {'WER seed':>9} {'WER vidpipe':>12}")
for step in dict.fromkeys(k[0] for k in t):
    s = statistics.median(t[(step, "seed")])
    v = statistics.median(t[(step, "vidpipe")])
    sc = statistics.median(c[(step, "seed")])
    vc = statistics.median(c[(step, "vidpipe")])
    print(f"{step:11} {s:7.2f} {v:10.2f} {s / v:5.2f}x {float(secs) / v:11.1f}x "
          f"{sc:9.2f} {vc:12.2f} {wer.get((step, 'seed'), '-'):>9} "
          f"{wer.get((step, 'vidpipe'), '-'):>12}")
PY
