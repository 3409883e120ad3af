#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# PostgreSQL restarted mid-run (issue 15): two API nodes and two worker processes; a job of
# several seconds and 12 short ones queued, the server restarted (fast: every connection cut)
# while they run, 12 more uploaded through both API nodes after it is back. The API nodes
# answer again, the workers
# claim again, every job completes exactly once, every object is present and valid, nothing
# orphaned; no process exited.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/scaleout/scaleout_lib.sh"

TINY=$(so_tiny)
LONG=$(so_long)
[ -s "$TINY" ] && [ -s "$LONG" ] || { echo "FAIL: ffmpeg made no media"; exit 1; }
so_pg_start
so_s3_start
so_migrate
so_api api1
so_api api2
so_worker wa
so_worker wb

for i in $(seq 12); do
    if [ $((i % 2)) = 0 ]; then node=api1; else node=api2; fi
    so_upload "$node" "$TINY" "before$i.mp4"
done
so_upload api1 "$LONG" long.mp4
LJOB=$JOB
so_wait_sql "SELECT status = 'running' AND progress >= 10 FROM jobs WHERE id = $LJOB" t 30 ||
    fail "the long job is not running"
DONE=$(sql "SELECT count(*) FROM jobs WHERE status = 'completed'")
echo "13 uploaded, the long one at $(so_job_field $LJOB progress) %; $DONE completed: restarting"
so_pg_restart || fail "pg_lib.sh restart"
echo "PostgreSQL is back; $(sql "SELECT count(*) FROM jobs WHERE status = 'completed'") completed"

# the API nodes reconnect: the first request after the restart may meet a dead pooled
# connection, which the store resets and runs again
for node in api1 api2; do
    st=$(curl -s -o "$WORK/get.json" -w '%{http_code}' "$(so_base $node)/api/v1/jobs/1")
    assert_eq "$st" 200 "GET a job from $node after the restart ($(cat "$WORK/get.json"))"
done
for i in $(seq 12); do
    if [ $((i % 2)) = 0 ]; then node=api1; else node=api2; fi
    so_upload "$node" "$TINY" "after$i.mp4"
done
so_wait_sql "SELECT count(*) FROM jobs WHERE status = 'completed'" 25 60 ||
    fail "not every job completed: $(sql "SELECT status, count(*) FROM jobs GROUP BY status")"
for p in api1 api2 wa wb; do
    check
    kill -0 "$(so_pid $p)" 2>/dev/null || fail "$p exited during the restart"
done
check
[ "$(so_job_field $LJOB status)" = completed ] &&
    [ "$(so_job_field $LJOB attempts)" -le 2 ] ||
    fail "the long job: $(sql "SELECT status, attempts, error FROM jobs WHERE id = $LJOB")"
echo "the long job running across the restart: attempts $(so_job_field $LJOB attempts)"
so_verify --videos 25 --sample 4
# each worker claimed after the restart (a worker that lost its connections for good would
# leave the other to do it all: both must have claimed something since)
for w in wa wb; do
    check
    [ "$(sql "SELECT count(*) FROM jobs WHERE worker LIKE '%:$(so_pid $w):%'")" -ge 1 ] ||
        fail "$w completed no job"
done
for p in wa wb api1 api2; do
    so_stop $p
    assert_eq "$SO_RC" 0 "$p's exit code on SIGTERM"
done
no_sanitizer_reports
finish
