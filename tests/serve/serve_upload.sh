#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# `vidpipe serve` end to end (issue 14): a resumable upload in 1 MiB parts whose part 3 is
# cut mid-body (the upload then lists only the parts received whole; only part 3 is sent
# again), completed with its SHA-256 (twice: the same ids, one job); the job to completed;
# the seed's result shape with its types; the proxy (480 lines, 10 fps, H.264 + AAC, moov
# before mdat) and the thumbnail (320 px JPEG) checked with ffprobe; range requests on the
# proxy; a curl --data-binary upload with ?height=240&fps=15 honoured; list pagination while
# videos are added; reprocess; cancel of a pending and of a running job; DELETE removing
# every stored file of the video.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/serve/serve_lib.sh"

AV=$(serve_av)
SMALL=$(serve_small)
LONG=$(serve_long)
[ -s "$AV" ] && [ -s "$SMALL" ] && [ -s "$LONG" ] || { echo "FAIL: ffmpeg made no media"; exit 1; }

serve_start_or_die --workers 2
api GET /healthz
assert_eq "$STATUS" 200 "GET /healthz"

# ---- the resumable upload, with a connection dropped in the middle of part 3 -------------
client upload "$AV" --name "clip one.mp4" --part-size 1048576 --drop-part 3
assert_eq "$RC" 0 "resumable upload: $ERR"
UP=$OUT
assert_eq "$(jq_ "$UP" 'j["parts_count"]')" 4 "parts of a $(size_of "$AV")-byte file"
assert_eq "$(jq_ "$UP" 'j["listed_after_drop"]')" "[1, 2, 4]" "parts listed after the drop"
assert_eq "$(jq_ "$UP" 'j["resent"]')" "[3]" "parts sent again"
UPLOAD_ID=$(jq_ "$UP" 'j["upload_id"]')
VID=$(jq_ "$UP" 'j["video_id"]')
JOB=$(jq_ "$UP" 'j["job_id"]')
assert_eq "$(jq_ "$UP" 'j["create"]["video_id"] == j["video_id"]')" true \
    "complete names the video create reserved"
# a second complete: the same ids, no second job
client complete "$UPLOAD_ID" "$AV"
assert_eq "$RC" 0 "second complete: $ERR"
assert_eq "$(jq_ "$OUT" 'j["video_id"]')" "$VID" "second complete: video_id"
assert_eq "$(jq_ "$OUT" 'j["job_id"]')" "$JOB" "second complete: job_id"
api GET "/api/v1/jobs/$((JOB + 1))"
assert_status 404 "no second job made by the second complete"
api GET "/api/v1/uploads/$UPLOAD_ID"
assert_status 200 "GET the completed upload"
assert_eq "$(jq_ "$BODY" 'j["status"]')" complete "upload status after complete"
assert_eq "$(jq_ "$BODY" 'j["job_id"]')" "$JOB" "upload's job_id after complete"

wait_job "$JOB" terminal 60
assert_eq "$RC" 0 "job $JOB finished: $ERR"
J=$JOB_JSON
echo "job: $J"
assert_eq "$(jq_ "$J" 'j["status"]')" completed "job status"
assert_eq "$(jq_ "$J" 'j["attempts"]')" 1 "attempts"
assert_eq "$(jq_ "$J" 'j["progress"]')" 100 "progress"
assert_eq "$(jq_ "$J" 'j["video_id"]')" "$VID" "job's video_id"
assert_eq "$(jq_ "$J" 'j["error"]')" null "error"
assert_eq "$(jq_ "$J" '[type(j[k]).__name__ for k in ("created_at", "started_at", "finished_at")]')" \
    '["str", "str", "str"]' "job times are strings"
assert_eq "$(jq_ "$J" 'j["created_at"] <= j["started_at"] <= j["finished_at"] and j["finished_at"].endswith("Z")')" \
    true "created <= started <= finished, ISO 8601 UTC"
assert_eq "$(jq_ "$J" 'type(j["duration_seconds"]) in (int, float) and 0 <= j["duration_seconds"] < 60')" \
    true "duration_seconds a number"
# the seed's result_data shape, with its types
R=$(jq_ "$J" 'j["result"]')
assert_eq "$(jq_ "$R" 'j["status"]')" success "result.status"
assert_eq "$(jq_ "$R" '[type(j[k]).__name__ for k in ("proxy_path", "thumbnail_path")]')" \
    '["str", "str"]' "result proxy_path, thumbnail_path"
