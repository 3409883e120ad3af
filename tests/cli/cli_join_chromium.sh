#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A joined output (B-frames, other SPS/PPS and time base, a segment without audio, audio
# longer and shorter than video) plays to its end in Chromium without a media error, with
# every frame presented; and a viewer who seeks into every segment, at later keyframes and
# between them, last segment first, sees the right pictures (tests/cli/chromium_seek.py).
# Skipped (77) when chromium is not installed.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/cli/join_lib.sh"
command -v chromium >/dev/null 2>&1 || { echo "chromium not installed"; exit 77; }

join_segments
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

# Seeks, last first, so that Chromium meets each segment's later keyframes before its first
# one: A (1.04 s), S (2.5 s, other profile, refs, CRF, GOP 10), G (1.08 s).
S=$(seg j_sps.mp4 60 210 0 -c:v libx264 -preset slow -profile:v main -refs 4 -crf 35 -g 10 \
    -x264-params bframes=2)
run "$VIDPIPE" join -o "$WORK/sps.mp4" "$A" "$S" "$G"
assert_eq "$RC" 0 "other SPS/PPS: join exit code"
check
seeks=$(python3 "$VP_SRCDIR/tests/cli/chromium_seek.py" "$WORK" "$WORK/sps.mp4" \
    4.3,3.8,3.3,2.95,2.5,2.1,1.55,1.2,0.7,0.2) || fail "other SPS/PPS: seeking in chromium"
echo "$seeks"
check
seeks=$(python3 "$VP_SRCDIR/tests/cli/chromium_seek.py" "$WORK" "$WORK/www/mix.mp4" \
    8.4,7.9,7.2,6.6,5.9,5.5,4.7,3.8,3.3,2.9,2.5,1.7,0.7) || fail "mixed join: seeking in chromium"
echo "$seeks"
finish
