#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe join end to end, judged with FFmpeg's decoder: every video frame identical to its
# source frame, the audio at every join without a dip and in step with the video (measured
# with join_measure against the known signal), segments that differ in SPS/PPS, time base,
# B-frames, audio length or have no audio, refusals with check's reasons, --conform, paths
# with odd characters, moov before mdat, nothing left behind on failure.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/cli/join_lib.sh"

join_segments

# ---- three plain segments -----------------------------------------------------------
run "$VIDPIPE" join -o "$WORK/abc.mp4" "$A" "$G" "$A"
assert_eq "$RC" 0 "join exit code"
assert_contains "$OUT" "3 segments, 2 joins, 76 video frames" "summary line"
# -q: errors only, so no summary line either.
run "$VIDPIPE" -q join -o "$WORK/quiet.mp4" "$A" "$G"
assert_eq "$RC|$OUT|$ERR" "0||" "-q: exit 0, nothing printed"
[ -s "$WORK/quiet.mp4" ] || fail "-q: no output written"
frame_md5s "$WORK/abc.mp4" > "$WORK/out.md5"
frame_md5s "$A" "$G" "$A" > "$WORK/src.md5"
assert_eq "$(wc -l < "$WORK/out.md5")" 76 "frame count is the sum"
check; cmp -s "$WORK/out.md5" "$WORK/src.md5" || fail "decoded frames differ from the sources"
run ffmpeg -nostdin -v error -i "$WORK/abc.mp4" -f null -
assert_eq "$ERR" "" "ffmpeg decodes without a message"
# moov before mdat, one pass
boxes=$(top_boxes "$WORK/abc.mp4")
assert_eq "$boxes" "ftyp moov mdat" "top-level boxes (fast start)"
assert_eq "$(avcc_count "$WORK/abc.mp4")" 1 "equal SPS/PPS: one sample entry"
assert_seeks "$WORK/abc.mp4" "plain join"
# the output's mode is 0666 minus the caller's umask, as for any file it creates
(umask 027; "$VIDPIPE" join -o "$WORK/umask.mp4" "$A" "$G" >/dev/null)
assert_eq "$(stat -c %a "$WORK/umask.mp4")" 640 "output mode under umask 027"
start=$(ffprobe -v error -show_entries stream=start_time -of csv=p=0 "$WORK/abc.mp4" | tr '\n' ' ')
assert_eq "$start" "0.000000 0.000000 " "audio and video start together at 0"
rep=$(measure "$WORK/abc.mp4" "25 26 25" "0 7.583333 0")
echo "$rep"
assert_near "$(summary_value "$rep" 5)" 0 5 "max A/V offset (ms)"
assert_near "$(summary_value "$rep" 9)" 0 6 "deepest level dip at a join (dB)"
# the re-encoded frames in decode order in the file: Chromium drops the others
assert_eq "$(audio_out_of_order "$WORK/abc.mp4")" 0 "audio samples in file order"

# The same measurement catches the peers' dip: FFmpeg's concat demuxer on the same files.
printf "file '%s'\n" "$A" "$G" "$A" > "$WORK/list.txt"
ffmpeg -nostdin -v error -f concat -safe 0 -i "$WORK/list.txt" -c copy "$WORK/peer.mp4"
prep=$(measure "$WORK/peer.mp4" "25 26 25" "0 7.583333 0")
echo "concat demuxer: $(echo "$prep" | grep summary)"
check; awk -v d="$(summary_value "$prep" 9)" 'BEGIN { exit !(d < -10) }' || \
    fail "the measurement did not see the concat demuxer's dip: $prep"

# ---- segments that differ: B-frames, SPS/PPS + time base, no audio, longer and shorter
# audio ---------------------------------------------------------------------------------
run "$VIDPIPE" join --json -o "$WORK/mix.mp4" "$A" "$B" "$C" "$D" "$E" "$F" "$G"
assert_eq "$RC" 0 "mixed join exit code"
assert_contains "$OUT" '"video_frames": 208' "json frame count"
assert_contains "$OUT" '"ok": true' "json ok"
frame_md5s "$WORK/mix.mp4" > "$WORK/out.md5"
frame_md5s "$A" "$B" "$C" "$D" "$E" "$F" "$G" > "$WORK/src.md5"
assert_eq "$(wc -l < "$WORK/out.md5")" 208 "mixed: frame count is the sum"
check; cmp -s "$WORK/out.md5" "$WORK/src.md5" || fail "mixed: decoded frames differ"
run ffmpeg -nostdin -v error -i "$WORK/mix.mp4" -f null -
assert_eq "$ERR" "" "mixed: ffmpeg decodes without a message"
rep=$(measure "$WORK/mix.mp4" "25 31 37 29 27 33 26" \
    "0 1.041667 2.333333 silent 5.083333:1.425 6.208333:0.975 7.583333")
