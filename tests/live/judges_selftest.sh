#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The channel tests' judges (tests/live/live_lib.sh, ts_check.py, seams.py) pass a good
# stream and fail each broken one, so that a clean channel capture means something.
# Streams are made here with FFmpeg from tests/live/make_media.sh's media:
#   good      the items of a channel (episode part, ad with other SPS/PPS, silent ad,
#             normalised loud ad, episode resumed) as one continuous encode, keyframes at the
#             boundaries, PCR every 20 ms and PAT/PMT every 50 ms
#   default   FFmpeg's mpegts muxer at its defaults (VBR): PCRs 80 ms, PAT/PMT ~150 ms apart
#   drop/disc/sync/crc/back/apause/late/pmt/hidesps  one fault each (tests/live/ts_mangle.py),
#             the timestamps going back by `cat good good` with the counters made continuous
#   loud/concat/offset  the loud ad not normalised, FFmpeg's concat demuxer (priming at
#             every boundary), audio 12 ms late
# Skipped (77) only when a judge's program is not installed.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/live/live_lib.sh"
for p in tsreport cvlc setpriv; do
    command -v "$p" >/dev/null 2>&1 || { echo "$p not installed (scripts/install-deps.sh)"; exit 77; }
done
"$PY3" -c 'import numpy' 2>/dev/null || { echo "python3-numpy not installed"; exit 77; }

M="$VP_MEDIA/live"
sh "$LIVE_DIR/make_media.sh" "$M" || { echo "FAIL: make_media.sh"; exit 1; }
cd "$WORK"
GOODMUX="-pcr_period 20 -pat_period 0.03"

# concat_good OUT FILE...: one continuous encode of the files (each file's audio cut to its
# video; files without audio get silence), keyframes where each file starts.
# AOFF: delay the audio by that many ms.
concat_good() {
    out=$1
    shift
    n=0 i=0 ins="" fc="" cat="" t=0 keys=""
    for f in "$@"; do
        d=$(ffprobe -v error -select_streams v:0 -show_entries stream=duration -of csv=p=0 "$f")
        ins="$ins -i $f"
        fc="$fc[$i:v]setpts=PTS-STARTPTS[v$n];"
        if [ -n "$(ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 "$f")" ]; then
            fc="$fc[$i:a]atrim=end=$d,asetpts=PTS-STARTPTS[a$n];"
        else
            ins="$ins -f lavfi -t $d -i anullsrc=r=48000:cl=stereo"
            i=$((i + 1))
            fc="$fc[$i:a]anull[a$n];"
        fi
        cat="$cat[v$n][a$n]"
        keys="$keys,$t"
        t=$(awk "BEGIN { print $t + $d }")
        n=$((n + 1)) i=$((i + 1))
    done
    ffmpeg -nostdin -v error -y $ins -filter_complex \
        "${fc}${cat}concat=n=$n:v=1:a=1[v][a0];[a0]adelay=${AOFF:-0}:all=1[a]" \
        -map '[v]' -map '[a]' -c:v libx264 -preset ultrafast -g 25 \
        -force_key_frames "${keys#,}" -pix_fmt yuv420p -c:a aac -b:a 128k $GOODMUX \
        -f mpegts "$out"
}
E="-c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p -c:a aac -b:a 128k -ar 48000 -ac 2"
ffmpeg -nostdin -v error -y -i "$M/ep1.mp4" -t 4 $E p1.mp4
ffmpeg -nostdin -v error -y -ss 4 -i "$M/ep1.mp4" $E p2.mp4
ffmpeg -nostdin -v error -y -i "$M/ad3_loud.mp4" -af volume=-10dB $E ad3n.mp4
concat_good good.ts p1.mp4 "$M/ad1.mp4" "$M/ad4_silent.mp4" ad3n.mp4 p2.mp4
concat_good loud.ts p1.mp4 "$M/ad1.mp4" "$M/ad4_silent.mp4" "$M/ad3_loud.mp4" p2.mp4
AOFF=12 concat_good offset.ts p1.mp4 "$M/ad1.mp4" "$M/ad4_silent.mp4" ad3n.mp4 p2.mp4
ffmpeg -nostdin -v error -y -f lavfi -t 2.2 -i anullsrc=r=48000:cl=stereo -i "$M/ad4_silent.mp4" \
    -map 1:v -map 0:a -c:v copy -c:a aac -shortest ad4a.mp4
printf "file '%s'\n" "$WORK/p1.mp4" "$M/ad1.mp4" "$WORK/ad4a.mp4" "$WORK/ad3n.mp4" \
    "$WORK/p2.mp4" > list.txt
ffmpeg -nostdin -v error -y -f concat -safe 0 -i list.txt -c copy $GOODMUX -f mpegts concat.ts
# the schedule API's answer for these items
python3 - > sched.json <<'PY'
import datetime, json
t = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
out = []
for kind, f, d, cut in (("episode", "ep1.mp4", 4.0, 4.0), ("ad", "ad1.mp4", 2.36, None),
                        ("ad", "ad4_silent.mp4", 2.2, None), ("ad", "ad3_loud.mp4", 2.48, None),
                        ("episode", "ep1.mp4", 6.0, None)):
    s, t = t, t + datetime.timedelta(seconds=d)
    z = lambda x: x.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out.append({"kind": kind, "title": f, "file": f, "start": z(s), "stop": z(t), "cut_at": cut})
print(json.dumps({"items": out}))
PY

