#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# `vidpipe serve` against bad input (issue 14, "Bad input and security"): oversized uploads
# (--max-upload), a wrong checksum, parts out of range or of the wrong size, unknown ids, bad
# JSON, path tricks in file names (../, absolute, NUL), a text file and a truncated MP4
# uploaded as videos (accepted; their jobs fail at once, attempts 1, with a reason), a video
# without audio (a proxy without audio), a .mov, and slowloris connections. Each answer has
# the right status and a JSON error with a message; the server stays up and healthy; nothing
# half-written is left under DATA.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/serve/serve_lib.sh"

AV=$(serve_av)
SMALL=$(serve_small)
NOAUDIO=$(serve_noaudio)
MOV=$(serve_mov)
TEXT=$(serve_text)
TRUNC=$(serve_truncated)
for f in "$AV" "$SMALL" "$NOAUDIO" "$MOV" "$TEXT" "$TRUNC"; do
    [ -s "$f" ] || { echo "FAIL: no media $f"; exit 1; }
done
# 3 MiB at most: the 3.7 MB clip is too big, the others fit
serve_start_or_die --workers 2 --max-upload 3145728

# ---- oversized ----------------------------------------------------------------------------
api POST /api/v1/uploads -H 'Content-Type: application/json' \
    -d "{\"filename\": \"big.mp4\", \"size\": $(size_of "$AV")}"
assert_status 413 "POST /api/v1/uploads of $(size_of "$AV") bytes over --max-upload 3 MiB"
upload_whole "$AV" big.mp4
assert_status 413 "POST /api/v1/videos with a body over --max-upload"
# a body whose length is not announced (chunked) is stopped at the limit too
api POST "/api/v1/videos?filename=big2.mp4" -H 'Transfer-Encoding: chunked' --data-binary "@$AV"
assert_status 413 "a chunked body over --max-upload"
api GET "/api/v1/videos?limit=1000"
assert_eq "$(jq_ "$BODY" 'len(j["videos"])')" 0 "no video made by the refused uploads"

ZERO=0000000000000000000000000000000000000000000000000000000000000000
# ---- a resumable upload to misuse -----------------------------------------------------------
SSIZE=$(size_of "$SMALL")
client create "$SMALL" --name small.mp4
assert_eq "$RC" 0 "create: $ERR"
U=$(jq_ "$OUT" 'j["upload_id"]')
PS=$(jq_ "$OUT" 'j["part_size"]')
NP=$(jq_ "$OUT" 'j["parts_count"]')
assert_eq "$NP" 1 "a $SSIZE-byte file in one part"
api PUT "/api/v1/uploads/$U/parts/0" --data-binary "@$SMALL"
assert_status 400 "part 0"
api PUT "/api/v1/uploads/$U/parts/2" --data-binary "@$SMALL"
assert_status 400 "part 2 of a 1-part upload"
# not part numbers at all: a bad request or no such route
for n in -1 99999999999999999999 1x; do
    api PUT "/api/v1/uploads/$U/parts/$n" --data-binary "@$SMALL"
    check
    case "$STATUS" in 400|404) assert_json_error "$STATUS" "part $n" ;;
        *) fail "part $n: HTTP $STATUS, expected 400 or 404: $BODY" ;; esac
done
head -c $((SSIZE - 1)) "$SMALL" > "$WORK/short.bin"
api PUT "/api/v1/uploads/$U/parts/1" --data-binary "@$WORK/short.bin"
assert_status 400 "a last part one byte short"
{ cat "$SMALL"; printf x; } > "$WORK/long.bin"
api PUT "/api/v1/uploads/$U/parts/1" --data-binary "@$WORK/long.bin"
check
case "$STATUS" in 400|413) assert_json_error "$STATUS" "a part one byte too long" ;;
    *) fail "a part one byte too long: HTTP $STATUS, expected 400 or 413: $BODY" ;; esac