echo "$rep"
assert_near "$(summary_value "$rep" 5)" 0 5 "mixed: max A/V offset (ms)"
assert_near "$(summary_value "$rep" 9)" 0 6 "mixed: deepest dip (dB)"
echo "$rep" | grep -q "^segment 3" && fail "the segment without audio has a signal"
assert_eq "$(audio_out_of_order "$WORK/mix.mp4")" 0 "mixed: audio samples in file order"
assert_seeks "$WORK/mix.mp4" "mixed join"

# ---- a clip made with other x264 settings (profile, refs, CRF, GOP, B-frames): a viewer
# who seeks to any of its keyframes, not only its first, gets its own SPS/PPS ---------------
S=$(seg j_sps.mp4 60 210 0 -c:v libx264 -preset slow -profile:v main -refs 4 -crf 35 -g 10 \
    -x264-params bframes=2)
run "$VIDPIPE" join -o "$WORK/sps.mp4" "$A" "$S" "$G"
assert_eq "$RC" 0 "other SPS/PPS: exit code"
frame_md5s "$WORK/sps.mp4" > "$WORK/out.md5"
frame_md5s "$A" "$S" "$G" > "$WORK/src.md5"
check; cmp -s "$WORK/out.md5" "$WORK/src.md5" || fail "other SPS/PPS: decoded frames differ"
assert_eq "$(avcc_count "$WORK/sps.mp4")" 2 "other SPS/PPS: a sample entry each"
run ffmpeg -nostdin -v error -i "$WORK/sps.mp4" -f null -
assert_eq "$ERR" "" "other SPS/PPS: ffmpeg decodes without a message"
assert_seeks "$WORK/sps.mp4" "other SPS/PPS"
for t in 1.3 1.75 2.2 2.6 3.4; do
    run ffmpeg -nostdin -v error -ss "$t" -i "$WORK/sps.mp4" -frames:v 5 -f null -
    assert_eq "$ERR" "" "other SPS/PPS: ffmpeg -ss $t decodes without a message"
done

# ---- many joins: the offset does not accumulate ---------------------------------------
H=$(seg j_h.mp4 7 0 0 -c:v libx264 -preset ultrafast -g 12)
I=$(seg j_i.mp4 9 7 0 -c:v libx264 -preset ultrafast -g 12)
list="" frames="" specs=""
for k in $(seq 60); do
    list="$list $H $I"
    frames="$frames 7 9"
    specs="$specs 0 0.291667"
done
run "$VIDPIPE" join -o "$WORK/many.mp4" $list
assert_eq "$RC" 0 "120 segments exit code"
assert_eq "$(frame_md5s "$WORK/many.mp4" | wc -l)" 960 "120 segments: frame count"
rep=$(measure "$WORK/many.mp4" "$frames" "$specs")
echo "$rep" | tail -3
assert_near "$(summary_value "$rep" 5)" 0 5 "120 segments: max A/V offset (ms)"
assert_near "$(summary_value "$rep" 9)" 0 6 "120 segments: deepest dip (dB)"
assert_eq "$(audio_out_of_order "$WORK/many.mp4")" 0 "120 segments: audio samples in file order"
assert_seeks "$WORK/many.mp4" "120 segments"

# ---- refusals: check's reasons, exit 1, nothing left ----------------------------------
BIG=$(media j_big.mp4 -f lavfi -i "testsrc=s=320x240:r=24:d=1" -f lavfi \
    -i "sine=f=440:r=48000:d=1" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac)
mkdir -p "$WORK/outdir"
run "$VIDPIPE" join -o "$WORK/outdir/x.mp4" "$A" "$BIG"
assert_eq "$RC" 1 "refused join exit code"
assert_contains "$ERR" "$BIG: video.resolution is 320x240, the join needs 160x120" "reason"
assert_eq "$(ls -A "$WORK/outdir")" "" "a refused join leaves nothing"
run "$VIDPIPE" join -o "$WORK/outdir/x.mp4" "$A" "$WORK/missing.mp4"
assert_eq "$RC" 2 "missing segment exit code"
assert_contains "$ERR" "missing.mp4: " "missing segment named"
printf 'not a video' > "$WORK/junk.mp4"
run "$VIDPIPE" join -o "$WORK/outdir/x.mp4" "$A" "$WORK/junk.mp4"
assert_eq "$RC" 2 "junk segment exit code"
assert_contains "$ERR" "junk.mp4: " "junk segment named"
head -c 30000 "$A" > "$WORK/cut.mp4"
run "$VIDPIPE" join -o "$WORK/outdir/x.mp4" "$A" "$WORK/cut.mp4"
assert_eq "$RC" 2 "truncated segment exit code"
assert_eq "$(ls -A "$WORK/outdir")" "" "failed joins leave nothing"
chmod 555 "$WORK/outdir"
if [ ! -w "$WORK/outdir" ]; then
    run "$VIDPIPE" join -o "$WORK/outdir/x.mp4" "$A" "$G"
    assert_eq "$RC" 4 "unwritable output exit code"
fi
chmod 755 "$WORK/outdir"
run "$VIDPIPE" join "$A"
assert_eq "$RC" 3 "no -o: usage error"