types=$(jq_ "$R" '{part: {k: type(v).__name__ for k, v in j["metadata"][part].items()} for part in ("original", "proxy", "thumbnail")}')
echo "metadata types: $types"
num_ok() { # JSON-path-expression: an int or float
    jq_ "$R" "type($1).__name__ in ('int', 'float')"
}
for k in fps duration_seconds; do
    assert_eq "$(num_ok "j['metadata']['original']['$k']")" true "metadata.original.$k is a number"
    assert_eq "$(num_ok "j['metadata']['proxy']['$k']")" true "metadata.proxy.$k is a number"
done
assert_eq "$(num_ok "j['metadata']['thumbnail']['timestamp_seconds']")" true \
    "metadata.thumbnail.timestamp_seconds is a number"
for k in width height bitrate file_size_bytes; do
    assert_eq "$(jq_ "$R" "type(j['metadata']['original']['$k']).__name__")" int "metadata.original.$k is an int"
done
for k in width height file_size_bytes; do
    assert_eq "$(jq_ "$R" "type(j['metadata']['proxy']['$k']).__name__")" int "metadata.proxy.$k is an int"
    assert_eq "$(jq_ "$R" "type(j['metadata']['thumbnail']['$k']).__name__")" int "metadata.thumbnail.$k is an int"
done
assert_eq "$(jq_ "$R" 'j["metadata"]["original"]["codec"]')" h264 "metadata.original.codec"
assert_eq "$(jq_ "$R" 'j["metadata"]["proxy"]["codec"]')" h264 "metadata.proxy.codec"
assert_eq "$(jq_ "$R" '[j["metadata"]["original"][k] for k in ("width", "height")]')" "[320, 240]" \
    "metadata.original size"
assert_near "$(jq_ "$R" 'j["metadata"]["original"]["fps"]')" 30 0.01 "metadata.original.fps"
assert_near "$(jq_ "$R" 'j["metadata"]["original"]["duration_seconds"]')" 6 0.1 \
    "metadata.original.duration_seconds"
assert_eq "$(jq_ "$R" 'j["metadata"]["original"]["file_size_bytes"]')" "$(size_of "$AV")" \
    "metadata.original.file_size_bytes"
assert_eq "$(jq_ "$R" '[j["metadata"]["proxy"][k] for k in ("width", "height")]')" "[640, 480]" \
    "metadata.proxy size (480 high, the 4:3 aspect)"
assert_near "$(jq_ "$R" 'j["metadata"]["proxy"]["fps"]')" 10 0.001 "metadata.proxy.fps"
assert_eq "$(jq_ "$R" '[j["metadata"]["thumbnail"][k] for k in ("width", "height")]')" "[320, 240]" \
    "metadata.thumbnail size"
assert_near "$(jq_ "$R" 'j["metadata"]["thumbnail"]["timestamp_seconds"]')" 5 0.001 \
    "thumbnail at 5 s of a 6 s video"

# ---- the stored files -----------------------------------------------------------------
api GET "/api/v1/videos/$VID/original"
assert_eq "$STATUS" 200 "GET original"
check
cmp -s "$WORK/body" "$AV" || fail "the stored original differs from the uploaded file"
api GET "/api/v1/videos/$VID/proxy"
assert_eq "$STATUS" 200 "GET proxy"
cp "$WORK/body" "$WORK/proxy.mp4"
assert_contains "$(tr -d '\r' < "$WORK/head" | tr 'A-Z' 'a-z')" "content-type: video/mp4" "proxy Content-Type"
assert_contains "$(tr -d '\r' < "$WORK/head" | tr 'A-Z' 'a-z')" "accept-ranges: bytes" "proxy Accept-Ranges"
assert_eq "$(size_of "$WORK/proxy.mp4")" "$(jq_ "$R" 'j["metadata"]["proxy"]["file_size_bytes"]')" \
    "proxy size = metadata.proxy.file_size_bytes"
