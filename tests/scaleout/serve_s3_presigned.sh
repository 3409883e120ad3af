#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# `vidpipe serve --storage s3://...` with the bytes going straight between the client and the
# bucket (issue 15, "S3 mode"), on a real s3rver behind tests/s3/s3_proxy.py (each request's
# SigV4 signature, presigned URLs' too, checked by the 'aws4' npm package; faults injected),
# started through tests/s3/s3_env.py:
# - part_size under S3's 5 MiB refused (400 naming the limit);
# - a 3-part upload whose parts the client PUTs to the presigned URLs of the initiate reply,
#   part 2 cut mid-body by the proxy and sent again to a fresh URL (?urls=1); a URL whose
#   signature was altered refused by the proxy;
# - complete with a wrong etag (422, the upload stays open), with a wrong SHA-256 (422),
#   then right: the job completes while the proxy cuts every 2nd download (the worker's
#   fetch of the original resumes with ranges), and the worker's copy is gone after;
# - the media answer 302 to presigned URLs: the proxy fetched with curl -L (with its type and
#   name, signed into the URL) and probed, the original byte for byte;
# - a part sent through the API (PUT .../parts/1) still works in S3 mode;
# - with a token, the video's signed thumbnail link (the dashboard's) redirects as well;
# - no request of vidpipe's or of the client had a wrong signature but the altered one;
# - the folder storage gives no URLs (?urls=1: 501) and serves the file with ranges.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/serve/serve_lib.sh"

# ---- s3rver and the proxy, as the S3 tests run them (tests/s3/s3_env.py) ------------------
S3INFO="$WORK/s3env.json"
python3 -c '
import json, os, signal, sys
sys.path.insert(0, os.path.join(os.environ["VP_SRCDIR"], "tests", "s3"))
import s3_env
out, work = sys.argv[1], sys.argv[2]
def publish(obj):
    with open(out + ".tmp", "w") as f:
        json.dump(obj, f)
    os.rename(out + ".tmp", out)
if not s3_env.npm_install():
    publish({"skip": "npm could not install s3rver and aws4 into " + s3_env.NPM_DIR})
    sys.exit(0)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))     # __exit__ stops s3rver
with s3_env.S3Env(work) as e:
    publish({"endpoint": e.endpoint, "s3_port": e.s3_port, "bucket": s3_env.BUCKET,
             "key": s3_env.KEY, "secret": s3_env.SECRET})
    signal.pause()
' "$S3INFO" "$WORK" > "$WORK/s3env.log" 2>&1 &
S3ENV_PID=$!
s3env_stop() {
    kill -TERM "$S3ENV_PID" 2>/dev/null
    wait "$S3ENV_PID" 2>/dev/null
}
trap 'serve_cleanup_s3' EXIT
serve_cleanup_s3() {
    [ -n "$SERVER" ] && kill -KILL "$SERVER" 2>/dev/null
    s3env_stop
    rm -rf "$WORK"
}
for i in $(seq 600); do
    [ -s "$S3INFO" ] && break
    kill -0 "$S3ENV_PID" 2>/dev/null || break
    sleep 0.1
done
[ -s "$S3INFO" ] || { echo "FAIL: s3rver and the proxy did not start:"; cat "$WORK/s3env.log"; exit 1; }
SKIP=$(jq_ "$(cat "$S3INFO")" 'j.get("skip", "")')
if [ -n "$SKIP" ]; then
    echo "skipped: $SKIP"
    exit 77
fi
EP=$(jq_ "$(cat "$S3INFO")" 'j["endpoint"]')
S3PORT=$(jq_ "$(cat "$S3INFO")" 'j["s3_port"]')
BUCKET=$(jq_ "$(cat "$S3INFO")" 'j["bucket"]')
AWS_ACCESS_KEY_ID=$(jq_ "$(cat "$S3INFO")" 'j["key"]')
AWS_SECRET_ACCESS_KEY=$(jq_ "$(cat "$S3INFO")" 'j["secret"]')
AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_PROFILE
faults() { curl -s -o /dev/null "$EP/__ctl/faults?$1"; }
stat_of() { jq_ "$(curl -s "$EP/__ctl/stats")" "j[\"$1\"]"; }
header_of() { tr -d '\r' < "$1" | grep -i "^$2:" | tail -1 | sed 's/^[^:]*: *//'; }

# ---- media: 13 MB of raw video, so three parts of S3's smallest 5 MiB --------------------
SRC=$(media s3_presigned.avi -f lavfi -i "testsrc2=s=320x240:r=25:d=4.4" \
      -f lavfi -i "sine=f=440:d=4.4" -c:v rawvideo -pix_fmt yuv420p -c:a pcm_s16le)
