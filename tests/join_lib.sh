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


# join_segments: sets A..G to seven segments that differ where joins go wrong: A and G
# plain; B with B-frames; C with another profile, SPS/PPS and time base; D without audio;
# E with audio 0.3 s longer than its video, F 0.4 s shorter.
join_segments() {
    A=$(seg j_a.mp4 25 0 0 -c:v libx264 -preset ultrafast -g 12)
    B=$(seg j_b.mp4 31 25 0 -c:v libx264 -preset veryfast -x264-params bframes=3:b-adapt=0 -g 12)
    C=$(seg j_c.mp4 37 56 0 -c:v libx264 -preset medium -profile:v main -crf 30 -g 24 \
        -video_track_timescale 90000)
    D=$(seg j_d.mp4 29 93 0 -c:v libx264 -preset ultrafast -g 12 -an)
    E=$(seg j_e.mp4 27 122 0.3 -c:v libx264 -preset ultrafast -g 12)
    F=$(seg j_f.mp4 33 149 -0.4 -c:v libx264 -preset ultrafast -g 12)
    G=$(seg j_g.mp4 26 182 0 -c:v libx264 -preset ultrafast -g 12)
}

