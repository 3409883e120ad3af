#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe subtitles transcribe end to end: three known sentences spoken by espeak-ng, placed
# at 1, 7 and 13 s with silence between and mixed into a generated video (AAC, 160x120).
# The transcript's word error rate against the known text stays under a bound that a
# shuffled or unrelated transcript breaks; every caption overlaps its sentence and every
# sentence has one; the caption rules hold in SRT and WebVTT, with the defaults and with
# narrow lines. Silence only gives a valid empty file said once; a file without audio and a
# missing model are one line naming the file; the command line's mistakes.
. "$VP_SRCDIR/tests/cli/lib.sh"

CHECK="python3 $VP_SRCDIR/tests/cli/transcribe_check.py"
MODEL=/usr/share/pocketsphinx/model/en-us
if ! command -v espeak-ng >/dev/null || [ ! -d "$MODEL" ]; then
    echo "skipped: espeak-ng or $MODEL missing (scripts/install-deps.sh)" >&2
    exit 77
fi
cd "$WORK" || exit 1

# What pocketsphinx 0.8+5prealpha with the en-us model reaches on these sentences (espeak-ng
# 1.51, voice en-us+m3, 150 words a minute, 80 ms between words), with 2 decoders (pinned:
# the words depend on how many there are): WER 0.41 (11 errors in 27 words; the pangram is
# the hardest; 1 decoder: 0.37). A shuffle of the reference scores 0.9 and more.
WER_BOUND=0.55
S1="The quick brown fox jumps over the lazy dog."
S2="We will meet at the station tomorrow morning."
S3="Please turn off the lights before you leave the house."
printf '%s %s %s\n' "$S1" "$S2" "$S3" > ref.txt
i=0
for s in "$S1" "$S2" "$S3"; do
    i=$((i + 1))
    espeak-ng -v en-us+m3 -s 150 -g 8 -w "s$i.wav" "$s" || fail "espeak-ng sentence $i"
done
dur() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }
speech=$(awk -v a="$(dur s1.wav)" -v b="$(dur s2.wav)" -v c="$(dur s3.wav)" \
    'BEGIN { printf "1.0-%.2f,7.0-%.2f,13.0-%.2f", 1 + a, 7 + b, 13 + c }')
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc=s=160x120:r=10:d=19" \
    -i s1.wav -i s2.wav -i s3.wav -filter_complex \
    "[1]adelay=1000:all=1[a1];[2]adelay=7000:all=1[a2];[3]adelay=13000:all=1[a3];
     [a1][a2][a3]amix=inputs=3:normalize=0,aresample=16000,apad,atrim=0:19[a]" \
    -map 0:v -map "[a]" -c:v libx264 -preset ultrafast -c:a aac -ac 1 -ar 16000 speech.mp4 \
    || fail "making speech.mp4"
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc=s=160x120:r=10:d=4" -f lavfi \
    -i "anullsrc=r=16000:cl=mono" -t 4 -c:v libx264 -preset ultrafast -c:a aac silent.mp4
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc=s=160x120:r=10:d=2" -c:v libx264 \
    -preset ultrafast noaudio.mp4

# ---- speech --------------------------------------------------------------------------
run "$VIDPIPE" subtitles transcribe speech.mp4 -o speech.srt --threads 2
assert_eq "$RC" 0 "transcribe: exit"
assert_contains "$OUT" "speech.srt: " "transcribe: summary"
assert_contains "$OUT" "from 19.0 s of audio" "transcribe: the audio's length"
assert_eq "$ERR" "" "transcribe: nothing on stderr"
$CHECK text speech.srt > hyp.txt
wer=$($CHECK wer ref.txt hyp.txt "$WER_BOUND")
rc=$?
check; [ "$rc" = 0 ] || fail "WER $wer above $WER_BOUND: '$(cat hyp.txt)'"
echo "WER $wer (bound $WER_BOUND): $(cat hyp.txt)"
problems=$($CHECK rules speech.srt 42 2 "$speech")
check; [ -z "$problems" ] || fail "speech.srt against the rules and $speech: $problems"

# The WER check itself fails on garbage: the reference shuffled, and unrelated words.
tr ' ' '\n' < ref.txt | awk 'NF { print NR % 7, $0 }' | sort -n | cut -d' ' -f2- \
    | tr '\n' ' ' > shuffled.txt
echo "colourless green ideas sleep furiously in the garden of forking paths" > unrelated.txt
printf '' > empty.txt
for g in shuffled unrelated empty; do
    w=$($CHECK wer ref.txt $g.txt "$WER_BOUND")
    rc=$?
    check; [ "$rc" = 1 ] || fail "the WER check passes $g text (WER $w)"
done

# WebVTT with one narrow line a cue: more, shorter cues under the same rules.
run "$VIDPIPE" subtitles transcribe speech.mp4 -o narrow.vtt --max-chars 20 --max-lines 1 \
    --threads 2
