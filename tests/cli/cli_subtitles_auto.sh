#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe subtitles auto end to end: three known sentences spoken by espeak-ng under a flat
# 320x240 picture. auto -> MP4: a mov_text track in English that ffmpeg reads back with the
# sidecar's words, whose word error rate stays under the bound cli_transcribe.sh pins, video
# and audio packets copied. auto --burn -> MKV with a WebVTT sidecar: pixels differ in the
# caption's region during a cue and nowhere outside the cues (burn_regions.py). Silence only:
# one note, both outputs in their usual shape (an empty sidecar, an empty caption track). No
# audio: one line, exit 2, nothing written. The overwrite rule for each output, before any
# work; Ctrl-C while transcribing and while burning leaves neither output; --help.
. "$VP_SRCDIR/tests/cli/lib.sh"

CHECK="python3 $VP_SRCDIR/tests/cli/transcribe_check.py"
PY=/usr/bin/python3
MODEL=/usr/share/pocketsphinx/model/en-us
if ! command -v espeak-ng >/dev/null || [ ! -d "$MODEL" ]; then
    echo "skipped: espeak-ng or $MODEL missing (scripts/install-deps.sh)" >&2
    exit 77
fi
"$PY" -c "import numpy" 2>/dev/null || { echo "skipped: no numpy for $PY"; exit 77; }
cd "$WORK" || exit 1
mkdir tmp
TMPDIR=$WORK/tmp
export TMPDIR

# The sentences and the bound of cli_transcribe.sh: pocketsphinx with 2 decoders reaches
# WER 0.44 here (12 errors in 27 words); a shuffle of the reference scores 0.9 and more.
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
# A flat picture: whatever differs after the burn's encode is the caption, not codec noise.
ffmpeg -nostdin -v error -y -f lavfi -i "color=c=0x3060a0:s=320x240:r=25:d=14" \
    -i s1.wav -i s2.wav -i s3.wav -filter_complex \
    "[1]adelay=1000:all=1[a1];[2]adelay=5500:all=1[a2];[3]adelay=9500:all=1[a3];
     [a1][a2][a3]amix=inputs=3:normalize=0,apad,atrim=0:14[a]" \
    -map 0:v -map "[a]" -c:v libx264 -preset fast -pix_fmt yuv420p -c:a aac -ar 48000 -ac 2 \
    speech.mp4 || fail "making speech.mp4"
dur() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }
speech=$(awk -v a="$(dur s1.wav)" -v b="$(dur s2.wav)" -v c="$(dur s3.wav)" \
    'BEGIN { printf "1.0-%.2f,5.5-%.2f,9.5-%.2f", 1 + a, 5.5 + b, 9.5 + c }')
ffmpeg -nostdin -v error -y -f lavfi -i "color=c=0x3060a0:s=320x240:r=25:d=3" -f lavfi \
    -i "anullsrc=r=48000:cl=stereo" -t 3 -c:v libx264 -preset ultrafast -c:a aac silent.mp4
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc=s=160x120:r=10:d=2" -c:v libx264 \
    -preset ultrafast noaudio.mp4
# SUBS: "START END" of each cue, seconds, one a line
cue_times() {
    "$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import transcribe_check as t
for a, z, _ in t.cues(sys.argv[2]): print("%.3f %.3f" % (a, z))' "$VP_SRCDIR/tests/cli" "$1"
}
packets() { ffmpeg -nostdin -v error -i "$1" -map "0:$2" -c copy -f framemd5 - | grep -v '^#'; }

