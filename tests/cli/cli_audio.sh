#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe loudnorm and replace-audio: loudness measured independently (ffmpeg ebur128), the
# video stream copied packet for packet, offsets, --shortest, length warnings, bad inputs.
. "$VP_SRCDIR/tests/cli/lib.sh"

src=$(toolbox_av)
noaudio=$(toolbox_video)
# Pink noise peaking near full scale: too loud at the peaks for one gain (dynamic mode).
noisy=$(media tb_noise.mp4 -f lavfi -i testsrc2=s=160x120:r=30:d=6 \
      -f lavfi -i "anoisesrc=d=6:a=0.9:c=pink:seed=7" -c:v libx264 -preset fast \
      -pix_fmt yuv420p -c:a aac -b:a 128k)
voice=$(media tb_voice.m4a -f lavfi -i "sine=f=1000:d=4" -c:a aac)
long=$(media tb_long.m4a -f lavfi -i "sine=f=1000:d=9" -c:a aac)

ebur() { # FILE -> "I TP"
    ffmpeg -nostdin -i "$1" -vn -af ebur128=peak=true -f null - 2>&1 | python3 -c '
import re, sys
t = sys.stdin.read().split("Summary:")[-1]
print(re.search(r"I:\s+(-?[\d.]+)", t).group(1), re.search(r"Peak:\s+(-?[\d.inf]+)", t).group(1))'
}
vmd5() { ffmpeg -nostdin -v error -i "$1" -map 0:v -c copy -f framemd5 - | grep -v '^#'; }

# ---- loudnorm ----
run "$VIDPIPE" loudnorm "$src" -o "$WORK/n.mp4" --json
assert_eq "$RC" 0 "loudnorm exit"
set -- $(ebur "$WORK/n.mp4")
assert_near "$1" -16 1 "loudnorm: -16 LUFS as ffmpeg measures it"
check
awk -v tp="$2" 'BEGIN { exit !(tp <= -1.0) }' || fail "loudnorm: true peak $2 over the target"
mode=$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["mode"])')
assert_eq "$mode" "linear" "loudnorm: one gain when the targets allow it"
assert_eq "$(vmd5 "$WORK/n.mp4" | md5sum)" "$(vmd5 "$src" | md5sum)" "loudnorm: video packets copied"
assert_eq "$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$WORK/n.mp4")" \
    "aac" "loudnorm: AAC"

ffmpeg -nostdin -v error -y -i "$src" -c copy -metadata:s:v:0 rotate=90 "$WORK/rot.mp4"
run "$VIDPIPE" loudnorm "$WORK/rot.mp4" -o "$WORK/nr.mp4"
r=$(ffprobe -v error -show_entries stream_side_data=rotation -of csv=p=0 "$WORK/nr.mp4" | grep -v '^$' | head -1)
assert_eq "$r" "90" "copied video keeps its display matrix"

run "$VIDPIPE" loudnorm "$noisy" -o "$WORK/n2.mp4" --i -14 --tp -1 --lra 7 --json
assert_eq "$RC" 0 "loudnorm dynamic exit"
set -- $(ebur "$WORK/n2.mp4")
assert_near "$1" -14 1 "loudnorm dynamic: -14 LUFS"
mode=$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["mode"])')
assert_eq "$mode" "dynamic" "loudnorm: dynamic mode when one gain would clip"

run "$VIDPIPE" loudnorm "$noaudio" -o "$WORK/n3.mp4"
assert_eq "$RC" 2 "loudnorm without audio exit"
assert_eq "$ERR" "vidpipe: $noaudio: has no audio stream" "loudnorm without audio message"
check
[ ! -e "$WORK/n3.mp4" ] || fail "nothing left for a bad input"

# Audio alone (a podcast, a dub) is normalized too, keeping its codec where the container
# takes it: FLAC in .flac, MP3 in .mp3, PCM in .wav, AAC in .m4a.
tone() { media "$1" -f lavfi -i "sine=f=1000:d=4" $2; }
for f in "$voice m4a aac" "$(tone tb_voice.flac '-c:a flac') flac flac" \
    "$(tone tb_voice.mp3 '-c:a libmp3lame') mp3 mp3" \
    "$(tone tb_voice.wav '-c:a pcm_s16le') wav pcm_s16le"; do
    set -- $f
    run "$VIDPIPE" loudnorm "$1" -o "$WORK/pod.$2"
    assert_eq "$RC" 0 "loudnorm audio-only .$2 exit"
    assert_eq "$ERR" "" "loudnorm audio-only .$2: nothing on stderr"
    assert_eq "$(ffprobe -v error -show_entries stream=codec_type,codec_name -of csv=p=0 \
        "$WORK/pod.$2")" "$3,audio" "loudnorm audio-only .$2 keeps $3"
    set -- $(ebur "$WORK/pod.$2")
    assert_near "$1" -16 1 "loudnorm audio-only: -16 LUFS as ffmpeg measures it"
done
# In a folder each output keeps its input's extension, and with it the codec.
mkdir -p "$WORK/pods"
cp "$WORK/pod.flac" "$WORK/pods/a.flac"
cp "$WORK/pod.mp3" "$WORK/pods/b.mp3"
run "$VIDPIPE" loudnorm "$WORK/pods" -o "$WORK/pods_out"
assert_eq "$RC" 0 "loudnorm audio folder exit"
assert_eq "$(ls "$WORK/pods_out" | tr '\n' ' ')" "a.flac b.mp3 " "loudnorm folder: extensions kept"
assert_eq "$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$WORK/pods_out/a.flac")" \
    "flac" "loudnorm folder: FLAC stays FLAC"