assert_eq "$(probe_field "$WORK/proxy.mp4" v:0 codec_name)" h264 "proxy video codec"
assert_eq "$(probe_field "$WORK/proxy.mp4" v:0 height)" 480 "proxy height"
assert_eq "$(probe_field "$WORK/proxy.mp4" v:0 width)" 640 "proxy width"
assert_eq "$(probe_field "$WORK/proxy.mp4" v:0 r_frame_rate)" 10/1 "proxy frame rate"
assert_eq "$(probe_field "$WORK/proxy.mp4" v:0 pix_fmt)" yuv420p "proxy pixel format"
assert_eq "$(probe_field "$WORK/proxy.mp4" a:0 codec_name)" aac "proxy audio codec"
abr=$(probe_field "$WORK/proxy.mp4" a:0 bit_rate)
assert_near "${abr:-0}" 64000 8000 "proxy audio bit rate"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$WORK/proxy.mp4")
assert_near "$frames" 60 1 "proxy frames (6 s at 10 fps)"
boxes=$(top_boxes "$WORK/proxy.mp4")
check
case "$boxes" in *moov*mdat*) ;; *) fail "proxy is not fast start (moov before mdat): $boxes" ;; esac
api GET "/api/v1/videos/$VID/thumbnail"
assert_eq "$STATUS" 200 "GET thumbnail"
cp "$WORK/body" "$WORK/thumb.jpg"
assert_contains "$(tr -d '\r' < "$WORK/head" | tr 'A-Z' 'a-z')" "content-type: image/jpeg" "thumbnail Content-Type"
assert_eq "$(probe_field "$WORK/thumb.jpg" v:0 codec_name)" mjpeg "thumbnail is a JPEG"
assert_eq "$(probe_field "$WORK/thumb.jpg" v:0 width)" 320 "thumbnail width"
assert_eq "$(probe_field "$WORK/thumb.jpg" v:0 height)" 240 "thumbnail height"

# ---- range requests on the proxy -------------------------------------------------------
PSIZE=$(size_of "$WORK/proxy.mp4")
range_check() { # RANGE FIRST LAST
    api GET "/api/v1/videos/$VID/proxy" -H "Range: bytes=$1"
    assert_eq "$STATUS" 206 "Range: bytes=$1"
    cr=$(tr -d '\r' < "$WORK/head" | grep -i '^content-range:' | sed 's/^[^:]*: *//')
    assert_eq "$cr" "bytes $2-$3/$PSIZE" "Range: bytes=$1: Content-Range"
    tail -c +$(($2 + 1)) "$WORK/proxy.mp4" | head -c $(($3 - $2 + 1)) > "$WORK/range.want"
    check
    cmp -s "$WORK/body" "$WORK/range.want" || fail "Range: bytes=$1: not the file's bytes $2-$3"
}
range_check 100-1099 100 1099
range_check 0-0 0 0
range_check "$((PSIZE - 10))-" $((PSIZE - 10)) $((PSIZE - 1))
range_check -500 $((PSIZE - 500)) $((PSIZE - 1))
range_check "1000-$((PSIZE + 5000))" 1000 $((PSIZE - 1))
api GET "/api/v1/videos/$VID/proxy" -H "Range: bytes=$PSIZE-"
assert_eq "$STATUS" 416 "a range past the end"
cr=$(tr -d '\r' < "$WORK/head" | grep -i '^content-range:' | sed 's/^[^:]*: *//')
assert_eq "$cr" "bytes */$PSIZE" "416 Content-Range"
# a browser seeks: a range from the middle plays
api GET "/api/v1/videos/$VID/proxy" -H "Range: bytes=$((PSIZE / 2))-"
assert_eq "$STATUS" 206 "open range from the middle"
assert_eq "$(size_of "$WORK/body")" $((PSIZE - PSIZE / 2)) "open range length"

# ---- curl --data-binary, with overrides ---------------------------------------------------
upload_whole "$SMALL" small.mp4 "height=240&fps=15"
assert_status 200 "POST /api/v1/videos?filename=small.mp4&height=240&fps=15"
VID2=$WVID JOB2=$WJOB
wait_job "$JOB2" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "override job: $JOB_JSON"
api GET "/api/v1/videos/$VID2/proxy"
assert_eq "$STATUS" 200 "GET override proxy"
cp "$WORK/body" "$WORK/proxy240.mp4"
assert_eq "$(probe_field "$WORK/proxy240.mp4" v:0 height)" 240 "?height=240 honoured"
assert_eq "$(probe_field "$WORK/proxy240.mp4" v:0 r_frame_rate)" 15/1 "?fps=15 honoured"
assert_eq "$(jq_ "$JOB_JSON" 'j["result"]["metadata"]["proxy"]["height"]')" 240 \
    "override: metadata.proxy.height"
api GET "/api/v1/videos/$VID2"
assert_status 200 "GET /api/v1/videos/$VID2"
assert_eq "$(jq_ "$BODY" 'j["filename"]')" small.mp4 "video filename"
assert_eq "$(jq_ "$BODY" 'j["status"]')" completed "video status"
assert_eq "$(jq_ "$BODY" 'j["size"]')" "$(size_of "$SMALL")" "video size"
assert_eq "$(jq_ "$BODY" 'j["media"]')" '{"original": true, "proxy": true, "thumbnail": true}' \
    "video media"
