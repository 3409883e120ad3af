#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# S3 failing under the service (issue 15): with the proxy answering 503 to every 4th request,
# cutting every 3rd download halfway and every 4th upload, an API node and two worker
# processes take 10 whole uploads and one resumable upload sent to presigned URLs whose part
# is cut (the client asks for fresh URLs and sends it again): the storage retries with
# backoff and resumes
# downloads with Range, so every job completes on its first attempt, every object is present
# and valid, and no request of vidpipe's had a signature the 'aws4' package disagrees with.
# Then, faults off, 3 videos deleted: nothing of theirs is left, nothing else is missing.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/scaleout/scaleout_lib.sh"

TINY=$(so_tiny)
BIG=$(so_big)
[ -s "$TINY" ] && [ -s "$BIG" ] || { echo "FAIL: ffmpeg made no media"; exit 1; }
so_pg_start
so_s3_start
so_migrate
so_api api
so_worker wa
so_worker wb

so_faults every503=4 drop_get=3 drop_put=4
for i in $(seq 10); do
    so_upload api "$TINY" "clip$i.mp4"
done
# a resumable upload in 2 parts of 5 MiB (S3's smallest but the last), sent by the client
# straight to presigned URLs through the faulty proxy; part 1's connection is cut mid-body
run python3 "$SO_DIR/so_upload.py" "$(so_base api)" "$BIG" 5242880
assert_eq "$RC" 0 "the interrupted upload: $ERR"
echo "interrupted upload: $OUT"
assert_eq "$(printf '%s' "$OUT" | python3 -c 'import json, sys
j = json.load(sys.stdin); print(j["had_after_cut"], j["resent"])')" "[2] [1]" \
    "the interrupted upload had part 2 only and is resumed with part 1"
so_wait_sql "SELECT count(*) FROM jobs WHERE status IN ('completed', 'failed')" \
    "$(sql "SELECT count(*) FROM jobs")" 90 ||
    fail "not every job finished: $(sql "SELECT status, count(*) FROM jobs GROUP BY status")"
so_faults every503=0 drop_get=0 drop_put=0
STATS=$(so_s3_stats)
echo "proxy: $STATS" | cut -c1-400
stat() { printf '%s' "$STATS" | python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
check
[ "$(stat injected_503)" -ge 5 ] || fail "only $(stat injected_503) 503s were injected"
check
[ "$(stat dropped_get)" -ge 2 ] || fail "only $(stat dropped_get) downloads were cut"
check
[ "$(stat dropped_put)" -ge 2 ] || fail "only $(stat dropped_put) uploads were cut"
check
[ "$(stat range_requests)" -ge 1 ] || fail "no cut download was resumed with a Range request"
assert_eq "$(stat bad_signatures)" 0 "requests whose signature aws4 refused"
assert_eq "$(stat bad_bodies)" 0 "requests whose body did not match its checksum"
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE attempts <> 1")" 0 \
    "jobs that needed more than one attempt (S3 faults are retried inside the attempt)"
so_verify --videos 11 --sample 11

# deletes through the API: the videos' objects go, the others' stay
DEL=""
for v in 2 5 11; do
    st=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$(so_base api)/api/v1/videos/$v")
    assert_eq "$st" 200 "DELETE video $v"
    DEL="$DEL${DEL:+,}$v"
done
so_verify --videos 8 --deleted "$DEL"
for p in wa wb api; do
    so_stop $p
    assert_eq "$SO_RC" 0 "$p's exit code on SIGTERM"
done
no_sanitizer_reports
finish
