#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# make_media.sh DIR: the channel tests' media, made once into DIR (safe when several tests
# ask at once: the first makes it under a lock, the others wait and reuse it).
#
#   ep1.mp4, ep2.mp4   episodes: 320x240 25 fps H.264 (x264 veryfast, keyint 25, B-frames),
#                      AAC 48 kHz stereo, 10 s and 9 s, break points 4.3 s and 5.5 s (cut at
#                      the keyframes 4.0 s and 5.0 s)
#   ad1.mp4            2.36 s, another SPS/PPS (x264 medium, Main profile, CRF 30, keyint 30)
#   ad2_44k.mp4        3.12 s, audio at 44.1 kHz (the channel must conform it)
#   ad3_loud.mp4       2.48 s, audio 10 dB louder than the episodes (must be normalised)
#   ad4_silent.mp4     2.20 s, no audio (must play with generated silence)
#   ad5_corrupt.mp4    a truncated MP4 (must be left out, the server still starts)
#   channels.json      channel 1 (both episodes, all ads, 2 per break) and channel 2
#   signals.json       for tests/live/seams.py: each file's signal time at its first frame
#                      (null: no audio) and its gain in dB against the episodes
#
# Every file carries the signal s(T) of tests/cli/join_measure.c (four incommensurate
# sines, scaled by 0.3 so the loud ad does not clip), T = BASE + time in the file, with a
# BASE per file, so the audio at any point of a capture says which file and which time it
# came from. Ad durations are not whole seconds, so keyframes after an ad fall off the
# episodes' 1 s grid.
set -eu
dir=$1
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
[ -s "$dir/channels.json" ] && exit 0

SIG='0.3*(0.25*sin(2*PI*440.7*T)+0.2*sin(2*PI*97.3*T)+0.15*sin(2*PI*31.7*T)+0.1*sin(2*PI*1234.5*T))'

# clip NAME FRAMES BASE GAIN_DB RATE VIDEO_SRC [ffmpeg output options]: FRAMES frames of
# VIDEO_SRC at 25 fps with s(BASE + t) * 10^(GAIN_DB/20) at RATE Hz (RATE 0: no audio)
clip() {
    name=$1 n=$2 base=$3 gain=$4 rate=$5 src=$6
    shift 6
    d=$(awk "BEGIN { printf \"%.6f\", $n / 25 }")
    e=$(echo "$SIG" | sed "s/T/(t+$base)/g")
    g=$(awk "BEGIN { printf \"%.6f\", exp(log(10) * $gain / 20) }")
    e="$g*$e"
    if [ "$rate" = 0 ]; then
        set -- -f lavfi -i "$src=s=320x240:r=25:d=$d" "$@" -an
    else
        set -- -f lavfi -i "$src=s=320x240:r=25:d=$d" \
            -f lavfi -i "aevalsrc=$e|$e:s=$rate:d=$d" -c:a aac -b:a 128k "$@"
    fi
    ffmpeg -nostdin -v error -y "$@" -t "$d" -pix_fmt yuv420p "$dir/.tmp-$name"
    mv "$dir/.tmp-$name" "$dir/$name"
}

EP="-c:v libx264 -preset veryfast -g 25 -keyint_min 25 -sc_threshold 0"
clip ep1.mp4 250 0 0 48000 testsrc2 $EP
clip ep2.mp4 225 100 0 48000 testsrc $EP
clip ad1.mp4 59 1000 0 48000 smptebars -c:v libx264 -preset medium -profile:v main -crf 30 \
    -g 30 -keyint_min 30
clip ad2_44k.mp4 78 1100 0 44100 rgbtestsrc -c:v libx264 -preset ultrafast -g 25
clip ad3_loud.mp4 62 1200 10 48000 smptehdbars -c:v libx264 -preset faster -tune fastdecode \
    -g 25
clip ad4_silent.mp4 55 0 0 0 testsrc2 -c:v libx264 -preset veryfast -profile:v baseline -g 25
cp "$dir/ad1.mp4" "$dir/.tmp-corrupt"
size=$(wc -c < "$dir/.tmp-corrupt")
head -c $((size * 2 / 5)) "$dir/.tmp-corrupt" > "$dir/ad5_corrupt.mp4"
rm -f "$dir/.tmp-corrupt"

cat > "$dir/signals.json" <<'JSON'
{"ep1.mp4": {"base": 0, "gain_db": 0}, "ep2.mp4": {"base": 100, "gain_db": 0},
 "ad1.mp4": {"base": 1000, "gain_db": 0}, "ad2_44k.mp4": {"base": 1100, "gain_db": 0},
 "ad3_loud.mp4": {"base": 1200, "gain_db": 10}, "ad4_silent.mp4": {"base": null, "gain_db": 0}}
JSON

# The schedule starts when the media was made: a test that starts later tunes in somewhere
# in the middle, as a viewer of a real channel does.
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat > "$dir/.tmp-channels.json" <<JSON
{"channels": [
  {"number": 1, "name": "Live Test One", "start": "$start",
   "items": [{"file": "ep1.mp4", "title": "Episode 1", "breaks": [4.3]},
             {"file": "ep2.mp4", "title": "Episode 2", "breaks": [5.5]}],
   "ads": ["ad1.mp4", "ad2_44k.mp4", "ad3_loud.mp4", "ad4_silent.mp4", "ad5_corrupt.mp4"],
   "ads_per_break": 2, "loudness": -23, "on_demand": true, "stop_after": 5},
  {"number": 2, "name": "Live Test Two", "start": "$start",
   "items": [{"file": "ep2.mp4", "title": "Episode 2", "breaks": [3.5]}],
   "ads": ["ad1.mp4"], "ads_per_break": 1, "on_demand": true, "stop_after": 5}
]}
JSON
mv "$dir/.tmp-channels.json" "$dir/channels.json"
