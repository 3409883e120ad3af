#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The HLS of a channel played by hls.js in headless Chromium (tests/live/hls_js_play.py, a
# page on another origin, so CORS is exercised): WATCH_S seconds across at least three
# boundaries of the schedule (counted from the schedule API between the first and the last
# EXT-X-PROGRAM-DATE-TIME played), no `waiting` after the start, about WATCH_S x 25 frames
# presented. Meanwhile the playlist is polled every second and the series validated by
# tests/live/hls_playlist_check.py (RFC 8216 6.2.2, every segment fetched). Also the
# playlist's and a segment's own headers as a web player needs them.
# Skipped (77) only when chromium or hls.js (npm) cannot be installed.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/live/live_lib.sh"
command -v chromium >/dev/null 2>&1 || { echo "chromium not installed"; exit 77; }
hlsjs_install || { echo "hls.js could not be installed with npm"; exit 77; }
WATCH_S=${WATCH_S:-28}

media_copy || { echo "FAIL: make_media.sh"; exit 1; }
cd "$WORK"
if ! server_start "$M/channels.json"; then
    fail "the server did not say it was listening within 20 s"
    finish
    exit 1
fi
# the playlist once it has its first segments (3 segments of up to a few seconds each)
for i in $(seq 150); do
    code=$(curl -s -D "$WORK/pl.head" -o "$WORK/pl.m3u8" -w '%{http_code}' --max-time 10 \
        "$BASE/iptv/channel/1.m3u8")
    [ "$code" = 200 ] && break
    sleep 0.2
done
assert_eq "$code" 200 "GET /iptv/channel/1.m3u8 within 30 s"
# the schedule, once the channel is on air (empty before): the boundaries to play
for i in $(seq 100); do
    get "/api/channels/1/schedule?hours=1"
    [ "$STATUS" = 200 ] && grep -q '"start"' "$WORK/body" && break
    sleep 0.2
done
assert_contains "$(cat "$WORK/body")" '"start"' "schedule of channel 1 has items"
cp "$WORK/body" "$WORK/sched1.json"
echo "--- playlist"
cat "$WORK/pl.m3u8"
echo "---"
assert_contains "$(tr -d '\r' < "$WORK/pl.head" | tr 'A-Z' 'a-z')" "access-control-allow-origin: *" \
    "playlist: CORS header"
pl=$(cat "$WORK/pl.m3u8")
assert_contains "$pl" "#EXTM3U" "playlist: #EXTM3U"
assert_contains "$pl" "#EXT-X-TARGETDURATION:" "playlist: EXT-X-TARGETDURATION"
assert_contains "$pl" "#EXT-X-MEDIA-SEQUENCE:" "playlist: EXT-X-MEDIA-SEQUENCE"
assert_contains "$pl" "#EXT-X-PROGRAM-DATE-TIME:" "playlist: EXT-X-PROGRAM-DATE-TIME"
assert_not_contains "$pl" "#EXT-X-ENDLIST" "playlist: live (no EXT-X-ENDLIST)"
seg=$(echo "$pl" | grep -v '^#' | grep . | head -1)
case "$seg" in
    http*) segurl=$seg ;;
    /*) segurl="$BASE$seg" ;;
    *) segurl="$BASE/iptv/channel/$seg" ;;
esac
code=$(curl -s -D "$WORK/seg.head" -o "$WORK/seg.ts" -w '%{http_code}' --max-time 10 "$segurl")
assert_eq "$code" 200 "first segment $segurl"
assert_contains "$(tr -d '\r' < "$WORK/seg.head" | tr 'A-Z' 'a-z')" "access-control-allow-origin: *" \
    "segment: CORS header"
check
judge_ffmpeg "$WORK/seg.ts" || fail "first segment decodes with warnings: $JUDGE_OUT"

# the playlists a client sees while hls.js plays, validated as a series
python3 "$LIVE_DIR/hls_playlist_check.py" --url "$BASE/iptv/channel/1.m3u8" \
    --count "$WATCH_S" --interval 1 --fetch --require-pdt --uri-regex '1/[0-9]+\.ts' \
    > "$WORK/plcheck.out" 2>&1 &
plcheck=$!
rep=$(python3 "$LIVE_DIR/hls_js_play.py" "$BASE/iptv/channel/1.m3u8" --seconds "$WATCH_S" \
    --fps 25 --work "$WORK" --hlsjs "$HLSJS_DIR" 2>"$WORK/hlsjs.err")
rc=$?
echo "hls.js: $(echo "$rep" | python3 -c 'import json, sys
try:
    r = json.load(sys.stdin)
except ValueError:
    sys.exit()
r.pop("events", None)
print(json.dumps(r, sort_keys=True))')"
cat "$WORK/hlsjs.err"
check
[ "$rc" -eq 0 ] || fail "hls.js: $(echo "$rep" | python3 -c 'import json, sys
try:
    print(json.load(sys.stdin).get("violations"))
except ValueError:
    print("no report")')"
wait "$plcheck"
plrc=$?
echo "--- hls_playlist_check.py"
tail -20 "$WORK/plcheck.out"
check
[ "$plrc" -eq 0 ] || fail "the playlists polled fail hls_playlist_check.py (above)"

get "/api/channels/1/schedule?hours=1"
cp "$WORK/body" "$WORK/sched2.json"
server_stop
assert_eq "$?" 0 "exit code after SIGTERM"

# boundaries played: schedule item starts between the first and the last date played
played=$(echo "$rep" | python3 -c '
import datetime, json, sys
def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
work = sys.argv[1]
try:
    r = json.load(sys.stdin)
except ValueError:
    print("0 no-report")
    sys.exit()
if not r.get("start_date") or not r.get("end_date"):
    print("0 no-program-date-time")
    sys.exit()
a, b = ts(r["start_date"]), ts(r["end_date"])
starts = set()
for f in ("sched1.json", "sched2.json"):
    for it in json.load(open(work + "/" + f))["items"]:
        starts.add(ts(it["start"]))
inside = sorted(s for s in starts if a < s < b)
print(len(inside), "boundaries at", " ".join("%.2f" % (s - a) for s in inside), "s into the", "%.1f s played" % (b - a))
' "$WORK")
echo "played: $played"
check
[ "${played%% *}" -ge 3 ] 2>/dev/null || fail "hls.js played fewer than 3 boundaries: $played"
finish