# An output container that cannot hold the codecs names the output and why, and writes
# nothing; a WebM source keeps its VP9 and Opus in .webm.
run "$VIDPIPE" loudnorm "$src" -o "$WORK/n.webm"
assert_eq "$RC" 4 "loudnorm H.264 into .webm exit"
assert_contains "$ERR" "vidpipe: $WORK/n.webm: the webm container cannot hold h264 video" \
    "loudnorm .webm: the output and the codec named"
assert_not_contains "$ERR" "$src:" "loudnorm .webm: the input is not blamed"
check
[ -z "$(ls -A "$WORK" | grep webm)" ] || fail "loudnorm .webm left $(ls -A "$WORK" | grep webm)"
vp9=$(media tb_vp9.webm -f lavfi -i testsrc2=s=160x120:r=30:d=2 -f lavfi -i sine=d=2 \
    -c:v libvpx-vp9 -deadline realtime -c:a libopus)
run "$VIDPIPE" loudnorm "$vp9" -o "$WORK/o.webm"
assert_eq "$RC" 0 "loudnorm webm exit"
assert_eq "$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$WORK/o.webm" | \
    tr '\n' ' ')" "vp9 opus " "loudnorm webm keeps VP9 and Opus"

# ---- replace-audio ----
run "$VIDPIPE" replace-audio "$src" "$voice" -o "$WORK/r.mp4" --offset-ms 500
assert_eq "$RC" 0 "replace-audio exit"
assert_contains "$ERR" "warning: $voice: the audio (4." "length mismatch warned"
assert_eq "$(vmd5 "$WORK/r.mp4" | md5sum)" "$(vmd5 "$src" | md5sum)" "replace-audio: video copied"
sil=$(ffmpeg -nostdin -i "$WORK/r.mp4" -vn -af silencedetect=n=-40dB:d=0.1 -f null - 2>&1 | \
      sed -n 's/.*silence_end: \([0-9.]*\).*/\1/p' | head -1)
assert_near "$sil" 0.5 0.05 "positive offset delays the audio by 0.5 s"
tone=$(ffprobe -v error -select_streams a:0 -show_entries stream=duration -of csv=p=0 "$WORK/r.mp4")
assert_near "$tone" 4.5 0.1 "delayed audio lasts 4.5 s"

run "$VIDPIPE" replace-audio "$src" "$long" -o "$WORK/r2.mp4" --offset-ms -1000 --shortest
assert_eq "$RC" 0 "negative offset exit"
assert_eq "$ERR" "vidpipe: warning: $long: the audio (8.00 s with the offset) is 2.00 s longer than the video (6.00 s); cut to the shorter" \
    "longer audio warned"
d=$(ffprobe -v error -select_streams a:0 -show_entries stream=duration -of csv=p=0 "$WORK/r2.mp4")
assert_near "$d" 6.0 0.05 "--shortest cuts the audio at the video's end"
sil=$(ffmpeg -nostdin -i "$WORK/r2.mp4" -vn -af silencedetect=n=-40dB:d=0.05 -f null - 2>&1 | grep -c silence_start)
assert_eq "$sil" 0 "negative offset: no silence at the start"

run "$VIDPIPE" replace-audio "$src" "$voice" -o "$WORK/r3.mp4" --shortest --json
d=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$WORK/r3.mp4")
assert_near "$d" 120 2 "--shortest with shorter audio cuts the video at 4 s"

run "$VIDPIPE" replace-audio "$src" "$noaudio" -o "$WORK/r4.mp4"
assert_eq "$RC" 2 "audio file without audio exit"
assert_eq "$ERR" "vidpipe: $noaudio: has no audio stream" "names the audio file"
run "$VIDPIPE" replace-audio "$voice" "$voice" -o "$WORK/r5.mp4"
assert_eq "$ERR" "vidpipe: $voice: has no video stream" "video file without video"
run "$VIDPIPE" replace-audio "$src" "$WORK/missing.wav" -o "$WORK/r6.mp4"
assert_eq "$ERR" "vidpipe: $WORK/missing.wav: no such file or directory" "missing audio file"
# Folders: each video with the audio file of the same name.
mkdir -p "$WORK/vids" "$WORK/auds"
cp "$src" "$WORK/vids/one.mp4"
cp "$src" "$WORK/vids/two.mp4"
cp "$voice" "$WORK/auds/one.m4a"
run "$VIDPIPE" replace-audio "$WORK/vids" "$WORK/auds" -o "$WORK/outs" --shortest --json
assert_eq "$RC" 2 "folders: a video without its audio file"
assert_contains "$ERR" "vidpipe: $WORK/vids/two.mp4: no audio file of the same name" "folders: unmatched video named"
st=$(echo "$OUT" | python3 -c 'import json,sys; print(" ".join(i["status"] for i in json.load(sys.stdin)["items"]))')
assert_eq "$st" "done failed" "folders: per-item outcome"
d=$(ffprobe -v error -select_streams a:0 -show_entries stream=duration -of csv=p=0 "$WORK/outs/one.mp4")
assert_near "$d" 4.0 0.1 "folders: the matching audio file was used"
assert_eq "$(ls -A "$WORK/outs")" "one.mp4" "folders: nothing for the unmatched video"

left=$(ls -A "$WORK" | grep -E '^r[456]|vptmp' || true)
assert_eq "$left" "" "nothing left behind"

finish
