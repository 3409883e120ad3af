#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Access to `vidpipe serve` (issue 14, "Access"; vidpipe-serve(1) ACCESS): with --token-file
# the API wants "Authorization: Bearer TOKEN" (401 JSON without it or with another token;
# /healthz is open); the dashboard and media go through signed links (PATH?expires=T&sig=...)
# that work without the header, for GET and HEAD only, fail when altered or moved to another
# path (403), expire (403), and die with the token. Without a token file, a listen address
# that is not loopback is refused (exit 3, one line) and a loopback server says it has no
# authentication; a bad token file is refused (exit 2).
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/serve/serve_lib.sh"

SMALL=$(serve_small)
[ -s "$SMALL" ] || { echo "FAIL: ffmpeg made no media"; exit 1; }

TOKEN=tok-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" > "$WORK/token"
chmod 600 "$WORK/token"

# ---- without a token file ------------------------------------------------------------------
run timeout 10 "$VIDPIPE" serve --data "$WORK/open" --listen 0.0.0.0:0 --tmp "$SERVE_TMP"
assert_eq "$RC" 3 "--listen 0.0.0.0:0 without --token-file: exit status"
assert_eq "$(printf '%s\n' "$ERR" | grep -c .)" 1 "--listen 0.0.0.0:0 without a token: one line"
assert_contains "$ERR" "token" "--listen 0.0.0.0:0 without a token: the line names the token"
serve_start_or_die --workers 0
assert_eq "$(jq_ "$(head -1 "$SERVE_OUT")" 'j["auth"]')" false "listening event: auth false"
assert_contains "$(cat "$SERVE_LOG" | tr 'A-Z' 'a-z')" "token" \
    "a server without a token says so when it starts"
api GET /api/v1/videos
assert_status 200 "no token file: the API is open on loopback"
serve_stop
echo short > "$WORK/short-token"
run timeout 10 "$VIDPIPE" serve --data "$DATA" --listen 127.0.0.1:0 --token-file "$WORK/short-token"
assert_eq "$RC" 2 "a 5-character token: exit status"
assert_contains "$ERR" "short-token" "a 5-character token: the line names the file"
run timeout 10 "$VIDPIPE" serve --data "$DATA" --listen 127.0.0.1:0 --token-file "$WORK/missing"
assert_eq "$RC" 2 "a missing token file: exit status"
assert_contains "$ERR" "missing" "a missing token file: the line names it"

# ---- with a token ----------------------------------------------------------------------------
serve_start_or_die --workers 1 --token-file "$WORK/token"
assert_eq "$(jq_ "$(head -1 "$SERVE_OUT")" 'j["auth"]')" true "listening event: auth true"
DASH=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "dashboard":
        print(e["url"]); break' "$SERVE_OUT")
assert_contains "$DASH" "sig=" "the dashboard's signed link is printed at start"
check
assert_not_contains "$(cat "$SERVE_OUT" "$SERVE_LOG")" "$TOKEN" "the token itself is never printed"

AUTH=""
for p in /api/v1/videos /api/v1/jobs/1 /api/v1/videos/1/proxy /metrics /; do
    api GET "$p"
    assert_status 401 "GET $p without a token"
done
assert_contains "$(tr -d '\r' < "$WORK/head" | tr 'A-Z' 'a-z')" "www-authenticate: bearer" \
    "401 names the scheme (WWW-Authenticate)"
upload_whole "$SMALL" nope.mp4
assert_status 401 "an upload without a token"
AUTH="${TOKEN}x"
api GET /api/v1/videos
assert_status 401 "another token"
AUTH=$(echo "$TOKEN" | cut -c1-20)
api GET /api/v1/videos
assert_status 401 "the token's first 20 characters"
api GET /api/v1/videos -H "Authorization: Basic $(printf 'a:%s' "$TOKEN" | base64 -w0)"
assert_status 401 "the token as Basic credentials"
AUTH=""
api GET /healthz
assert_status 200 "/healthz needs no token"

