#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The dashboard of `vidpipe serve` (GET /) in headless Chromium, with a completed, a failed,
# a running and a pending video, one of them named like HTML: the DOM once its scripts ran
# (failed first, each state shown, the failure's reason shown, the completed video's
# thumbnail loaded, the HTML-like name shown as text, not markup), and a screenshot in the
# build folder (serve_dashboard.png) to look at.
# Skipped (77) only when Chromium is not installed.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/serve/serve_lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
    { echo "chromium not installed"; exit 77; }

SMALL=$(serve_small)
LONG=$(serve_long)
TEXT=$(serve_text)
[ -s "$SMALL" ] && [ -s "$LONG" ] || { echo "FAIL: ffmpeg made no media"; exit 1; }

# one worker; a drain that hands the slow job back at once
serve_start_or_die --workers 1 --drain-grace 1 --lease 3
upload_whole "$SMALL" dash-done.mp4
assert_status 200 "upload dash-done.mp4"
DVID=$WVID
wait_job "$WJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "dash-done.mp4"
upload_whole "$TEXT" dash-failed.mp4
assert_status 200 "upload dash-failed.mp4"
FVID=$WVID
wait_job "$WJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" failed "dash-failed.mp4"
FERR=$(jq_ "$JOB_JSON" 'j["error"]')
# a 1080-line 30 fps proxy of the 40 s clip: a job of a minute or more, still running while
# Chromium looks
upload_whole "$LONG" "%3Cb%3Edash-running.mp4" "height=1080&fps=30"
assert_status 200 "upload <b>dash-running.mp4"
RJOB=$WJOB
upload_whole "$SMALL" dash-pending.mp4
assert_status 200 "upload dash-pending.mp4"
wait_job "$RJOB" running 30
assert_eq "$RC" 0 "the long job runs: $ERR"
# its progress is stored at each heartbeat (a third of --lease 3)
for i in $(seq 100); do
    api GET "/api/v1/jobs/$RJOB"
    [ "$(jq_ "$BODY" 'j["progress"] > 0')" = true ] && break
    sleep 0.2
done
assert_eq "$(jq_ "$BODY" 'j["progress"] > 0')" true "the running job has progress"

chrome() {
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$WORK/profile" --window-size=1280,900 --virtual-time-budget=4000 "$@" \
        2>>"$WORK/chromium.log"
}
chrome --dump-dom "$BASE/" > "$WORK/dom.html"
SHOT="$VP_BUILDDIR/serve_dashboard.png"
rm -f "$SHOT"
chrome --screenshot="$SHOT" "$BASE/" >/dev/null
api GET "/api/v1/jobs/$RJOB"
assert_eq "$(jq_ "$BODY" 'j["status"]')" running "the long job still ran while Chromium looked"
check
[ -s "$WORK/dom.html" ] || { fail "chromium --dump-dom printed nothing"; cat "$WORK/chromium.log"; }
echo "DOM: $(wc -c < "$WORK/dom.html") bytes"

# The page's text (tags out, entities decoded) and its <img> sources.
python3 - "$WORK/dom.html" "$WORK" <<'PY'
import html, html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.imgs, self.skip, self.in_b, self.bold = [], [], 0, 0, ""
    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        if tag == "img":
            self.imgs.append(dict(attrs).get("src") or "")
        if tag == "b":
            self.in_b += 1
    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1
        if tag == "b" and self.in_b:
            self.in_b -= 1
    def handle_data(self, d):
        if not self.skip:
            self.text.append(d)
        if self.in_b:
            self.bold += d
p = P()
p.feed(open(sys.argv[1]).read())
open(sys.argv[2] + "/dom.txt", "w").write(" ".join(" ".join(p.text).split()))
open(sys.argv[2] + "/dom.imgs", "w").write("\n".join(p.imgs) + "\n")
open(sys.argv[2] + "/dom.bold", "w").write(str(int("dash-running" in p.bold)))
PY
TXT=$(cat "$WORK/dom.txt")
echo "page text: $(echo "$TXT" | cut -c1-600)"
for n in dash-done.mp4 dash-failed.mp4 "<b>dash-running.mp4" dash-pending.mp4; do
    assert_contains "$TXT" "$n" "the page names $n"
done
assert_eq "$(cat "$WORK/dom.bold")" 0 "the HTML-like name is text, not a <b> element around it"
pos() { python3 -c 'import sys; print(sys.argv[1].find(sys.argv[2]))' "$TXT" "$1"; }
pf=$(pos dash-failed.mp4)
for n in dash-done.mp4 "<b>dash-running.mp4" dash-pending.mp4; do
    check
    [ "$pf" -ge 0 ] && [ "$pf" -lt "$(pos "$n")" ] || fail "the failed video is not listed before $n"
done
shown=$(python3 -c 'import re, sys
m = re.search(r"dash-running\.mp4\s+running\s+(\d+)\s*%", sys.argv[1])
print(m.group(1) if m else "none")' "$TXT")
check
case "$shown" in none|0) fail "the running job's progress is not shown (page: $shown %)" ;; esac
for s in completed failed running pending; do
    assert_contains "$(echo "$TXT" | tr 'A-Z' 'a-z')" "$s" "the page shows the state $s"
done
assert_contains "$TXT" "$(echo "$FERR" | cut -c1-40)" "the failure's reason is shown"
IMGS=$(cat "$WORK/dom.imgs")
echo "images: $IMGS"
assert_contains "$IMGS" "/api/v1/videos/$DVID/thumbnail" "the completed video's thumbnail"
assert_not_contains "$IMGS" "/api/v1/videos/$FVID/thumbnail" "no thumbnail for the failed video"
# the thumbnail the page shows is a JPEG the server gives it
src=$(grep "/api/v1/videos/$DVID/thumbnail" "$WORK/dom.imgs" | head -1)
case "$src" in http*) url=$src ;; *) url="$BASE$src" ;; esac
code=$(curl -s -o "$WORK/t.jpg" -w '%{http_code}' --max-time 10 "$url")
assert_eq "$code" 200 "the page's thumbnail URL answers"
assert_eq "$(probe_field "$WORK/t.jpg" v:0 codec_name)" mjpeg "the page's thumbnail is a JPEG"
# the screenshot: a 1280x900 PNG that is not one flat colour
check
[ -s "$SHOT" ] || fail "no screenshot at $SHOT"
if [ -s "$SHOT" ]; then
    assert_eq "$(probe_field "$SHOT" v:0 width)x$(probe_field "$SHOT" v:0 height)" 1280x900 \
        "screenshot size"
    colours=$(ffmpeg -nostdin -v error -i "$SHOT" -vf scale=64:45,format=rgb24 -f rawvideo - |
        python3 -c 'import sys; d = sys.stdin.buffer.read(); print(len({d[i:i + 3] for i in range(0, len(d), 3)}))')
    check
    [ "$colours" -gt 8 ] || fail "the screenshot is nearly flat ($colours colours)"
    echo "screenshot: $SHOT"
fi
serve_stop
assert_eq "$SERVE_RC" 0 "SIGTERM: exit code"
no_sanitizer_reports
finish