[ -s "$SRC" ] || { echo "FAIL: ffmpeg made no media"; exit 1; }
SIZE=$(size_of "$SRC")
PS=5242880
split -b $PS -d -a 1 "$SRC" "$WORK/part."
SMALL=$(serve_small)

serve_start_or_die --workers 1 --storage \
    "s3://$BUCKET/svc?endpoint=$EP&backoff_ms=20&timeout=10"

# ---- S3's smallest part --------------------------------------------------------------------
api POST /api/v1/uploads -H 'Content-Type: application/json' \
    -d "{\"filename\": \"a.avi\", \"size\": $SIZE, \"part_size\": 1048576}"
assert_status 400 "part_size 1 MiB on S3"
assert_contains "$(jq_ "$BODY" 'j["error"]["message"]')" "5 MiB" "part_size 1 MiB: the limit named"

# ---- initiate: presigned part URLs ----------------------------------------------------------
api POST /api/v1/uploads -H 'Content-Type: application/json' \
    -d "{\"filename\": \"clip.avi\", \"size\": $SIZE, \"part_size\": $PS}"
assert_status 200 "initiate"
UP=$BODY
UID_=$(jq_ "$UP" 'j["upload_id"]')
VID=$(jq_ "$UP" 'j["video_id"]')
assert_eq "$(jq_ "$UP" 'j["parts_count"]')" 3 "parts of a $SIZE-byte file"
assert_eq "$(jq_ "$UP" '[p["part_number"] for p in j["parts"]]')" "[1, 2, 3]" "part URLs listed"
check
printf '%s' "$UP" | python3 -c 'import json, sys
j = json.load(sys.stdin)
ok = all(p["url"].startswith(sys.argv[1] + "/") and "X-Amz-Signature=" in p["url"] and
         "partNumber=%d" % p["part_number"] in p["url"] for p in j["parts"])
sys.exit(0 if ok and j.get("urls_expire_at") else 1)' "$EP" ||
    fail "initiate: part URLs are not presigned UploadPart URLs of $EP: $UP"
url_of() { jq_ "$1" "j['parts'][$2 - 1]['url']"; }

# put_part N URL: the client's PUT of part N to URL; PSTATUS, and ETAG_N from its answer
put_part() {
    PSTATUS=$(curl -s -H 'Expect:' -X PUT -T "$WORK/part.$(($1 - 1))" -D "$WORK/phead" -o "$WORK/pbody" \
        -w '%{http_code}' --max-time 30 "$2")
    eval "ETAG_$1=\$(header_of \"\$WORK/phead\" etag)"
}

# the proxy checks presigned signatures: part 1's URL with one digit of it changed is refused
BAD1=$(url_of "$UP" 1 | sed 's/\(X-Amz-Signature=.\)./\1x/')
put_part 1 "$BAD1"
assert_eq "$PSTATUS" 403 "part 1 to a URL with an altered signature"
assert_eq "$(stat_of bad_signatures)" 1 "the proxy counted the altered signature"

put_part 1 "$(url_of "$UP" 1)"
assert_eq "$PSTATUS" 200 "part 1 to its URL"
assert_contains "$ETAG_1" '"' "part 1: S3's ETag"
# part 2 cut halfway through its body by the proxy: the client gets no answer
faults drop_put=1
put_part 2 "$(url_of "$UP" 2)"
faults drop_put=0
assert_eq "$PSTATUS" 000 "part 2 cut mid-body"
assert_eq "$(stat_of dropped_put)" 1 "the proxy cut one PUT"
# fresh URLs, and part 2 sent again to its new one
api GET "/api/v1/uploads/$UID_?urls=1"
assert_status 200 "fresh URLs"
URLS=$BODY
assert_eq "$(jq_ "$URLS" '[p["part_number"] for p in j["parts"]]')" "[1, 2, 3]" "fresh URLs"
assert_eq "$(jq_ "$URLS" 'j["status"]')" open "fresh URLs: the upload is open"
put_part 2 "$(url_of "$URLS" 2)"
assert_eq "$PSTATUS" 200 "part 2 sent again"
put_part 3 "$(url_of "$UP" 3)"
assert_eq "$PSTATUS" 200 "part 3 to its URL (from the initiate reply)"
api GET "/api/v1/uploads/$UID_?urls=2"
assert_status 400 "urls=2"