# ---- auto -> MP4: a soft track ---------------------------------------------------------
run "$VIDPIPE" subtitles auto speech.mp4 -o soft.mp4 --threads 2
assert_eq "$RC" 0 "auto: exit ($ERR)"
assert_contains "$OUT" "soft.mp4: video and audio copied, " "auto: summary"
assert_contains "$OUT" "as a soft track (eng); soft.srt in " "auto: summary names the sidecar"
assert_eq "$ERR" "" "auto: nothing on stderr"
check; [ -s soft.srt ] || fail "auto: no sidecar soft.srt"
$CHECK text soft.srt > hyp.txt
wer=$($CHECK wer ref.txt hyp.txt "$WER_BOUND")
rc=$?
check; [ "$rc" = 0 ] || fail "sidecar WER $wer above $WER_BOUND: '$(cat hyp.txt)'"
echo "WER $wer (bound $WER_BOUND): $(cat hyp.txt)"
problems=$($CHECK rules soft.srt 42 2 "$speech")
check; [ -z "$problems" ] || fail "soft.srt against the rules and the speech: $problems"
assert_eq "$(ffprobe -v error -select_streams s -of csv=p=0 \
             -show_entries stream=codec_name:stream_tags=language soft.mp4)" "mov_text,eng" \
    "auto: one mov_text track in English"
ffmpeg -nostdin -v error -i soft.mp4 -map 0:s -f srt track.srt || fail "reading the track"
assert_eq "$($CHECK text track.srt)" "$(cat hyp.txt)" "the track's words are the sidecar's"
assert_eq "$(cue_times track.srt)" "$(cue_times soft.srt)" "the track's times are the sidecar's"
for st in v a; do
    check; [ "$(packets speech.mp4 $st | cut -d, -f3-)" = \
             "$(packets soft.mp4 $st | cut -d, -f3-)" ] || fail "auto: $st packets not copied"
done

# ---- auto --burn -> MKV, WebVTT sidecar: the captions in the picture --------------------
run "$VIDPIPE" subtitles auto speech.mp4 -o burned.mkv --burn --sidecar burned.vtt \
    --threads 2 --preset ultrafast --style "Fontname=DejaVu Sans" --json
assert_eq "$RC" 0 "auto --burn: exit ($ERR)"
assert_eq "$ERR" "" "auto --burn: nothing on stderr"
assert_eq "$(echo "$OUT" | jq -r '.command, .input, .output, .sidecar, .mode')" \
"subtitles auto
speech.mp4
burned.mkv
burned.vtt
burn" "--json: fields"
assert_eq "$(echo "$OUT" | jq -r .cues)" "$(grep -c -- '-->' burned.vtt)" "--json: cues"
assert_eq "$(echo "$OUT" | jq -r '.words')" "$(wc -w < hyp.txt | tr -d ' ')" "--json: words"
assert_near "$(echo "$OUT" | jq -r .audio_seconds)" 14 0.05 "--json: audio_seconds"
check; echo "$OUT" | jq -e '.seconds > 0 and .seconds >= .transcribe_seconds' >/dev/null \
    || fail "--json: seconds"
