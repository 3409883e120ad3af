#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A small fleet (issue 15): 3 worker processes and 2 API nodes on one PostgreSQL and one
# bucket take 200 uploads (tiny clips with 120-line proxies, sent 4 at a time, alternately
# to each API node).
# Every job is completed exactly once: the jobs table (one job per video, completed, attempts
# 1) and the workers' logs (200 completions, no job twice) agree; every object a result names
# is in the bucket with its recorded size, 20 of them decoded by ffprobe; every worker took a
# share. Then 100 videos are deleted through both API nodes: no object of theirs is left (no
# orphan in the bucket) and none of the others' is missing.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/scaleout/scaleout_lib.sh"

N=${SO_FLEET_JOBS:-200}
TINY=$(so_tiny)
[ -s "$TINY" ] || { echo "FAIL: ffmpeg made no media"; exit 1; }
so_pg_start
so_s3_start
so_migrate
so_api api1
so_api api2
so_worker wa
so_worker wb
so_worker wc
B1=$(so_base api1) B2=$(so_base api2)

t0=$(date +%s.%N)
seq "$N" | xargs -P 4 -I{} sh -c '
    if [ $(({} % 2)) = 0 ]; then b=$1; else b=$2; fi
    curl -s --max-time 60 -X POST -H "Content-Type: application/octet-stream" \
        --data-binary "@$3" "$b/api/v1/videos?filename=clip{}.mp4&height=120"; echo' \
    sh "$B1" "$B2" "$TINY" \
    > "$WORK/uploads.json"
assert_eq "$(grep -c '"job_id"' "$WORK/uploads.json")" "$N" "uploads answered with a job"
so_wait_sql "SELECT count(*) FROM jobs WHERE status IN ('completed', 'failed')" "$N" 120 ||
    fail "not every job finished: $(sql "SELECT status, count(*) FROM jobs GROUP BY status")"
t1=$(date +%s.%N)
echo "$N jobs in $(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }') s (uploads included)"

assert_eq "$(sql "SELECT count(*), count(DISTINCT video_id) FROM jobs")" "$N|$N" "one job per video"
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE status <> 'completed' OR attempts <> 1")" 0 \
    "jobs not completed in exactly one attempt"
cat "$WORK"/w?.log | sed -n 's/.*: job \([0-9]*\) (video [0-9]*) completed in .*/\1/p' |
    sort -n > "$WORK/completions"
assert_eq "$(wc -l < "$WORK/completions")" "$N" "completions in the workers' logs"
assert_eq "$(uniq -d "$WORK/completions" | head -3)" "" "jobs completed twice"
for w in wa wb wc; do
    n=$(sql "SELECT count(*) FROM jobs WHERE worker LIKE '%:$(so_pid $w):%'")
    echo "$w completed $n"
    check
    [ "$n" -ge 1 ] || fail "$w took no job"
done
so_verify --videos "$N" --sample 20

# delete every other video, alternately through each API node
seq 2 2 "$N" | xargs -P 4 -I{} sh -c '
    if [ $(({} % 4)) = 0 ]; then b=$1; else b=$2; fi
    curl -s -o /dev/null -w "%{http_code}\n" --max-time 60 -X DELETE "$b/api/v1/videos/{}"' \
    sh "$B1" "$B2" > "$WORK/deletes"
assert_eq "$(sort -u "$WORK/deletes")" 200 "DELETE answers"
so_verify --videos $((N - N / 2)) --deleted "$(seq -s, 2 2 "$N")"
for p in wa wb wc api1 api2; do
    so_stop $p
    assert_eq "$SO_RC" 0 "$p's exit code on SIGTERM"
done
no_sanitizer_reports
finish