# a bad override is refused before any byte is stored
upload_whole "$SMALL" bad.mp4 "height=99999"
assert_status 400 "?height=99999"
upload_whole "$SMALL" bad.mp4 "colour=blue"
assert_status 400 "an unknown option ?colour=blue"

# ---- pagination while videos are added ---------------------------------------------------
for i in 1 2 3; do
    upload_whole "$SMALL" "page$i.mp4"
    assert_status 200 "upload page$i.mp4"
done
api GET "/api/v1/videos?limit=1000"
assert_status 200 "GET /api/v1/videos?limit=1000"
BEFORE=$(jq_ "$BODY" '[v["video_id"] for v in j["videos"]]')
assert_eq "$(jq_ "$BODY" 'j["next_cursor"]')" null "one page holds them all: next_cursor null"
assert_eq "$(jq_ "$BEFORE" 'len(j)')" 5 "videos before paging"
client paginate --limit 2 --add "$SMALL" --add-count 3
assert_eq "$RC" 0 "paginate: $ERR"
PG=$OUT
echo "pages: $PG"
assert_eq "$(jq_ "$PG" 'len(j["ids"]) == len(set(j["ids"]))')" true "no video repeated"
assert_eq "$(jq_ "$PG" 'j["ids"]')" "$(jq_ "$BEFORE" "j + $(jq_ "$PG" 'j["added"]')")" \
    "every video once, in upload order, the ones added while paging last"
assert_eq "$(jq_ "$PG" 'j["pages"] in (4, 5)')" true "8 videos in pages of 2 (and an empty last one or not)"
assert_eq "$(jq_ "$PG" 'j["cursors"][-1]')" null "next_cursor null at the end"
api GET "/api/v1/videos?limit=2&cursor=zz-not-a-cursor"
assert_status 400 "a malformed cursor"

# ---- reprocess ----------------------------------------------------------------------------
api POST "/api/v1/videos/$VID2/reprocess"
assert_status 200 "reprocess $VID2"
RJOB=$(jq_ "$BODY" 'j["job_id"]')
assert_eq "$(jq_ "$BODY" 'j["queued"]')" true "reprocess queued a job"
check
[ "$RJOB" != "$JOB2" ] || fail "reprocess answered the finished job $JOB2"
wait_job "$RJOB" terminal 60
assert_eq "$(jq_ "$JOB_JSON" 'j["status"]')" completed "reprocessed job: $JOB_JSON"
assert_eq "$(jq_ "$JOB_JSON" 'j["result"]["metadata"]["proxy"]["height"]')" 240 \
    "reprocess keeps the last job's overrides"
api GET "/api/v1/videos/$VID2"
assert_eq "$(jq_ "$BODY" 'j["job_id"]')" "$RJOB" "the video's job is the reprocessed one"

# ---- cancel: a running job stops within a second; a pending one never runs -------------------
upload_whole "$LONG" long.mp4
assert_status 200 "upload long.mp4"
LVID=$WVID LJOB=$WJOB
wait_job "$LJOB" running 30
assert_eq "$RC" 0 "long job running: $ERR"
api POST "/api/v1/jobs/$LJOB/cancel"
assert_status 200 "cancel the running job"
assert_eq "$(jq_ "$BODY" 'j["status"]')" cancelled "cancel answers the cancelled job"
sleep 1.5
api GET "/api/v1/jobs/$LJOB"
assert_eq "$(jq_ "$BODY" 'j["status"]')" cancelled "still cancelled after 1.5 s"
assert_eq "$(jq_ "$BODY" 'j["result"]')" null "a cancelled job has no result"
api GET "/api/v1/videos/$LVID/proxy"
assert_status 404 "no proxy for the cancelled video"
api POST "/api/v1/jobs/$LJOB/cancel"
assert_eq "$STATUS" 200 "cancel again: the job as it is"
assert_eq "$(jq_ "$BODY" 'j["status"]')" cancelled "cancel again: still cancelled"
api POST "/api/v1/jobs/$JOB/cancel"
assert_eq "$(jq_ "$BODY" 'j["status"]')" completed "cancel of a completed job leaves it completed"
# reprocess of the cancelled video queues a new job, and a second reprocess answers it
api POST "/api/v1/videos/$LVID/reprocess"
assert_status 200 "reprocess the cancelled video"
LJOB2=$(jq_ "$BODY" 'j["job_id"]')
api POST "/api/v1/videos/$LVID/reprocess"
assert_status 200 "reprocess again while it is active"
assert_eq "$(jq_ "$BODY" 'j["job_id"]')" "$LJOB2" "one active job per video"
assert_eq "$(jq_ "$BODY" 'j["queued"]')" false "the second reprocess queued nothing"
api POST "/api/v1/jobs/$LJOB2/cancel"
assert_status 200 "cancel the reprocess"
api GET "/api/v1/jobs/$LJOB2"
assert_eq "$(jq_ "$BODY" 'j["status"]')" cancelled "reprocess job cancelled"
api GET "/api/v1/videos?status=cancelled"
assert_status 200 "GET /api/v1/videos?status=cancelled"
assert_eq "$(jq_ "$BODY" '[v["video_id"] for v in j["videos"]]')" "[$LVID]" "status filter"

