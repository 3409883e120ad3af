#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# `vidpipe serve` killed and drained (issue 14, "A kill -9 of the server loses nothing"):
# kill -9 while a job runs (--lease 3) and while an upload is half sent; on restart the job is
# re-run once (attempts 2) and completes, the upload lists the parts it had and completes
# after only the missing ones are sent, no job is stuck, no object is half-written, no
# worker scratch file is left. Then SIGTERM while a job runs: uploads are refused, the
# server exits 0 within its grace, the job either finished or was handed back (its attempt
# not counted), and a restart completes it; with --drain-grace 1 the job is handed back
# (pending, attempts 0, seen from a server without workers) and the next start completes it.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/serve/serve_lib.sh"

AV=$(serve_av)
LONG=$(serve_long)
[ -s "$AV" ] && [ -s "$LONG" ] || { echo "FAIL: ffmpeg made no media"; exit 1; }

# no_stuck WHAT: every video's job is finished (none pending, running or uploading)
no_stuck() {
    api GET "/api/v1/videos?limit=1000"
    assert_eq "$(jq_ "$BODY" '[(v["video_id"], v["status"]) for v in j["videos"] if v["status"] not in ("completed", "failed", "cancelled")]')" \
        "[]" "$1: no video left pending, running or uploading"
}
# scratch_empty WHAT: no file left in the workers' scratch folders
scratch_empty() {
    assert_eq "$(find "$SERVE_TMP" -type f | head -5)" "" "$1: no file in --tmp"
}

serve_start_or_die --workers 1 --lease 3
# half an upload: parts 1 and 2 of 4, part 3 cut
client create "$AV" --name resumed.mp4 --part-size 1048576
assert_eq "$RC" 0 "create: $ERR"
U=$(jq_ "$OUT" 'j["upload_id"]')
client put "$U" "$AV" 1
assert_eq "$RC" 0 "part 1: $ERR"
client put "$U" "$AV" 2
assert_eq "$RC" 0 "part 2: $ERR"
client put "$U" "$AV" 3 --drop
upload_whole "$LONG" long.mp4
assert_status 200 "upload long.mp4"
VID=$WVID JOB=$WJOB
wait_job "$JOB" running 30
assert_eq "$RC" 0 "the long job runs: $ERR"
# let the job get into its work (a proxy half written in its scratch folder)
sleep 1
api GET "/api/v1/jobs/$JOB"
assert_eq "$(jq_ "$BODY" 'j["status"]')" running "the long job is still running at the kill"
serve_kill9
echo "killed -9 with job $JOB running: $BODY"

serve_start_or_die --workers 1 --lease 3
wait_job "$JOB" terminal 60
echo "after the restart: $JOB_JSON"
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "the killed job completes after the restart"
assert_eq "$(jq_ "$JOB_JSON" 'j["attempts"]')" 2 "the killed job ran once more (attempts)"
api GET "/api/v1/videos/$VID/proxy"
assert_eq "$STATUS" 200 "the re-run job's proxy"
cp "$WORK/body" "$WORK/long_proxy.mp4"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$WORK/long_proxy.mp4")
assert_near "$frames" 400 1 "the re-run job's proxy is whole (40 s at 10 fps)"
# the upload resumes
api GET "/api/v1/uploads/$U"
assert_status 200 "the half-sent upload after the restart"
assert_eq "$(jq_ "$BODY" '[p["part_number"] for p in j["parts"]]')" "[1, 2]" \
    "the half-sent upload lists the parts it had whole"
client resume "$U" "$AV"
assert_eq "$RC" 0 "resume after the restart: $ERR"
assert_eq "$(jq_ "$OUT" 'j["resent"]')" "[3, 4]" "only the missing parts sent"
RJOB=$(jq_ "$OUT" 'j["job_id"]')
RVID=$(jq_ "$OUT" 'j["video_id"]')
wait_job "$RJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "the resumed upload's job"
api GET "/api/v1/videos/$RVID/original"
check
cmp -s "$WORK/body" "$AV" || fail "the resumed upload's original differs from the file"
no_stuck "after kill -9 and restart"
objects_check "after kill -9 and restart"
no_temp_files "after kill -9 and restart"
scratch_empty "after kill -9 and restart"

# ---- SIGTERM drain --------------------------------------------------------------------------
api POST "/api/v1/videos/$VID/reprocess"
assert_status 200 "reprocess"
DJOB=$(jq_ "$BODY" 'j["job_id"]')
wait_job "$DJOB" running 30
kill -TERM "$SERVER"
sleep 0.3
if kill -0 "$SERVER" 2>/dev/null; then
    # still draining: work is refused, reads still answered or the listener closed
    upload_whole "$AV" during-drain.mp4
    check
    case "$STATUS" in
        503) assert_json_error 503 "an upload while draining" ;;
        000) ;;
        *) fail "an upload while draining: HTTP $STATUS, expected 503 (or no listener)" ;;
    esac
fi
t0=$(date +%s)
serve_stop 40
t1=$(date +%s)
assert_eq "$SERVE_RC" 0 "SIGTERM: exit code"
echo "drained in $((t1 - t0)) s; log:"
tail -5 "$SERVE_LOG"
serve_start_or_die --workers 1 --lease 3
api GET "/api/v1/jobs/$DJOB"
echo "after the drain: $BODY"
assert_eq "$(jq_ "$BODY" 'j["status"] in ("completed", "pending", "running")')" true \
    "the drained job finished or was handed back (not failed)"
wait_job "$DJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "the drained job completes"
assert_eq "$(jq_ "$JOB_JSON" 'j["attempts"]')" 1 "a handed-back attempt is not counted"
serve_stop
assert_eq "$SERVE_RC" 0 "SIGTERM with nothing running: exit code"

# ---- SIGTERM with a grace too short: the job is handed back, its attempt not counted -------
serve_start_or_die --workers 1 --lease 3 --drain-grace 1
api POST "/api/v1/videos/$VID/reprocess"
assert_status 200 "reprocess"
EJOB=$(jq_ "$BODY" 'j["job_id"]')
wait_job "$EJOB" running 30
sleep 0.5
t0=$(date +%s)
serve_stop 20
t1=$(date +%s)
assert_eq "$SERVE_RC" 0 "SIGTERM, 1 s of grace: exit code"
check
[ $((t1 - t0)) -le 6 ] || fail "SIGTERM with 1 s of grace took $((t1 - t0)) s"
# an API node (no workers) shows the job as the drain left it
serve_start_or_die --workers 0
api GET "/api/v1/jobs/$EJOB"
echo "handed back: $BODY"
assert_eq "$(jq_ "$BODY" '[j["status"], j["attempts"], j["result"]]')" '["pending", 0, null]' \
    "the job stopped by the drain is pending again, its attempt not counted"
scratch_empty "after the hand-back"
serve_stop
serve_start_or_die --workers 1 --lease 3
wait_job "$EJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" '[j["status"], j["attempts"]]')" '["completed", 1]' \
    "the handed-back job completes on the next start, in one counted attempt"
no_stuck "after the drains and restarts"
objects_check "after the drains and restarts"
no_temp_files "after the drains and restarts"
scratch_empty "after the drains and restarts"
serve_stop
assert_eq "$SERVE_RC" 0 "the last SIGTERM: exit code"
no_sanitizer_reports
finish