AUTH=$TOKEN
api GET /api/v1/videos
assert_status 200 "GET /api/v1/videos with the token"
assert_eq "$(jq_ "$BODY" 'j["videos"]')" "[]" "the refused upload stored nothing"
upload_whole "$SMALL" signed.mp4
assert_status 200 "an upload with the token"
VID=$WVID
wait_job "$WJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "the job with the token"
api GET "/api/v1/videos/$VID/proxy"
assert_status 200 "the proxy with the token"
cp "$WORK/body" "$WORK/proxy.mp4"
api GET "/api/v1/videos/$VID"
LINKS=$(jq_ "$BODY" 'j["links"]')
echo "links: $LINKS"
PL=$(jq_ "$LINKS" 'j["proxy"]')
TL=$(jq_ "$LINKS" 'j["thumbnail"]')
assert_contains "$PL" "sig=" "the video's proxy link is signed"
assert_contains "$TL" "sig=" "the video's thumbnail link is signed"

# the links work without the header, for GET and HEAD only
AUTH=""
url_of() { case "$1" in http*) echo "$1" ;; *) echo "$BASE$1" ;; esac; }
code=$(curl -s -o "$WORK/p2.mp4" -w '%{http_code}' --max-time 10 "$(url_of "$PL")")
assert_eq "$code" 200 "GET the signed proxy link without a token"
check
cmp -s "$WORK/p2.mp4" "$WORK/proxy.mp4" || fail "the signed link serves another file"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -r 0-99 "$(url_of "$PL")")
assert_eq "$code" 206 "a range of the signed proxy link"
code=$(curl -s -I -o /dev/null -w '%{http_code}' --max-time 10 "$(url_of "$TL")")
assert_eq "$code" 200 "HEAD of the signed thumbnail link"
code=$(curl -s -X DELETE -o "$WORK/body" -w '%{http_code}' --max-time 10 \
    "$(url_of "$(echo "$PL" | sed "s|/proxy?|?|")")")
check
case "$code" in 401|403|405) ;; *) fail "DELETE with a signed link's query: HTTP $code" ;; esac
# altered, moved, or with another expiry: refused
bad_link() { # URL WHAT
    code=$(curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' --max-time 10 "$(url_of "$1")")
    STATUS=$code BODY=$(cat "$WORK/body")
    assert_status 403 "$2"
}
last=$(printf '%s' "$PL" | tail -c 1)
case "$last" in 0) swap=1 ;; *) swap=0 ;; esac
bad_link "$(printf '%s' "$PL" | sed "s/.\$/$swap/")" "a signed link with its signature altered"
bad_link "$(printf '%s' "$PL" | sed 's|/proxy?|/original?|')" "a signed link moved to another path"
bad_link "$(printf '%s' "$PL" | sed 's/expires=\([0-9]*\)/expires=\19/')" \
    "a signed link with a later expiry"
# a link of one second expires
AUTH=$TOKEN
api POST /api/v1/links -H 'Content-Type: application/json' \
    -d "{\"path\": \"/api/v1/videos/$VID/thumbnail\", \"ttl\": 1}"
assert_status 200 "POST /api/v1/links"
SHORT=$(jq_ "$BODY" 'j["url"]')
AUTH=""
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$(url_of "$SHORT")")
assert_eq "$code" 200 "a fresh 1 s link"
sleep 2.2
bad_link "$SHORT" "the 1 s link 2 s later"
# the dashboard through its signed link
code=$(curl -s -o "$WORK/dash.html" -w '%{http_code}' --max-time 10 "$(url_of "$DASH")")
assert_eq "$code" 200 "the dashboard through its signed link"
assert_contains "$(cat "$WORK/dash.html" | tr 'A-Z' 'a-z')" "<html" "the dashboard is HTML"
serve_stop
assert_eq "$SERVE_RC" 0 "SIGTERM: exit code"

# ---- a new token voids the old one and every link -------------------------------------------
printf 'tok-%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$WORK/token"
serve_start_or_die --workers 0 --token-file "$WORK/token"
bad_link "$PL" "an old link after the token changed"
AUTH=$TOKEN
api GET /api/v1/videos
assert_status 401 "the old token after it changed"
AUTH=$(head -1 "$WORK/token")
api GET /api/v1/videos
assert_status 200 "the new token"
serve_stop
assert_eq "$SERVE_RC" 0 "SIGTERM: exit code"
no_sanitizer_reports
finish
