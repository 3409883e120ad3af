#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The HLS of a channel played by hls.js in headless Chromium (tests/live/hlsjs_watch.py, a
# page on another origin, so CORS is exercised): WATCH_S seconds across at least three
# boundaries of the schedule (counted from the schedule API between the first and the last
# EXT-X-PROGRAM-DATE-TIME played), no `waiting` after the start, about WATCH_S x 25 frames
# presented. Also the playlist's own headers and tags as a web player needs them.
# Skipped (77) when `vidpipe channels` is not built, or chromium or hls.js is missing.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/live/live_lib.sh"
"$VIDPIPE" channels --help >/dev/null 2>&1 || { echo "vidpipe channels not built"; exit 77; }
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
# the channel exists (200) from the start; "ready" says it is on air: until then its
# schedule is empty
ready=
for i in $(seq 100); do
    get /api/channels/1
    [ "$STATUS" = 200 ] && grep -q '"ready": *true' "$WORK/body" && { ready=1; break; }
    sleep 0.1
done
assert_eq "$ready" 1 "channel 1 on air within 10 s"
get "/api/channels/1/schedule?hours=1"
cp "$WORK/body" "$WORK/sched1.json"

# the playlist once it has its first segments (3 segments of up to a few seconds each)
for i in $(seq 150); do
    code=$(curl -s -D "$WORK/pl.head" -o "$WORK/pl.m3u8" -w '%{http_code}' --max-time 10 \
        "$BASE/iptv/channel/1.m3u8")
    [ "$code" = 200 ] && break
    sleep 0.2
done
assert_eq "$code" 200 "GET /iptv/channel/1.m3u8 within 30 s"
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

rep=$(python3 "$LIVE_DIR/hlsjs_watch.py" "$BASE/iptv/channel/1.m3u8" "$WATCH_S" --fps 25 \
    --work "$WORK" --hlsjs "$HLSJS_DIR" 2>&1)
rc=$?
echo "hls.js: $rep"
check
[ "$rc" -eq 0 ] || fail "hls.js: $(echo "$rep" | python3 -c 'import json, sys
try:
    print(json.load(sys.stdin).get("violations"))
except ValueError:
    print("no report")')"

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