api GET "/api/v1/uploads/$U"
assert_status 200 "GET the upload"
assert_eq "$(jq_ "$BODY" 'j["parts"]')" "[]" "no part kept from the refused PUTs"
# completing with a missing part
api POST "/api/v1/uploads/$U/complete" -H 'Content-Type: application/json' \
    -d "{\"parts\": [{\"part_number\": 1, \"etag\": \"x\"}], \"sha256\": \"$(sha256_of "$SMALL")\"}"
assert_status 400 "complete before part 1 arrived"
api PUT "/api/v1/uploads/$U/parts/1" --data-binary "@$SMALL"
assert_status 200 "PUT part 1"
ETAG=$(jq_ "$BODY" 'json.dumps(j["etag"])')
# a wrong checksum
api POST "/api/v1/uploads/$U/complete" -H 'Content-Type: application/json' \
    -d "{\"parts\": [{\"part_number\": 1, \"etag\": $ETAG}], \"sha256\": \"$ZERO\"}"
assert_status 422 "complete with a wrong SHA-256"
api POST "/api/v1/uploads/$U/complete" -H 'Content-Type: application/json' \
    -d "{\"parts\": [{\"part_number\": 1, \"etag\": \"\\\"0123\\\"\"}], \"sha256\": \"$(sha256_of "$SMALL")\"}"
assert_status 422 "complete with a wrong etag"
api POST "/api/v1/uploads/$U/complete" -H 'Content-Type: application/json' \
    -d "{\"parts\": [{\"part_number\": 1, \"etag\": $ETAG}], \"sha256\": \"xyz\"}"
assert_status 400 "complete with a SHA-256 that is not 64 hex digits"
api GET "/api/v1/videos?status=uploading"
assert_eq "$(jq_ "$BODY" 'len(j["videos"])')" 1 "the upload is still open (listed as uploading)"
# the right one still completes it
client complete "$U" "$SMALL"
assert_eq "$RC" 0 "complete after the refused ones: $ERR"
SJOB=$(jq_ "$OUT" 'j["job_id"]')
api PUT "/api/v1/uploads/$U/parts/1" --data-binary "@$SMALL"
assert_status 409 "PUT a part of a completed upload"

# ---- unknown ids, routes and methods --------------------------------------------------------
for p in /api/v1/jobs/987654 /api/v1/videos/987654 /api/v1/videos/987654/proxy \
    /api/v1/videos/987654/original /api/v1/videos/987654/thumbnail \
    /api/v1/uploads/00000000000000000000000000000000 /api/v1/uploads/nope /api/v1/nothing \
    /api/v1/jobs/abc /nothing; do
    api GET "$p"
    assert_status 404 "GET $p"
done
api DELETE /api/v1/videos/987654
assert_status 404 "DELETE an unknown video"
api POST /api/v1/jobs/987654/cancel
assert_status 404 "cancel an unknown job"
api POST /api/v1/videos/987654/reprocess
assert_status 404 "reprocess an unknown video"
api PUT /api/v1/uploads/nope/parts/1 --data-binary "@$SMALL"
assert_status 404 "PUT a part of an unknown upload"
api POST /api/v1/uploads/nope/complete -H 'Content-Type: application/json' \
    -d '{"parts": [{"part_number": 1, "etag": "x"}], "sha256": "'$ZERO'"}'
assert_status 404 "complete an unknown upload"
api DELETE /api/v1/jobs/1
check
case "$STATUS" in 404|405) assert_json_error "$STATUS" "DELETE /api/v1/jobs/1" ;;
    *) fail "DELETE /api/v1/jobs/1: HTTP $STATUS, expected 404 or 405" ;; esac

