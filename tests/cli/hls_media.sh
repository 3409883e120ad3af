# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the personalized HLS tests after lib.sh: an intro, an outro and clips, each
# part with its own steady tone (a dip at a join shows as a drop of its 5 ms level), 24 fps.
#   intro 3 s, GOP 1 s; outro 2 s, GOP 1 s (x264 ultrafast)
#   anna 1.5 s: other SPS/PPS (medium, CRF 30, B-frames, one GOP): its own init segment
#   bob 2.25 s: the intro's settings: it shares the intro's init segment
#   carl 1 s: no audio (silence is encoded for it)
hav() { # name seconds tone x264-args
    media "$1" -f lavfi -i "testsrc2=s=128x224:r=24:d=$2" \
        -f lavfi -i "sine=f=$3:r=48000:d=$2" -c:v libx264 $4 -pix_fmt yuv420p \
        -c:a aac -b:a 64k
}
H_INTRO=$(hav hls_intro.mp4 3 1000 "-preset ultrafast -g 24")
H_OUTRO=$(hav hls_outro.mp4 2 1200 "-preset ultrafast -g 24")
H_ANNA=$(hav hls_anna.mp4 1.5 1400 "-preset medium -crf 30 -g 48 -bf 2")
H_BOB=$(hav hls_bob.mp4 2.25 800 "-preset ultrafast -g 24")
H_CARL=$(media hls_carl.mp4 -f lavfi -i "testsrc2=s=128x224:r=24:d=1" -c:v libx264 \
    -preset ultrafast -g 24 -pix_fmt yuv420p)
# video frames: intro 72 + outro 48 + the clip's
H_FRAMES_anna=156
H_FRAMES_bob=174
H_FRAMES_carl=144

# hls_clips DIR: the three clips in DIR
hls_clips() {
    mkdir -p "$1"
    cp "$H_ANNA" "$1/anna.mp4"
    cp "$H_BOB" "$1/bob.mp4"
    cp "$H_CARL" "$1/carl.mp4"
}

# own_dir OUT NAME: the folder of NAME's own segments that NAME's playlist lists
# (OUT/NAME/KEY: a fresh one each time the person is packaged)
own_dir() {
    k=$(grep -m1 "^$(printf %s "$2" | sed 's/ /%20/g')/" "$1/$2.m3u8" | cut -d/ -f2)
    echo "$1/$2/$k"
}

# join_times OUT NAME: the playlist times of the two joins, "T1,T2" (seconds): where the
# person's first segment starts and where the segment after the discontinuity starts.
join_times() {
    python3 - "$1/$2.m3u8" <<'PY'
import sys
t, j1, j2, disc, dur = 0.0, None, None, False, 0.0
for ln in open(sys.argv[1]).read().split("\n"):
    if ln == "#EXT-X-DISCONTINUITY":
        disc = True
    elif ln.startswith("#EXTINF:"):
        dur = float(ln[8:].split(",")[0])
    elif ln and not ln.startswith("#"):
        if j1 is None and not ln.startswith("shared/intro"):
            j1 = t
        if disc and j2 is None:
            j2 = t
        t += dur
print("%.6f,%.6f" % (j1, j2))
PY
}

# The join tests' known signal (tests/cli/join_lib.sh, tests/cli/join_measure.c) in every
# part, from T = 0 at each part's start: A/V offset and level at the joins measurable. Each
# part's pictures turned by its own hue (degrees), so a seek that lands in the wrong part
# shows (tests/cli/hls_vod_play.py --seek): testsrc2 pictures at one time are the same.
SIG_T='0.25*sin(2*PI*440.7*t)+0.2*sin(2*PI*97.3*t)+0.15*sin(2*PI*31.7*t)+0.1*sin(2*PI*1234.5*t)'
sav() { # name seconds x264-args [hue]
    media "$1" -f lavfi -i "testsrc2=s=128x224:r=24:d=$2" -f lavfi -i "aevalsrc=$SIG_T:s=48000:d=$2" \
        -vf "hue=h=${4:-0}" -c:v libx264 $3 -pix_fmt yuv420p -c:a aac -b:a 96k
}
