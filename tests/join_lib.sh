# SPDX-License-Identifier: LGPL-2.1-or-later
# Segments for the join tests (sourced after lib.sh).

# The signal every segment carries, as a function of T (seconds); join_measure knows it.
SIG='0.25*sin(2*PI*440.7*T)+0.2*sin(2*PI*97.3*T)+0.15*sin(2*PI*31.7*T)+0.1*sin(2*PI*1234.5*T)'

# seg NAME FRAMES OFFSET_FRAMES AUDIO_EXTRA_S [ffmpeg output options]: FRAMES frames of
# testsrc starting at frame OFFSET_FRAMES (so every segment's pictures differ), 24 fps
# 160x120, with the signal from T = OFFSET_FRAMES/24, AUDIO_EXTRA_S longer than the video.
seg() {
    name=$1 n=$2 off=$3 extra=$4
    shift 4
    d=$(awk "BEGIN { printf \"%.6f\", $n / 24 }")
    o=$(awk "BEGIN { printf \"%.6f\", $off / 24 }")
    ad=$(awk "BEGIN { printf \"%.6f\", $n / 24 + $extra }")
    e=$(echo "$SIG" | sed "s/T/(t+$o)/g")
    media "$name" -f lavfi -i "testsrc=s=160x120:r=24:d=60" \
        -f lavfi -i "aevalsrc=$e:s=48000:d=$ad" \
        -vf "trim=start_frame=$off:end_frame=$((off + n)),setpts=PTS-STARTPTS,format=yuv420p" \
        -c:a aac -b:a 96k "$@"
}