# ---- DELETE: the video and every stored file of it -------------------------------------------
objects_check "before DELETE"
has_copy() { # FILE: a file under DATA with the same bytes
    h=$(sha256_of "$1")
    find "$DATA" -type f ! -name '*.db*' -exec sha256sum {} + | grep -c "^$h "
}
assert_eq "$(has_copy "$AV")" 1 "the original is stored once under DATA"
assert_eq "$(has_copy "$WORK/proxy.mp4")" 1 "the proxy is stored under DATA"
assert_eq "$(has_copy "$WORK/thumb.jpg")" 1 "the thumbnail is stored under DATA"
api DELETE "/api/v1/videos/$VID"
assert_status 200 "DELETE /api/v1/videos/$VID"
api GET "/api/v1/videos/$VID"
assert_status 404 "the deleted video"
api GET "/api/v1/jobs/$JOB"
assert_status 404 "the deleted video's job"
for k in original proxy thumbnail; do
    api GET "/api/v1/videos/$VID/$k"
    assert_status 404 "the deleted video's $k"
done
assert_eq "$(has_copy "$AV")" 0 "the original's file is gone from DATA"
assert_eq "$(has_copy "$WORK/proxy.mp4")" 0 "the proxy's file is gone from DATA"
assert_eq "$(has_copy "$WORK/thumb.jpg")" 0 "the thumbnail's file is gone from DATA"
api DELETE "/api/v1/videos/$VID"
assert_status 404 "DELETE again"
# deleting the video whose job is running stops it
api POST "/api/v1/videos/$LVID/reprocess"
LJOB3=$(jq_ "$BODY" 'j["job_id"]')
wait_job "$LJOB3" running 30
api DELETE "/api/v1/videos/$LVID"
assert_status 200 "DELETE a video whose job is running"
sleep 1.5
objects_check "after DELETE"
no_temp_files "after DELETE"
api GET /metrics
assert_eq "$STATUS" 200 "GET /metrics"
assert_contains "$BODY" "# TYPE" "metrics in Prometheus text"
metric() { # NAME{LABELS}: its value in the last /metrics
    printf '%s\n' "$BODY" | awk -v m="$1" '$1 == m { print $2 }'
}
api GET "/api/v1/videos?limit=1000"
nvid=$(jq_ "$BODY" 'len(j["videos"])')
ncompleted=$(jq_ "$BODY" 'len([v for v in j["videos"] if v["status"] == "completed"])')
api GET /metrics
echo "$BODY" | grep -E '^vidpipe_(jobs|videos|queue_depth|job_duration_seconds_count|workers)' 
assert_eq "$(metric vidpipe_videos)" "$nvid" "metrics: vidpipe_videos = the videos listed"
assert_eq "$(metric 'vidpipe_jobs{state="running"}')" 0 "metrics: no job running"
assert_eq "$(metric vidpipe_queue_depth)" 0 "metrics: queue empty"
assert_eq "$(metric vidpipe_workers)" 2 "metrics: 2 workers"
check
[ "$(metric 'vidpipe_jobs{state="completed"}')" -ge "$ncompleted" ] 2>/dev/null ||
    fail "metrics: completed jobs $(metric 'vidpipe_jobs{state="completed"}') < $ncompleted"
check
[ "$(metric vidpipe_job_duration_seconds_count)" -ge 4 ] 2>/dev/null ||
    fail "metrics: job duration histogram counts $(metric vidpipe_job_duration_seconds_count)"

serve_stop
assert_eq "$SERVE_RC" 0 "SIGTERM: exit code"
no_sanitizer_reports
finish
