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

# frame_md5s FILE...: the MD5 of every decoded video frame, in order
frame_md5s() {
    for f in "$@"; do
        ffmpeg -nostdin -v error -i "$f" -map 0:v -f framemd5 - | grep -v '^#' | \
            awk -F, '{ gsub(/ /, "", $6); print $6 }'
    done
}

# measure OUT "FRAMES..." "OFFSET[:ALEN]...": join_measure's ($VP_JOIN_MEASURE) report for
# OUT, each segment starting at the output pts of its first frame
measure() {
    out=$1 frames=$2 specs=$3
    # (cut: a packet that switches sample entry carries new-extradata side data, which csv
    # prints as a further field and an empty line)
    ffprobe -v error -select_streams v -show_entries packet=pts_time -of csv=p=0 "$out" | \
        cut -d, -f1 | grep . | sort -g > "$WORK/pts"
    ffmpeg -nostdin -v error -y -i "$out" -ac 1 -f f32le "$WORK/pcm"
    idx=1 args=""
    set -- $specs
    for n in $frames; do
        args="$args $(sed -n "${idx}p" "$WORK/pts"):$1"
        shift
        idx=$((idx + n))
    done
    "$VP_JOIN_MEASURE" "$WORK/pcm" 48000 $args
}
summary_value() { # REPORT FIELD-INDEX
    echo "$1" | grep '^summary' | awk -v i="$2" '{ print $i }'
}

# audio_out_of_order FILE: how many audio samples lie in the file before an earlier one in
# decode order (0 expected). Chromium's <video src> playback (FFmpegDemuxerStream::
# EnqueuePacket) drops every audio packet whose position is below the last one it kept, so
# each such frame moves the rest of the audio a frame (21.3 ms at 48 kHz) ahead of the video.
audio_out_of_order() {
    ffprobe -v error -select_streams a -show_entries packet=pos -of csv=p=0 "$1" | \
        cut -d, -f1 | grep . | awk 'NR > 1 && $1 <= last { n++; next } { last = $1 } END { print n + 0 }'
}