# ---- --conform: only the offending segment is re-encoded ------------------------------
run "$VIDPIPE" join --conform --json -o "$WORK/outdir/conf.mp4" "$A" "$BIG" "$G"
assert_eq "$RC" 0 "conform exit code"
assert_contains "$OUT" '"segments_conformed": 1' "one segment conformed"
w=$(ffprobe -v error -select_streams v -show_entries stream=width,height,nb_frames -of csv=p=0 \
    "$WORK/outdir/conf.mp4")
assert_eq "$w" "160,120,75" "conformed output size and frames"
run ffmpeg -nostdin -v error -i "$WORK/outdir/conf.mp4" -f null -
assert_eq "$ERR" "" "conformed output decodes cleanly"
assert_seeks "$WORK/outdir/conf.mp4" "conformed join"
assert_eq "$(ls -A "$WORK/outdir")" "conf.mp4" "no temporary files left"

# A segment that differs in everything the pipeline's conform sink must match: 30 fps (one
# second: 24 frames at the reference's 24), 200x150, stereo 44.1 kHz audio.
ODD=$(media j_odd.mp4 -f lavfi -i "testsrc=s=200x150:r=30:d=1" -f lavfi \
    -i "sine=f=440:r=44100:d=1" -ac 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac)
rm -f "$WORK/outdir/conf.mp4"
run "$VIDPIPE" join --conform --json -o "$WORK/outdir/conf.mp4" "$A" "$ODD" "$G"
assert_eq "$RC" 0 "conform (rate, size, audio) exit code: $ERR"
assert_contains "$OUT" '"segments_conformed": 1' "rate, size, audio: one segment conformed"
w=$(ffprobe -v error -select_streams v -show_entries \
    stream=width,height,sample_aspect_ratio,pix_fmt,nb_frames -of csv=p=0 "$WORK/outdir/conf.mp4")
assert_eq "$w" "160,120,1:1,yuv420p,75" "rate, size, audio: video, and 25 + 24 + 26 frames"
a=$(ffprobe -v error -select_streams a -show_entries stream=codec_name,profile,sample_rate,channels \
    -of csv=p=0 "$WORK/outdir/conf.mp4")
assert_eq "$a" "aac,LC,48000,1" "rate, size, audio: AAC-LC at the reference's rate, channels"
run ffmpeg -nostdin -v error -i "$WORK/outdir/conf.mp4" -f null -
assert_eq "$ERR" "" "rate, size, audio: decodes cleanly"
assert_seeks "$WORK/outdir/conf.mp4" "rate, size, audio: conformed join"
assert_eq "$(ls -A "$WORK/outdir")" "conf.mp4" "rate, size, audio: no temporary files left"

# ---- paths with spaces, quotes, &, parentheses, non-ASCII -----------------------------
odd="$WORK/dir with space/it's a (test) & ünïcødé"
mkdir -p "$odd"
cp "$A" "$odd/seg 1 'a' (x) & é.mp4"
cp "$G" "$odd/seg \"2\" ü.mp4"
run "$VIDPIPE" join -o "$odd/out (1) & ö.mp4" "$odd/seg 1 'a' (x) & é.mp4" "$odd/seg \"2\" ü.mp4"
assert_eq "$RC" 0 "odd paths exit code"
assert_eq "$(frame_md5s "$odd/out (1) & ö.mp4" | wc -l)" 51 "odd paths frame count"
assert_seeks "$odd/out (1) & ö.mp4" "odd paths"

# ---- the output's name says its format ------------------------------------------------
# .mkv got MP4 bytes: refused now, before anything is read or written.
run "$VIDPIPE" join -o "$WORK/x.mkv" "$A" "$G"
assert_eq "$RC" 3 ".mkv output exit"
assert_eq "$ERR" "vidpipe: $WORK/x.mkv: a join writes MP4 or QuickTime: name the output .mp4, .m4v or .mov (Matroska and other containers are not supported)" \
    ".mkv output message"
check
[ -z "$(ls -A "$WORK" | grep 'x\.mkv')" ] || fail ".mkv output left $(ls -A "$WORK" | grep 'x\.mkv')"
# .mov is QuickTime-branded, .m4v ISO, both the same frames as the .mp4 join.
run "$VIDPIPE" join -o "$WORK/x.mp4" "$A" "$G"
run "$VIDPIPE" join -o "$WORK/x.mov" "$A" "$G"
assert_eq "$RC" 0 ".mov output exit"
run "$VIDPIPE" join -o "$WORK/x.m4v" "$A" "$G"
assert_eq "$RC" 0 ".m4v output exit"
brand() { ffprobe -v error -show_entries format_tags=major_brand -of csv=p=0 "$1"; }
assert_eq "$(brand "$WORK/x.mov")" "qt  " ".mov output: QuickTime brand"
assert_eq "$(brand "$WORK/x.m4v")" "isom" ".m4v output: ISO brand"
assert_eq "$(brand "$WORK/x.mp4")" "isom" ".mp4 output: ISO brand"
assert_eq "$(frame_md5s "$WORK/x.mov" | md5sum)" "$(frame_md5s "$WORK/x.mp4" | md5sum)" \
    ".mov output: the same frames"

finish