# ---- bad JSON and bad fields ----------------------------------------------------------------
bad_create() { # BODY WHAT
    api POST /api/v1/uploads -H 'Content-Type: application/json' -d "$1"
    assert_status 400 "POST /api/v1/uploads $2"
}
bad_create '{' "with a cut JSON body"
bad_create '[1, 2]' "with an array"
bad_create 'null' "with null"
bad_create '' "with an empty body"
bad_create '{"size": 100}' "without a filename"
bad_create '{"filename": "a.mp4"}' "without a size"
bad_create '{"filename": 5, "size": 100}' "with a numeric filename"
bad_create '{"filename": "a.mp4", "size": "100"}' "with a string size"
bad_create '{"filename": "a.mp4", "size": 0}' "with size 0"
bad_create '{"filename": "a.mp4", "size": -5}' "with a negative size"
bad_create '{"filename": "a.mp4", "size": 1e400}' "with size 1e400"
bad_create '{"filename": "a.mp4", "size": 100, "part_size": 5}' "with a part size of 5"
bad_create '{"filename": "a.mp4", "size": 100, "sha256": "abc"}' "with a short sha256"
bad_create '{"filename": "a.mp4", "size": 100, "colour": "blue"}' "with an unknown member"
{ printf '{"filename": "a.mp4", "size": 100, "x": "'; head -c 5000000 /dev/zero | tr '\0' a
  printf '"}'; } > "$WORK/big.json"
api POST /api/v1/uploads -H 'Content-Type: application/json' --data-binary "@$WORK/big.json"
assert_status 413 "POST /api/v1/uploads with a 5 MB JSON body (JSON bodies are at most 4 MiB)"
api POST "/api/v1/uploads/$U/complete" -H 'Content-Type: application/json' -d '{"parts": '
assert_status 400 "complete with a cut JSON body"
api POST "/api/v1/uploads/$U/complete" -H 'Content-Type: application/json' -d '{"parts": "all"}'
check
case "$STATUS" in 400|200) ;; *) fail "complete of a completed upload, parts a string: HTTP $STATUS" ;; esac
for q in "limit=0x10" "limit=-1" "limit=1001" "limit=abc" "status=sleeping" "cursor=%00"; do
    api GET "/api/v1/videos?$q"
    assert_status 400 "GET /api/v1/videos?$q"
done

# ---- path tricks in file names ------------------------------------------------------------------
mkdir -p "$WORK/canary"
for name in "../../canary/evil.mp4" "/tmp/evil.mp4" "a%2F..%2F..%2Fevil.mp4" "evil%00.mp4" \
    ".." "." "" "$(head -c 300 /dev/zero | tr '\0' n).mp4"; do
    upload_whole "$SMALL" "$name"
    assert_status 400 "POST /api/v1/videos?filename=$(echo "$name" | cut -c1-40)"
    if [ "$STATUS" = 201 ]; then
        api GET "/api/v1/videos/$WVID"
        echo "    stored as: $(jq_ "$BODY" 'j["filename"]')"
    fi
done
for name in '../../canary/evil.mp4' '/tmp/evil.mp4' 'a\u0000b.mp4' 'sub/dir.mp4' '..'; do
    api POST /api/v1/uploads -H 'Content-Type: application/json' \
        -d "{\"filename\": \"$name\", \"size\": 100}"
    assert_status 400 "POST /api/v1/uploads filename $name"
done
upload_whole "$SMALL" "name%20with%20spaces%20%C3%A9.mp4"
assert_status 200 "a name with spaces and UTF-8"
NJOB=$WJOB
api GET "/api/v1/videos/$WVID"
assert_eq "$(jq_ "$BODY" 'j["filename"]')" "name with spaces é.mp4" "the name kept as given"
assert_eq "$(ls "$WORK/canary")" "" "nothing written outside DATA"
check
[ ! -e /tmp/evil.mp4 ] || fail "/tmp/evil.mp4 was written"