# ---- complete: a wrong etag, a wrong checksum, then right -----------------------------------
complete_body() { # ETAG2 SHA
    python3 -c 'import json, sys
print(json.dumps({"parts": [{"part_number": i + 1, "etag": e} for i, e in
                            enumerate(sys.argv[1:4])], "sha256": sys.argv[4]}))' \
        "$ETAG_1" "$1" "$ETAG_3" "$2"
}
SHA=$(sha256_of "$SRC")
api POST "/api/v1/uploads/$UID_/complete" -H 'Content-Type: application/json' \
    -d "$(complete_body '"0123456789abcdef0123456789abcdef"' "$SHA")"
assert_status 422 "complete with a wrong etag for part 2"
assert_contains "$(jq_ "$BODY" 'j["error"]["message"]')" "$UID_" "wrong etag: the upload named"
api GET "/api/v1/uploads/$UID_"
assert_eq "$(jq_ "$BODY" 'j["status"]')" open "after a wrong etag the upload stays open"
api POST "/api/v1/uploads/$UID_/complete" -H 'Content-Type: application/json' \
    -d "$(complete_body "$ETAG_2" "$(echo "$SHA" | tr 0-9a-f 1-9a-f0)")"
assert_status 422 "complete with a wrong SHA-256"
assert_contains "$(jq_ "$BODY" 'j["error"]["message"]')" "SHA-256" "wrong checksum: the reason"
api GET "/api/v1/videos/$VID/original"
assert_status 404 "the original before a good complete"

# the worker's fetch of the original, and the compose's read-back, through cut downloads
RANGES0=$(stat_of range_requests)
faults drop_get=2
api POST "/api/v1/uploads/$UID_/complete" -H 'Content-Type: application/json' \
    -d "$(complete_body "$ETAG_2" "$SHA")"
assert_status 200 "complete"
JOB=$(jq_ "$BODY" 'j["job_id"]')
assert_eq "$(jq_ "$BODY" 'j["video_id"]')" "$VID" "complete: the video initiate reserved"
wait_job "$JOB" terminal 50 || fail "job $JOB did not finish: $JOB_JSON"
faults drop_get=0
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "the job: $JOB_JSON"
check
[ "$(stat_of range_requests)" -gt "$RANGES0" ] ||
    fail "no download resumed with a range through the cuts ($(curl -s "$EP/__ctl/stats"))"
assert_eq "$(find "$SERVE_TMP" -type f | head -3)" "" "the worker's copy of the original removed"

# ---- media: 302 to presigned URLs ----------------------------------------------------------
api GET "/api/v1/videos/$VID/proxy"
assert_eq "$STATUS" 302 "GET proxy in S3 mode"
LOC=$(header_of "$WORK/head" location)
assert_contains "$LOC" "$EP/$BUCKET/svc/videos/$VID/" "the proxy's Location"
assert_contains "$LOC" "X-Amz-Signature=" "the proxy's Location is presigned"
assert_contains "$(header_of "$WORK/head" cache-control)" "no-store" "a redirect is not cached"
PRESIGNED0=$(stat_of presigned)
api GET "/api/v1/videos/$VID/proxy" -L
cp "$WORK/body" "$WORK/proxy.mp4"
assert_eq "$STATUS" 200 "the proxy through the redirect"
assert_eq "$(header_of "$WORK/head" content-type)" video/mp4 "the proxy's type, from S3"
assert_contains "$(header_of "$WORK/head" content-disposition)" 'filename="clip-proxy.mp4"' \
    "the proxy's name, from S3"
check
[ "$(stat_of presigned)" -gt "$PRESIGNED0" ] || fail "the proxy's GET was not a presigned request"
assert_eq "$(probe_field "$WORK/proxy.mp4" v:0 codec_name)" h264 "the proxy's video (ffprobe)"
DUR=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$WORK/proxy.mp4")
assert_near "${DUR:-0}" 4.4 0.3 "the proxy's duration"
api GET "/api/v1/videos/$VID/original" -L
cp "$WORK/body" "$WORK/original.avi"
assert_eq "$STATUS" 200 "the original through the redirect"
assert_eq "$(sha256_of "$WORK/original.avi")" "$SHA" "the original is the upload"
api GET "/api/v1/videos/$VID/thumbnail" -L
cp "$WORK/body" "$WORK/thumb.jpg"
assert_eq "$STATUS" 200 "the thumbnail through the redirect"
assert_eq "$(probe_field "$WORK/thumb.jpg" v:0 codec_name)" mjpeg "the thumbnail (ffprobe)"
api GET "/api/v1/videos/999999/proxy"
assert_status 404 "the proxy of no video"