assert_eq "$(head -n 1 burned.vtt)" "WEBVTT" "--sidecar .vtt: a WebVTT file"
assert_eq "$($CHECK text burned.vtt)" "$(cat hyp.txt)" "--burn: the same words"
assert_eq "$(ffprobe -v error -show_entries stream=codec_type,codec_name -of csv=p=0 burned.mkv)" \
"h264,video
aac,audio" "--burn: H.264 and the audio, no subtitle track"
# A frame in the middle of each cue has the caption at the bottom (and nothing at the top);
# frames before the first cue and after the last are the source's.
frames=$(cue_times burned.vtt | awk '{ printf "%d ", (($1 + $2) / 2) * 25 }
                                    END { printf "%d %d", 5, 14 * 25 - 3 }')
r=$("$PY" "$VP_SRCDIR/tests/cli/burn_regions.py" speech.mp4 burned.mkv $frames)
check; [ "$(echo "$r" | wc -l)" -ge 4 ] || fail "burn_regions: $r"
n=$(echo "$r" | wc -l)
echo "$r" | head -n $((n - 2)) | while read -r line; do
    echo "$line" | awk '{ exit !($5 == 0 && $8 > 150) }' || echo "cue frame: $line"
done > bad_frames.txt
echo "$r" | tail -n 2 | while read -r line; do
    echo "$line" | awk '{ exit !($4 < 1.0 && $5 == 0 && $7 < 1.0 && $8 == 0) }' ||
        echo "frame outside the cues: $line"
done >> bad_frames.txt
check; [ ! -s bad_frames.txt ] || fail "--burn: $(cat bad_frames.txt)"
# (sizes and hashes: Matroska counts time in ms and trims the priming samples its own way)
check; [ "$(packets speech.mp4 a | cut -d, -f5-6)" = "$(packets burned.mkv a | cut -d, -f5-6)" ] \
    || fail "--burn: audio packets not copied"

# ---- silence: a note, both outputs in their usual shape --------------------------------
run "$VIDPIPE" subtitles auto silent.mp4 -o silent.mkv
assert_eq "$RC" 0 "silence: exit"
assert_eq "$ERR" "vidpipe: warning: silent.mp4: no speech found (3.0 s of audio): no captions" \
    "silence: one note"
assert_contains "$OUT" "0 captions (0 words) as a soft track" "silence: summary"
check; [ -f silent.srt ] && [ ! -s silent.srt ] || fail "silence: sidecar not empty"
types=$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 silent.mkv | tr '\n' ' ')
assert_eq "$types" "video audio subtitle " "silence: video, audio and an empty caption track"
run "$VIDPIPE" -q subtitles auto silent.mp4 -o silent_b.mp4 --burn --preset ultrafast --json
assert_eq "$RC" 0 "silence --burn: exit ($ERR)"
assert_eq "$(echo "$OUT" | jq -r .cues)" 0 "silence --burn: no cues"
assert_eq "$(ffprobe -v error -select_streams v -show_entries stream=codec_name,nb_frames \
             -of csv=p=0 silent_b.mp4)" "h264,75" "silence --burn: encoded, every frame"

# ---- no audio, bad command lines: one line, nothing written ----------------------------
run "$VIDPIPE" subtitles auto noaudio.mp4 -o na.mp4
assert_eq "$RC" 2 "no audio: exit"
assert_eq "$ERR" "vidpipe: noaudio.mp4: has no audio stream" "no audio: one line"
check; [ ! -e na.mp4 ] && [ ! -e na.srt ] || fail "no audio: an output was written"
run "$VIDPIPE" subtitles auto missing.mp4 -o m.mp4
assert_eq "$RC" 2 "missing input: exit"
assert_contains "$ERR" "missing.mp4: " "missing input: named"
run "$VIDPIPE" subtitles auto speech.mp4 -o m.avi
assert_eq "$RC" 3 "output not .mp4/.mov/.mkv: exit"
assert_eq "$ERR" "vidpipe: subtitles auto: m.avi: name the output .mp4, .mov or .mkv" \
    "output not .mp4/.mov/.mkv: one line"
run "$VIDPIPE" subtitles auto speech.mp4 -o m.mp4 --sidecar m.txt
assert_eq "$RC" 3 "--sidecar not .srt/.vtt: exit"
run "$VIDPIPE" subtitles auto speech.mp4 -o m.mp4 --crf 18
assert_eq "$RC" 3 "--crf without --burn: exit"
assert_contains "$ERR" "give them with --burn" "--crf without --burn: said"
run "$VIDPIPE" subtitles auto speech.mp4 -o m.mp4 --burn --style "Glow=3"
assert_eq "$RC" 3 "bad style: exit"
assert_contains "$ERR" "unknown key 'Glow'" "bad style: named"
run "$VIDPIPE" subtitles auto speech.mp4 -o m.mp4 --max-lines 9
assert_eq "$RC" 3 "--max-lines out of range: exit"
run "$VIDPIPE" subtitles auto speech.mp4 -o m.mp4 --model-dir "$WORK/nomodel"
assert_eq "$RC" 3 "missing model: exit"
assert_contains "$ERR" "$WORK/nomodel/en-us/en-us: pocketsphinx model folder not found" \
    "missing model: the path"
check; [ ! -e m.mp4 ] && [ ! -e m.srt ] || fail "a refused command line wrote an output"

