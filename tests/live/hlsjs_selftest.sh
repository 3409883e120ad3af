#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The HLS judge (tests/live/hls_js_play.py: hls.js in headless Chromium) passes a live stream
# that keeps up and fails one that stalls and one with half the frames. The live streams
# are FFmpeg-made segments published over time by tests/live/hls_live_sim.py.
# Skipped (77) when chromium or hls.js (npm, in ~/.cache/vidpipe-npm) is missing.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/live/live_lib.sh"
command -v chromium >/dev/null 2>&1 || { echo "chromium not installed"; exit 77; }
hlsjs_install || { echo "hls.js could not be installed with npm"; exit 77; }
M="$VP_MEDIA/live"
sh "$LIVE_DIR/make_media.sh" "$M" || { echo "FAIL: make_media.sh"; exit 1; }
cd "$WORK"

# segments NAME FPS: ep1 + ep2 (19 s) as 1 s HLS segments at FPS
segments() {
    mkdir -p "$1"
    ffmpeg -nostdin -v error -y -i "$M/ep1.mp4" -i "$M/ep2.mp4" -filter_complex \
        "[0:v][0:a][1:v][1:a]concat=n=2:v=1:a=1[v0][a];[v0]fps=$2[v]" -map '[v]' -map '[a]' \
        -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p -c:a aac -f hls -hls_time 1 \
        -hls_list_size 0 -hls_segment_filename "$1/seg%03d.ts" "$1/index.m3u8"
}
segments good 25
segments half 12.5

# watch WANT NAME DIR [sim options]: the judge's verdict on DIR published live
watch() {
    want=$1 name=$2 dir=$3
    shift 3
    python3 "$LIVE_DIR/hls_live_sim.py" "$dir" "$@" > "$WORK/$name.url" &
    sim=$!
    for i in $(seq 50); do [ -s "$WORK/$name.url" ] && break; sleep 0.1; done
    rep=$(python3 "$LIVE_DIR/hls_js_play.py" "$(cat "$WORK/$name.url")" --seconds 10 \
        --work "$WORK/$name" --hlsjs "$HLSJS_DIR" 2>/dev/null)
    rc=$?
    kill "$sim"
    wait "$sim" 2>/dev/null
    summary=$(echo "$rep" | python3 -c 'import json, sys; r = json.load(sys.stdin)
print("%s frames presented of %s, waiting after start %s, violations %s" % (r.get("frames"),
      r.get("expected_frames"), r.get("waiting"), r.get("violations") or r.get("errors")))')
    echo "hls.js on $name: $summary"
    check
    if [ "$want" = pass ] && [ "$rc" -ne 0 ]; then fail "hls.js on $name should pass: $rep"; fi
    if [ "$want" = fail ] && [ "$rc" -ne 1 ]; then fail "hls.js on $name should fail: $rep"; fi
}
watch pass good good
watch fail stall good --stall-at 4 --stall-for 4
watch fail half half
finish
