#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fencing (issue 15): a worker process stopped with SIGSTOP late in a job, past its lease
# (--lease 3), while another worker claims the job again and completes it; then SIGCONT. The
# stalled worker must not overwrite the new owner's result: the job stays completed with the
# second lease's result and attempts 2, its objects are whole, nothing the stalled worker
# stored is left in the bucket, and its log says it lost the lease.
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
# late in its work, so that on SIGCONT it has little left before it would store its outputs
so_wait_sql "SELECT status = 'running' AND progress >= 60 FROM jobs WHERE id = $JOB" t 60 ||
    fail "the job did not get to 60 %: $(sql "SELECT status, progress FROM jobs WHERE id = $JOB")"
STALLED=$(so_worker_of "$JOB")
case "$STALLED" in
    wa) OTHER=wb ;;
    wb) OTHER=wa ;;
    *) fail "no worker holds job $JOB"; finish; exit 1 ;;
esac
LEASE1=$(so_job_field "$JOB" lease_id)
echo "job $JOB at $(so_job_field "$JOB" progress) % on $STALLED (lease $LEASE1): SIGSTOP"
kill -STOP "$(so_pid "$STALLED")"

so_wait_sql "SELECT status FROM jobs WHERE id = $JOB" completed 60 ||
    fail "job $JOB did not complete on $OTHER: $(sql "SELECT status, error FROM jobs
                                                      WHERE id = $JOB")"
assert_eq "$(so_worker_of "$JOB")" "$OTHER" "the job is completed by the other worker"
LEASE2=$(so_job_field "$JOB" lease_id)
RESULT=$(so_job_field "$JOB" result)
echo "completed by $OTHER under lease $LEASE2: SIGCONT to $STALLED"
kill -CONT "$(so_pid "$STALLED")"

# the stalled worker finds out (heartbeat or completion refused) and drops its work
n=100
while [ $n -gt 0 ] && ! grep -qE 'lost its lease|lease was lost' "$WORK/$STALLED.log"; do
    sleep 0.2
    n=$((n - 1))
done
assert_contains "$(cat "$WORK/$STALLED.log")" "lease" "the stalled worker's log"
check
grep -qE 'lost its lease|lease was lost' "$WORK/$STALLED.log" ||
    fail "the stalled worker's log does not say it lost the lease: $(tail -3 "$WORK/$STALLED.log")"
sleep 2     # time to store or remove anything it still would
assert_eq "$(so_job_field "$JOB" status)" completed "the job after the stalled worker resumed"
assert_eq "$(so_job_field "$JOB" lease_id)" "$LEASE2" "the job's fencing token after the resume"
assert_eq "$(so_job_field "$JOB" result)" "$RESULT" "the job's result after the resume"
assert_eq "$(so_job_field "$JOB" attempts)" 2 "attempts"
assert_contains "$RESULT" "videos/$VID/j$JOB-$LEASE2/proxy.mp4" \
    "the result names the new owner's keys"
assert_eq "$(so_keys "videos/$VID/j$JOB-$LEASE1/")" "" \
    "nothing left under the stalled attempt's keys"
so_verify --videos 1 --sample 1
# the resumed worker still works
so_upload api "$(so_tiny)" after.mp4
so_wait_sql "SELECT status FROM jobs WHERE id = $JOB" completed 30 || fail "a job after the resume"
so_stop "$STALLED"
assert_eq "$SO_RC" 0 "the resumed worker's exit code on SIGTERM"
so_stop "$OTHER"
so_stop api
no_sanitizer_reports
finish
