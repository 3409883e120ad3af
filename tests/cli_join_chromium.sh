#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A joined output (B-frames, other SPS/PPS and time base, a segment without audio, audio
# longer and shorter than video) plays to its end in Chromium without a media error, with
# every frame presented. Skipped (77) when chromium is not installed.
. "$VP_SRCDIR/tests/lib.sh"
. "$VP_SRCDIR/tests/join_lib.sh"
command -v chromium >/dev/null 2>&1 || { echo "chromium not installed"; exit 77; }

A=$(seg j_a.mp4 25 0 0 -c:v libx264 -preset ultrafast -g 12)
B=$(seg j_b.mp4 31 25 0 -c:v libx264 -preset veryfast -x264-params bframes=3:b-adapt=0 -g 12)
C=$(seg j_c.mp4 37 56 0 -c:v libx264 -preset medium -profile:v main -crf 30 -g 24 \
    -video_track_timescale 90000)
D=$(seg j_d.mp4 29 93 0 -c:v libx264 -preset ultrafast -g 12 -an)
E=$(seg j_e.mp4 27 122 0.3 -c:v libx264 -preset ultrafast -g 12)
F=$(seg j_f.mp4 33 149 -0.4 -c:v libx264 -preset ultrafast -g 12)
G=$(seg j_g.mp4 26 182 0 -c:v libx264 -preset ultrafast -g 12)
mkdir -p "$WORK/www"
run "$VIDPIPE" join -o "$WORK/www/mix.mp4" "$A" "$B" "$C" "$D" "$E" "$F" "$G"
assert_eq "$RC" 0 "join exit code"

cat > "$WORK/www/index.html" <<'HTML'
<!doctype html><html><body><video id="v" muted playsinline src="mix.mp4"></video>
<script>
const v = document.getElementById('v');
const report = s => fetch('/result?' + encodeURIComponent(s));
v.addEventListener('error', () => report('error ' + (v.error ? v.error.code + ' ' + v.error.message : '')));
v.addEventListener('ended', () => {
  const q = v.getVideoPlaybackQuality();
  report('ended duration=' + v.duration.toFixed(2) + ' frames=' + q.totalVideoFrames +
         ' dropped=' + q.droppedVideoFrames);
});
v.playbackRate = 4;
v.play().catch(e => report('play failed ' + e));
</script></body></html>
HTML
cd "$WORK/www"
python3 -m http.server 0 --bind 127.0.0.1 > "$WORK/server.log" 2>&1 &
server=$!
for i in $(seq 50); do grep -q 'port [0-9]' "$WORK/server.log" && break; sleep 0.1; done
port=$(grep -o 'port [0-9]*' "$WORK/server.log" | awk '{ print $2 }')
timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/profile" --autoplay-policy=no-user-gesture-required \
    --remote-debugging-port=0 "http://127.0.0.1:$port/index.html" 2>"$WORK/chromium.log" &
browser=$!
for i in $(seq 100); do grep -q 'GET /result' "$WORK/server.log" && break; sleep 0.3; done
kill "$browser" 2>/dev/null
wait "$browser" 2>/dev/null
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
cd /
result=$(grep -o 'GET /result?[^ ]*' "$WORK/server.log" | sed 's/GET \/result?//' | \
    python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read().strip()))')
echo "chromium: $result"
assert_contains "$result" "ended duration=8.6" "plays to the end without an error"
assert_contains "$result" "frames=208 " "every frame presented"
finish
