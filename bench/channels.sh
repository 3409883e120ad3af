#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Channels (issue 13, "Speed"), side by side in one run on the same schedule (two 60 s
# episodes, each cut at 30 s for two of three 10 s ads, repeated):
#   seed     the IPTV server vidpipe replaces: one `ffmpeg -re -f concat ... -c:v libx264
#            -preset veryfast ... -f mpegts pipe:1` per viewer (its exact command, from
#            /work/shared/seeds/002_*), output thrown away
#   vidpipe  `vidpipe channels`, viewers reading /iptv/channel/N.ts and throwing it away
# Measured: CPU % of the server process(es) (utime + stime from /proc/PID/stat over WINDOW s
# after WARMUP s) at 1, 10, 100 and 500 viewers of one channel (the seed stops at the first
# step where its slowest transcode falls below 0.95x real time: more only thrash), viewers
# per core, CPU and RSS for CHANNELS channels with one viewer each, and tune-in time
# (tests/live/tunein.py: connect or start to PAT + PMT + one whole IDR) for both (vidpipe:
# with the channel's producer running, and for the first viewer of an idle on-demand
# channel, whose producer starts then). Medians of
# RUNS runs; the load average is printed (the machine is shared). Viewers of vidpipe are one
# selector-based client process (bench/channels_viewers.py), which also checks each viewer
# got the stream at full rate; the seed's viewers cost it a transcode each whatever reads it.
#
# Environment: BUILD (default build), VIDPIPE, RUNS (3), WINDOW (10), WARMUP (5),
# VIEWERS (1,10,100,500), SEED_STEPS (1,2,4,10,100,500), CHANNELS (50),
# RES (1280x720), BENCH_CACHE (/tmp/vidpipe-bench-cache/channels), BENCH_WORK
# (/tmp/vidpipe-bench-channels). Without `vidpipe channels` built, only the seed is measured.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VIDPIPE=${VIDPIPE:-$BUILD/tools/vidpipe}
RES=${RES:-1280x720}
CACHE=${BENCH_CACHE:-/tmp/vidpipe-bench-cache/channels}/$RES-noise
WORK=${BENCH_WORK:-/tmp/vidpipe-bench-channels}
command -v ffmpeg >/dev/null || { echo "bench/channels.sh: ffmpeg is not installed" >&2; exit 1; }

# ---- media, generated once: ~2.5 Mb/s H.264 (keyframe every 2 s), AAC 128 kb/s; moving
# noise on the test patterns, as a flat pattern costs an encoder far less than real pictures
# (and would flatter the seed) -------------------------------------------------------------
gen() { # out seconds source tone
    [ -s "$1" ] && return 0
    echo "bench/channels.sh: generating $1 (${2} s, once)" >&2
    ffmpeg -nostdin -v error -y -f lavfi -i "$3=s=$RES:r=25:d=$2,noise=alls=8:allf=t" \
        -f lavfi -i "sine=f=$4:r=48000:d=$2" -ac 2 \
        -c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -b:v 2500k \
        -maxrate 3000k -bufsize 6000k -pix_fmt yuv420p -c:a aac -b:a 128k "$1.tmp.mp4"
    mv "$1.tmp.mp4" "$1"
}
mkdir -p "$CACHE" "$WORK"
gen "$CACHE/ep1.mp4" 60 testsrc2 440
gen "$CACHE/ep2.mp4" 60 testsrc 550
gen "$CACHE/ad1.mp4" 10 smptebars 660
gen "$CACHE/ad2.mp4" 10 rgbtestsrc 770
gen "$CACHE/ad3.mp4" 10 smptehdbars 880
[ -x "$VIDPIPE" ] || VIDPIPE=false
exec python3 bench/channels_bench.py "$CACHE" "$WORK" "$VIDPIPE"