assert_eq "$RC" 0 "transcribe narrow vtt: exit"
assert_eq "$(head -n 1 narrow.vtt)" "WEBVTT" "narrow.vtt: a WebVTT file"
problems=$($CHECK rules narrow.vtt 20 1 "$speech")
check; [ -z "$problems" ] || fail "narrow.vtt against the rules: $problems"
n_wide=$(grep -c -- '-->' speech.srt)
n_narrow=$(grep -c -- '-->' narrow.vtt)
check; [ "$n_narrow" -gt "$n_wide" ] || fail "narrow lines gave $n_narrow cues, not more than $n_wide"
check; [ "$($CHECK text narrow.vtt)" = "$(cat hyp.txt)" ] \
    || fail "narrow.vtt holds other words than speech.srt"

run "$VIDPIPE" subtitles transcribe speech.mp4 -o speech.srt
assert_eq "$RC" 3 "existing output without -y: exit"
run "$VIDPIPE" subtitles transcribe speech.mp4 -o j.srt --json --threads 2
assert_eq "$RC" 0 "--json: exit"
assert_eq "$(echo "$OUT" | jq -r '.command, .engine, .lang')" "subtitles transcribe
pocketsphinx
en-us" "--json: fields"
assert_near "$(echo "$OUT" | jq -r .audio_seconds)" 19 0.05 "--json: audio_seconds"
assert_eq "$(echo "$OUT" | jq -r .cues)" "$n_wide" "--json: cues"

# ---- bad input -----------------------------------------------------------------------
run "$VIDPIPE" subtitles transcribe silent.mp4 -o silent.srt
assert_eq "$RC" 0 "silence: exit"
assert_eq "$ERR" "vidpipe: warning: silent.mp4: no speech found (4.0 s of audio): silent.srt has no captions" \
    "silence: said once"
check; [ -f silent.srt ] && [ ! -s silent.srt ] || fail "silence: silent.srt not an empty file"
run "$VIDPIPE" subtitles convert silent.srt -o silent.vtt
assert_eq "$RC" 0 "silence: the empty SRT reads back"
run "$VIDPIPE" -q subtitles transcribe silent.mp4 -o silent2.vtt
assert_eq "$(cat silent2.vtt)" "WEBVTT" "silence: an empty WebVTT"

run "$VIDPIPE" subtitles transcribe noaudio.mp4 -o noaudio.srt
assert_eq "$RC" 2 "no audio: exit"
assert_eq "$ERR" "vidpipe: noaudio.mp4: has no audio stream" "no audio: one line"
check; [ ! -e noaudio.srt ] || fail "no audio: an output was written"

run "$VIDPIPE" subtitles transcribe speech.mp4 -o m.srt --model-dir "$WORK/nomodel"
assert_eq "$RC" 3 "missing model: exit"
assert_eq "$ERR" "vidpipe: $WORK/nomodel/en-us/en-us: pocketsphinx model folder not found (Debian: apt install pocketsphinx-en-us)" \
    "missing model: one line naming the path"
mkdir -p half/en-us/en-us
run "$VIDPIPE" subtitles transcribe speech.mp4 -o m.srt --model-dir "$WORK/half"
assert_eq "$ERR" "vidpipe: $WORK/half/en-us/en-us.lm.bin: pocketsphinx model file not found (Debian: apt install pocketsphinx-en-us)" \
    "missing language model: named"
run "$VIDPIPE" subtitles transcribe speech.mp4 -o m.srt --lang xx-yy
assert_eq "$RC" 3 "unknown language: exit"
assert_contains "$ERR" "/usr/share/pocketsphinx/model/xx-yy/xx-yy: pocketsphinx model folder not found" \
    "unknown language: the model path"
check; [ ! -e m.srt ] || fail "missing model: an output was written"

run "$VIDPIPE" subtitles transcribe missing.mp4 -o m.srt
assert_eq "$RC" 2 "missing input: exit"
assert_contains "$ERR" "missing.mp4: " "missing input: named"
run "$VIDPIPE" subtitles transcribe speech.mp4 -o m.txt
assert_eq "$RC" 3 "output not .srt/.vtt: exit"
run "$VIDPIPE" subtitles transcribe speech.mp4 -o m.srt --max-chars 5
assert_eq "$RC" 3 "--max-chars out of range: exit"
run "$VIDPIPE" subtitles transcribe speech.mp4 -o m.srt --threads 9
assert_eq "$RC" 3 "--threads out of range: exit"
# One decoder: the same rules, other words perhaps (each decoder adapts to what it heard).
run "$VIDPIPE" subtitles transcribe speech.mp4 -o one.srt --threads 1
assert_eq "$RC" 0 "--threads 1: exit"
problems=$($CHECK rules one.srt 42 2 "$speech")
check; [ -z "$problems" ] || fail "one.srt against the rules: $problems"
run "$VIDPIPE" subtitles transcribe speech.mp4 -o m.srt --engine whisper
assert_eq "$RC" 3 "unknown engine: exit"
assert_eq "$ERR" "vidpipe: speech.mp4: no speech engine called 'whisper' (there is pocketsphinx)" \
    "unknown engine: one line"
run "$VIDPIPE" subtitles --help
assert_contains "$OUT" "  transcribe " "subtitles --help lists transcribe"
finish