# ---- media that is not what it says ----------------------------------------------------------
upload_whole "$TEXT" notes.mp4
assert_status 200 "a text file is accepted as an upload"
TJOB=$WJOB
upload_whole "$TRUNC" cut.mp4
assert_status 200 "a truncated MP4 is accepted as an upload"
CJOB=$WJOB
upload_whole "$NOAUDIO" silent.mp4
assert_status 200 "a video without audio"
NAVID=$WVID NAJOB=$WJOB
upload_whole "$MOV" clip.mov
assert_status 200 "a .mov"
MVID=$WVID MJOB=$WJOB
for j in "$TJOB:text file" "$CJOB:truncated MP4"; do
    id=${j%%:*} what=${j#*:}
    t0=$(date +%s)
    wait_job "$id" terminal 30
    t1=$(date +%s)
    echo "$what: $JOB_JSON"
    assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" failed "$what: job status"
    assert_eq "$(jq_ "$JOB_JSON" 'j["attempts"]')" 1 "$what: failed at once (attempts)"
    assert_eq "$(jq_ "$JOB_JSON" 'type(j["error"]).__name__ == "str" and len(j["error"]) > 10 and "\n" not in j["error"]')" \
        true "$what: one line of reason"
    assert_eq "$(jq_ "$JOB_JSON" 'j["result"]')" null "$what: no result"
    check
    [ $((t1 - t0)) -le 10 ] || fail "$what: failed after $((t1 - t0)) s (retried?)"
done
api GET "/api/v1/jobs/$CJOB"
assert_eq "$(jq_ "$BODY" 'any(w in j["error"].lower() for w in ("trunc", "incomplete", "cut short", "ends before"))')" \
    true "truncated MP4: the reason says it is truncated: $(jq_ "$BODY" 'j["error"]')"
api GET "/api/v1/jobs/$TJOB"
assert_eq "$(jq_ "$BODY" 'any(w in j["error"].lower() for w in ("not a media", "not a video", "no video", "format"))')" \
    true "text file: the reason says it is not a video: $(jq_ "$BODY" 'j["error"]')"
sleep 3
api GET "/api/v1/jobs/$TJOB"
assert_eq "$(jq_ "$BODY" '[j["status"], j["attempts"]]')" '["failed", 1]' "text file: not retried later"
wait_job "$NAJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "no audio: job: $JOB_JSON"
api GET "/api/v1/videos/$NAVID/proxy"
assert_eq "$STATUS" 200 "no audio: GET proxy"
cp "$WORK/body" "$WORK/na.mp4"
assert_eq "$(probe_field "$WORK/na.mp4" v:0 height)" 480 "no audio: proxy height"
assert_eq "$(ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 "$WORK/na.mp4")" \
    "" "no audio: the proxy has no audio stream"
wait_job "$MJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed ".mov: job: $JOB_JSON"
assert_eq "$(jq_ "$JOB_JSON" 'j["result"]["metadata"]["original"]["fps"]')" 24 ".mov: original fps"
wait_job "$SJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "the upload completed after refusals"
wait_job "$NJOB" terminal 60

# ---- slowloris: 20 connections sending their headers a byte a second -----------------------
client slowloris --conns 20 --seconds 8
assert_eq "$RC" 0 "slowloris client: $ERR"
echo "slowloris: $OUT"
assert_eq "$(jq_ "$OUT" 'j["failures"]')" "[]" "requests during slowloris all answered 200"
assert_eq "$(jq_ "$OUT" 'j["requests"] >= 20 and j["max_latency_s"] < 1.0')" true \
    "requests during slowloris answered within 1 s"
# a part body sent a byte a second does not block others either
python3 - "$BASE" "$U" <<'PY' &
import socket, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
s.sendall(("PUT /api/v1/uploads/%s/parts/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
           % sys.argv[2]).encode())
try:
    for i in range(6):
        s.sendall(b"x")
        time.sleep(1)
except OSError:
    pass
PY
SERVE_EXTRA_PIDS=$!
sleep 1
t0=$(date +%s.%N)
api GET /healthz
t1=$(date +%s.%N)
assert_eq "$STATUS" 200 "healthz during a slow body"
assert_eq "$(python3 -c "print(int($t1 - $t0 < 1))")" 1 \
    "healthz during a slow body within 1 s"
wait "$SERVE_EXTRA_PIDS" 2>/dev/null
SERVE_EXTRA_PIDS=""

# ---- still healthy, nothing half-written -------------------------------------------------
check
kill -0 "$SERVER" 2>/dev/null || fail "the server died"
api GET /healthz
assert_eq "$STATUS" 200 "healthz at the end"
upload_whole "$SMALL" after.mp4
assert_status 200 "an upload at the end"
wait_job "$WJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "a job at the end"
objects_check "after the bad input"
no_temp_files "after the bad input"
serve_stop
assert_eq "$SERVE_RC" 0 "SIGTERM: exit code"
no_sanitizer_reports
finish
