#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# kill -9 of a worker process mid-job (issue 15): on PostgreSQL + S3 with an API node and two
# worker processes (--lease 3), the worker running a job of several seconds is killed while
# it transcodes; the other worker claims the job once the lease has expired and completes
# it: one completed job, attempts 2, its result names the second lease's keys, every object
# present and valid, nothing of the dead attempt in the bucket; the dead worker's scratch
# files (its copy of the original, the half-written proxy) are gone when it restarts on the
# same --tmp.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/scaleout/scaleout_lib.sh"

LONG=$(so_long)
[ -s "$LONG" ] || { echo "FAIL: ffmpeg made no media"; exit 1; }
so_pg_start
so_s3_start
so_migrate
so_api api
so_worker wa
so_worker wb

so_upload api "$LONG" long.mp4
so_wait_sql "SELECT status FROM jobs WHERE id = $JOB" running 30 ||
    fail "the job was not claimed"
# into its work: the original fetched, the proxy half written in the scratch folder
so_wait_sql "SELECT progress > 5 FROM jobs WHERE id = $JOB" t 30 ||
    fail "the job made no progress"
VICTIM=$(so_worker_of "$JOB")
case "$VICTIM" in
    wa) OTHER=wb ;;
    wb) OTHER=wa ;;
    *) fail "no worker holds job $JOB"; finish; exit 1 ;;
esac
LEASE1=$(so_job_field "$JOB" lease_id)
echo "job $JOB run by $VICTIM (lease $LEASE1): kill -9"
so_kill9 "$VICTIM"
check
[ -n "$(find "$WORK/$VICTIM.tmp" -type f)" ] ||
    fail "the killed worker left no scratch file: the kill was not mid-job"
t0=$(date +%s)

so_wait_sql "SELECT status FROM jobs WHERE id = $JOB" completed 60 ||
    fail "job $JOB did not complete after the kill: $(sql "SELECT status, error FROM jobs
                                                           WHERE id = $JOB")"
echo "completed $(($(date +%s) - t0)) s after the kill"
assert_eq "$(so_job_field "$JOB" attempts)" 2 "attempts of the job whose worker was killed"
assert_eq "$(so_worker_of "$JOB")" "$OTHER" "the job is completed by the other worker"
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE video_id = $VID")" 1 "one job for the video"
# any process's watchdog (an API node's too) requeues a job whose lease expired
assert_contains "$(cat "$WORK"/*.log)" "watchdog: 1 job(s)" "a watchdog requeued the job"
assert_eq "$(so_keys "videos/$VID/j$JOB-$LEASE1/")" "" \
    "nothing stored under the dead attempt's keys"
so_verify --videos 1 --sample 1

# the dead worker restarts on the same --tmp: its scratch files are removed
so_worker "$VICTIM"
sleep 1
assert_eq "$(find "$WORK/$VICTIM.tmp" -type f | head -3)" "" "the restarted worker's scratch folder"
so_stop "$VICTIM"
assert_eq "$SO_RC" 0 "the restarted worker's exit code on SIGTERM"
so_stop "$OTHER"
assert_eq "$SO_RC" 0 "the other worker's exit code on SIGTERM"
so_stop api
assert_eq "$SO_RC" 0 "the API node's exit code on SIGTERM"
no_sanitizer_reports
finish