# ---- a part through the API still works in S3 mode (one part: the last may be small) ------
api POST /api/v1/uploads -H 'Content-Type: application/json' \
    -d "{\"filename\": \"small.mp4\", \"size\": $(size_of "$SMALL")}"
assert_status 200 "initiate (small)"
U2=$(jq_ "$BODY" 'j["upload_id"]')
assert_eq "$(jq_ "$BODY" 'j["part_size"]')" 8388608 "the default part size"
api PUT "/api/v1/uploads/$U2/parts/1" --data-binary "@$SMALL" \
    -H 'Content-Type: application/octet-stream'
assert_status 200 "part 1 through the API"
E2=$(jq_ "$BODY" 'j["etag"]')
api POST "/api/v1/uploads/$U2/complete" -H 'Content-Type: application/json' \
    -d "{\"parts\": [{\"part_number\": 1, \"etag\": $(printf '%s' "$E2" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}], \"sha256\": \"$(sha256_of "$SMALL")\"}"
assert_status 200 "complete (small, through the API)"
wait_job "$(jq_ "$BODY" 'j["job_id"]')" terminal 40
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "the small upload's job"
api GET "/api/v1/uploads/$U2?urls=1"
assert_status 409 "fresh URLs of a complete upload"
# both uploads complete: their parts and S3 multipart uploads are gone (s3rver, directly)
LEFT=$(curl -s "http://127.0.0.1:$S3PORT/$BUCKET?list-type=2&prefix=svc/.uploads/" |
       grep -o '<Key>[^<]*</Key>' | head -5)
assert_eq "$LEFT" "" "upload parts left in the bucket"

# ---- token mode: the dashboard's signed links redirect too ----------------------------------
serve_stop
assert_eq "$SERVE_RC" 0 "vidpipe serve's exit"
echo "s3-presigned-test-token-0123456789" > "$WORK/token"
serve_start_or_die --workers 0 --token-file "$WORK/token" --storage \
    "s3://$BUCKET/svc?endpoint=$EP&backoff_ms=20&timeout=10"
AUTH=s3-presigned-test-token-0123456789
api GET "/api/v1/videos/$VID"
assert_status 200 "the video with the token"
THUMB=$(jq_ "$BODY" 'j["links"]["thumbnail"]')
AUTH=""
assert_contains "$THUMB" "sig=" "the thumbnail's link is signed"
api GET "/api/v1/videos/$VID/thumbnail"
assert_status 401 "the thumbnail without token or signature"
api GET "$THUMB"
assert_eq "$STATUS" 302 "the signed thumbnail link"
assert_contains "$(header_of "$WORK/head" location)" "X-Amz-Signature=" "to a presigned URL"
api GET "$THUMB" -L
cp "$WORK/body" "$WORK/thumb2.jpg"
assert_eq "$STATUS" 200 "the signed thumbnail link, followed"
assert_eq "$(probe_field "$WORK/thumb2.jpg" v:0 codec_name)" mjpeg "the thumbnail by its link"

# ---- signatures: every request the proxy saw was right, but the altered one -----------------
assert_eq "$(stat_of bad_signatures)" 1 "requests with a wrong signature (the altered URL only)"
check
[ "$(stat_of presigned)" -ge 8 ] || fail "presigned requests: $(stat_of presigned), want >= 8"
serve_stop
assert_eq "$SERVE_RC" 0 "vidpipe serve's exit (token mode)"

# ---- the folder storage: no URLs, the files served by the server --------------------------
DATA="$WORK/data-file"
serve_start_or_die --workers 1
api POST /api/v1/uploads -H 'Content-Type: application/json' \
    -d "{\"filename\": \"f.mp4\", \"size\": 2097153, \"part_size\": 1048576}"
assert_status 200 "initiate, folder storage, 1 MiB parts"
assert_eq "$(jq_ "$BODY" '"parts" in j')" false "no part URLs with the folder storage"
api GET "/api/v1/uploads/$(jq_ "$BODY" 'j["upload_id"]')?urls=1"
assert_status 501 "fresh URLs with the folder storage"
upload_whole "$SMALL" small.mp4
wait_job "$WJOB" terminal 40
api GET "/api/v1/videos/$WVID/original" -H 'Range: bytes=0-99'
assert_eq "$STATUS" 206 "the original from the folder storage, a range"
assert_eq "$(size_of "$WORK/body")" 100 "the range's bytes"
serve_stop
assert_eq "$SERVE_RC" 0 "vidpipe serve's exit (folder storage)"
no_sanitizer_reports
finish
