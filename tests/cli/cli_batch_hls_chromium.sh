#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Personalized HLS played by hls.js in headless Chromium (tests/cli/hls_vod_play.py): from
# the start to the end through both joins, without a `waiting`, presenting about the
# segments' frames, each part's pictures presented at the media times the person's timeline
# gives them (the outro mapped across the discontinuity where the clip ends, within 0.5 ms),
# and the audio as the page heard it (Web Audio) without a dip at the
# joins. The control: the same three files joined by FFmpeg's concat demuxer and played as
# an MP4, whose joins dip (priming and padding played), so the measurement can fail.
# vidpipe's MP4 join is played the same way, for the comparison in docs/join.md.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/cli/hls_media.sh"
PLAY="python3 $VP_SRCDIR/tests/cli/hls_vod_play.py"

P=$WORK/personal
O=$WORK/hls
hls_clips "$P"
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --hls-target 2 -j 2
assert_eq "$RC" 0 "hls: exit code ($ERR)"

for n in anna bob; do
    eval want=\$H_FRAMES_$n
    joins=$(join_times "$O" $n)
    # where each part's pictures must be presented: the person's timeline, as the judge of
    # the files reads it (the outro after the discontinuity where the clip ends)
    grid=$(python3 "$VP_SRCDIR/tests/cli/hls_vod_check.py" "$O" $n | python3 -c \
        'import json, sys; print(",".join("%s:24" % t for t in json.load(sys.stdin)["part_starts"]))')
    run $PLAY "$O" $n.m3u8 --frames "$want" --joins "$joins" --max-dip -6 --grid "$grid" \
        --save-times "$WORK/$n.times"
    if [ "$RC" = 77 ]; then
        echo "SKIP: $OUT"
        exit 77
    fi
    echo "$n (joins at $joins): $(echo "$OUT" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("frames", r["frames"], "dips dB", r["join_dips_db"], "waiting", r["waiting"], "cc", r["discontinuities"], "parts", r["grid"])')"
    assert_eq "$RC" 0 "hls.js $n: $ERR"
done

# The grid judge fails when a part's pictures are not where they should be: the outro
# expected 10 ms later than hls.js presented it.
bad=$(echo "$grid" | awk -F, -v OFS=, '{ split($3, a, ":"); $3 = (a[1] + 0.010) ":24"; print }')
run $PLAY --regrid "$WORK/bob.times" --grid "$bad" x x
assert_eq "$RC" 1 "grid control: a part 10 ms off must fail ($OUT)"

# The control: the concat demuxer's MP4 dips at its joins.
printf "file '%s'\n" "$H_INTRO" "$P/bob.mp4" "$H_OUTRO" > "$WORK/list.txt"
ffmpeg -nostdin -v error -f concat -safe 0 -i "$WORK/list.txt" -c copy "$O/concat.mp4"
joins=$(join_times "$O" bob)
run $PLAY "$O" concat.mp4 --mp4 --joins "$joins" --max-dip -6
echo "concat demuxer: $(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["join_dips_db"])')"
assert_eq "$RC" 1 "control: the concat demuxer's joins must dip"
assert_contains "$ERR" "dips to" "control: the reason"
# vidpipe join's MP4, measured the same way (reported, for the docs).
"$VIDPIPE" -q join "$H_INTRO" "$P/bob.mp4" "$H_OUTRO" -o "$O/joined.mp4"
run $PLAY "$O" joined.mp4 --mp4 --joins "$joins"
echo "vidpipe join MP4: $(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["join_dips_db"])')"
finish
