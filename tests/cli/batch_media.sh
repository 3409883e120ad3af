# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the vidpipe batch tests after lib.sh: tiny trios and how to check outputs.

# Tiny portrait H.264 + AAC at 24 fps, a keyframe every second, like the real trios.
av() { # name seconds size tone
    media "$1" -f lavfi -i "testsrc2=s=$3:r=24:d=$2" -f lavfi -i "sine=f=$4:r=48000:d=$2" \
        -c:v libx264 -preset ultrafast -g 24 -pix_fmt yuv420p -c:a aac -b:a 48k
}
INTRO=$(av batch_intro.mp4 2 128x224 440)
OUTRO=$(av batch_outro.mp4 1 128x224 660)
CLIP_A=$(av batch_clip_a.mp4 1 128x224 880)
CLIP_B=$(av batch_clip_b.mp4 1 128x224 990)
FRAMES=96   # 48 + 24 + 24

vframes() {
    ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets \
        -of csv=p=0 "$1" 2>/dev/null
}
aframes() {
    ffprobe -v error -count_packets -select_streams a:0 -show_entries stream=nb_read_packets \
        -of csv=p=0 "$1" 2>/dev/null
}
# Packets of every stream, hashed: equal for equal joins whatever the container's dates.
packets_md5() {
    ffmpeg -nostdin -v error -i "$1" -map 0 -c copy -f framemd5 - | grep -v '^#' | md5sum |
        cut -d' ' -f1
}
assert_output() { # file expected-video-frames what
    assert_eq "$(vframes "$1")" "$2" "$3: video frames"
    check
    [ "$(aframes "$1")" -gt 0 ] 2>/dev/null || fail "$3: no audio in $1"
    assert_seeks "$1" "$3"
}