# ---- the overwrite rule, for each output, before any work ------------------------------
run "$VIDPIPE" subtitles auto speech.mp4 -o soft.mp4
assert_eq "$RC" 3 "existing output without -y: exit"
assert_eq "$ERR" "vidpipe: soft.mp4: already exists (use -y to overwrite)" "existing output"
cp soft.srt only.srt
run "$VIDPIPE" subtitles auto speech.mp4 -o only.mp4
assert_eq "$RC" 3 "existing sidecar without -y: exit"
assert_eq "$ERR" "vidpipe: only.srt: already exists (use -y to overwrite)" "existing sidecar"
check; [ ! -e only.mp4 ] || fail "existing sidecar: the video was written"
run "$VIDPIPE" subtitles auto speech.mp4 -o only.mp4 -n
assert_eq "$RC" 0 "-n with an existing sidecar: exit"
check; [ ! -e only.mp4 ] && cmp -s only.srt soft.srt || fail "-n touched something"
run "$VIDPIPE" subtitles auto speech.mp4 -o speech.mp4 -y
assert_eq "$RC" 3 "output is the input: exit"

# ---- Ctrl-C: neither output, while transcribing and while burning ----------------------
# Two minutes of a tone 2 s on, 1 s off keep one decoder busy for about 8 s (a steady tone
# would not: the gate's floor rises to it); a minute of silence under a big picture makes
# the transcription quick and the burn (veryslow) long: the sidecar appears, then goes again.
tone=$(media auto_tone.mp4 -f lavfi -i color=c=gray:s=160x120:r=5:d=120 -f lavfi \
       -i "sine=f=300:d=120,volume='if(lt(mod(t,3),2),1,0)':eval=frame" \
       -c:v libx264 -preset ultrafast -c:a aac)
sigint_ok "$VIDPIPE" subtitles auto "$tone" -o int1.mp4 --threads 1 >/dev/null 2>int1.err &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
assert_eq "$rc" 130 "SIGINT while transcribing: exit"
check; [ ! -e int1.mp4 ] && [ ! -e int1.srt ] || fail "SIGINT while transcribing left an output"
quiet=$(media auto_quiet.mp4 -f lavfi -i testsrc2=s=640x480:r=25:d=60 -f lavfi \
        -i "anullsrc=r=48000:cl=mono" -t 60 -c:v libx264 -preset ultrafast -c:a aac)
sigint_ok "$VIDPIPE" subtitles auto "$quiet" -o int2.mp4 --burn --preset veryslow \
    >/dev/null 2>int2.err &
pid=$!
k=0
while [ ! -e int2.srt ] && [ $k -lt 200 ]; do sleep 0.1; k=$((k + 1)); done
check; [ -e int2.srt ] || fail "the sidecar never appeared before the burn"
sleep 0.3
kill -INT "$pid"
wait "$pid"
rc=$?
assert_eq "$rc" 130 "SIGINT while burning: exit"
assert_contains "$(cat int2.err)" "interrupted by SIGINT; no partial output left" \
    "SIGINT while burning: said"
check; [ ! -e int2.mp4 ] && [ ! -e int2.srt ] || fail "SIGINT while burning left an output"

# ---- --help, no temporaries ------------------------------------------------------------
run "$VIDPIPE" subtitles auto --help
assert_eq "$RC" 0 "--help: exit"
assert_contains "$OUT" "Usage: vidpipe subtitles auto IN -o OUT" "--help: usage"
assert_contains "$OUT" "--sidecar FILE" "--help: --sidecar"
assert_contains "$OUT" "--max-chars N" "--help: the transcribe rows"
assert_contains "$OUT" "--style KEY=VALUE" "--help: the burn rows"
run "$VIDPIPE" subtitles --help
assert_contains "$OUT" "  auto " "subtitles --help lists auto"
assert_eq "$(ls -A tmp)" "" "temporary files left in TMPDIR"
assert_eq "$(ls -A | grep vptmp)" "" "temporary outputs left"
finish