# 4 s streams for VLC, which plays in real time
ffmpeg -nostdin -v error -y -i "$M/ep1.mp4" -t 4 -c copy $GOODMUX -f mpegts short.ts
ffmpeg -nostdin -v error -y -i "$M/ep1.mp4" -c copy -f mpegts default.ts
ffmpeg -nostdin -v error -y -i "$M/ep1.mp4" -c copy $GOODMUX -muxdelay 0 -muxpreload 0 \
    -f mpegts late.ts
ffmpeg -nostdin -v error -y -i "$M/ep2.mp4" -c copy $GOODMUX -mpegts_start_pid 0x300 \
    -f mpegts other_pids.ts
MG="python3 $LIVE_DIR/ts_mangle.py"
$MG good.ts drop.ts drop-packet 256
$MG good.ts disc.ts discontinuity 256
$MG good.ts sync.ts sync
$MG good.ts crc.ts pat-crc
cat good.ts good.ts > cat.ts
$MG cat.ts back.ts renumber-cc
$MG good.ts apause.ts drop-pes 257 3 4.5
cat good.ts other_pids.ts > pmtcat.ts
$MG pmtcat.ts pmt.ts renumber-cc
$MG good.ts hidesps.ts hide-sps 256
tail -c +$((188 * 1000 + 1)) good.ts > midgop.ts
$MG short.ts short_drop.ts drop-packet 256
cat short.ts short.ts > short_cat.ts
$MG short_cat.ts short_back.ts renumber-cc

# expect_judge pass|fail NAME JUDGE ARGS...: the judge's verdict on a stream is as expected
expect_judge() {
    want=$1 name=$2
    shift 2
    check
    "$@"
    rc=$?
    first=$(echo "$JUDGE_OUT" | head -3 | tr '\n' ' ' | cut -c1-160)
    if [ "$want" = pass ] && [ "$rc" -ne 0 ]; then
        fail "$1 on $name: should pass, failed: $JUDGE_OUT"
    elif [ "$want" = fail ] && [ "$rc" -eq 0 ]; then
        fail "$1 on $name: should fail, passed: $JUDGE_OUT"
    else
        echo "$1 on $name: ${want}ed as it should: $first"
    fi
}

# ts_check: the good stream passes; each fault is found under its own name
expect_judge pass good judge_ts_check good.ts
echo "  good: PCR max $(ts_report_value "$JUDGE_OUT" pcr_max_interval_ms) ms, PAT max $(ts_report_value "$JUDGE_OUT" pat_max_interval_ms) ms"
for case in default:pcr_interval default:pat_interval default:pmt_interval drop:cc_error \
    disc:discontinuity_indicator sync:sync_byte_error crc:crc_error back:dts_not_increasing \
    back:pcr_not_increasing apause:pts_error late:pes_late pmt:pmt_changed \
    hidesps:idr_without_sps_pps; do
    name=${case%%:*} kind=${case#*:}
    expect_judge fail "$name" judge_ts_check "$name.ts"
    assert_contains "$(ts_violations "$JUDGE_OUT")" "$kind" "ts_check on $name finds $kind"
done
# the back stream has continuous counters: only the timestamps are wrong
judge_ts_check back.ts
assert_not_contains "$(ts_violations "$JUDGE_OUT")" cc_error "ts_check on back: counters made continuous"
# whether a capture starts on an IDR (a viewer's first picture at once)
first_idr() {
    judge_ts_check "$1"
    echo "$JUDGE_OUT" | python3 -c 'import json, sys
print([v.get("first_pes_idr") for v in json.load(sys.stdin)["pids"].values() if v["kind"] == "h264"])'
}
assert_eq "$(first_idr good.ts)" "[True]" "ts_check: good.ts starts on an IDR"
assert_eq "$(first_idr midgop.ts)" "[False]" "ts_check: a capture cut mid-GOP does not"
# where audio and video end (the e2e test compares them)
judge_ts_check good.ts
ends=$(echo "$JUDGE_OUT" | python3 -c 'import json, sys
p = json.load(sys.stdin)["pids"]
print(" ".join("%s %.3f %.3f" % (v["kind"], v["first_pts_s"], v["last_pts_s"])
               for v in p.values() if "last_pts_s" in v))')
echo "  good: first and last PTS per stream (s): $ends"
vspan=$(echo "$ends" | awk '{ for (i = 1; i <= NF; i += 3) if ($i == "h264") print $(i + 2) - $(i + 1) }')
assert_near "$vspan" 17.0 0.01 "span of the video PTS in the 17.04 s good stream (s)"

expect_judge pass good judge_tsreport good.ts
expect_judge fail drop judge_tsreport drop.ts
expect_judge fail back judge_tsreport back.ts
expect_judge fail late judge_tsreport late.ts

expect_judge pass good judge_ffmpeg good.ts
expect_judge fail drop judge_ffmpeg drop.ts
expect_judge fail back judge_ffmpeg back.ts

seams() { JUDGE_OUT=$("$PY3" "$LIVE_DIR/seams.py" "$1" sched.json "$M/signals.json" --min-boundaries 4); }
expect_judge pass good seams good.ts
echo "$JUDGE_OUT" | tail -1
for s in loud concat offset; do
    expect_judge fail "$s" seams "$s.ts"
    echo "$JUDGE_OUT" | grep VIOLATION | head -2
done

# VLC plays in real time, one run at a time (a late picture must mean a late stream, not a
# busy machine)
for s in short short_drop short_back; do
    want=fail
    [ "$s" = short ] && want=pass
    expect_judge "$want" "$s" judge_vlc_file "$WORK/$s.ts"
done
finish
