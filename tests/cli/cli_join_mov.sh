#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# QuickTime .mov segments (what phones and cameras write; ffmpeg -c copy gives AAC a version
# 1 sound description with its esds inside a 'wave' atom): every mix of .mov and .mp4 in a
# three-segment join is an ISO MP4 with a version 0 'mp4a' entry, its frames bit-identical
# and its seams measured clean; check and join agree on PCM audio, first or not, and on a
# phone's HEVC; a batch of .mov clips.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/cli/join_lib.sh"

join_segments
AM=$(media j_a.mov -i "$A" -c copy \
    -bsf:v h264_metadata=colour_primaries=1:transfer_characteristics=1:matrix_coefficients=1 \
    -movflags +write_colr)
BM=$(media j_b.mov -i "$B" -c copy)
CM=$(media j_c.mov -i "$C" -c copy)
GM=$(media j_g.mov -i "$G" -c copy)
PM=$(media j_b_pcm.mov -i "$B" -c:v copy -c:a pcm_s16le)

# The inputs are what the issue describes: QuickTime brand, version 1 sound description
# with a 'wave' atom, extra atoms in the video entry of the intro.
assert_eq "$(ffprobe -v error -show_entries format_tags=major_brand -of csv=p=0 "$BM")" "qt  " \
    ".mov brand"
paths=$(box_paths "$BM")
assert_contains "$paths" "stsd/mp4a@v1/wave/esds" ".mov audio entry: version 1, esds in wave"
assert_contains "$(box_paths "$AM")" "stsd/avc1/colr" ".mov intro video entry has colr"

# check said joinable before join learnt .mov; it still does
run "$VIDPIPE" check "$A" "$AM" "$B" "$BM" "$G" "$GM"
assert_eq "$RC" 0 "check of .mov and .mp4 exit code"

# audio_entry_is_iso OUT WHAT: OUT's audio sample entry is an ISO one: version 0 'mp4a'
# with its esds right inside (an MP4's 'btrt' may follow), no QuickTime 'wave'.
audio_entry_is_iso() {
    entry=$(box_paths "$1" | grep -o 'stsd/mp4a.*' | tr '\n' ' ')
    assert_contains "$entry" "stsd/mp4a@v0 stsd/mp4a@v0/esds " "$2: audio entry version 0, esds"
    assert_not_contains "$entry" "wave" "$2: audio entry without a wave atom"
}

frame_md5s "$A" "$B" "$G" > "$WORK/src.md5"
assert_eq "$(wc -l < "$WORK/src.md5")" 82 "source frame count"

# ---- every mix of .mov and .mp4: intro, clip, outro -----------------------------------
n=0
for i in "$A" "$AM"; do
    for c in "$B" "$BM"; do
        for o in "$G" "$GM"; do
            n=$((n + 1))
            out="$WORK/mix$n.mp4"
            what="${i##*/} + ${c##*/} + ${o##*/}"
            run "$VIDPIPE" join -o "$out" "$i" "$c" "$o"
            assert_eq "$RC" 0 "$what: exit code"
            if [ "$RC" -ne 0 ]; then
                echo "$ERR"
                continue
            fi
            brand=$(ffprobe -v error -show_entries format_tags=major_brand -of csv=p=0 "$out")
            assert_eq "$brand" "isom" "$what: ISO MP4"
            run ffprobe -v warning -select_streams a -show_entries stream=codec_name,profile \
                -of csv=p=0 "$out"
            assert_eq "$OUT" "aac,LC" "$what: audio"
            assert_eq "$ERR" "" "$what: ffprobe reads it without a message"
            audio_entry_is_iso "$out" "$what"
            run ffmpeg -nostdin -v error -i "$out" -f null -
            assert_eq "$ERR" "" "$what: ffmpeg decodes without a message"
            frame_md5s "$out" > "$WORK/out.md5"
            check
            cmp -s "$WORK/out.md5" "$WORK/src.md5" || fail "$what: decoded frames differ"
            assert_seeks "$out" "$what"
            rep=$(measure "$out" "25 31 26" "0 1.041667 7.583333")
            echo "$what: $(echo "$rep" | grep '^summary')"
            assert_near "$(summary_value "$rep" 5)" 0 5 "$what: max A/V offset (ms)"
            assert_near "$(summary_value "$rep" 9)" 0 6 "$what: deepest dip at a join (dB)"
        done
    done
done
assert_eq "$n" 8 "joins of every mix"

# ---- PCM audio: check and join give the same reason, --conform joins it ---------------
mkdir -p "$WORK/outdir"
reason="audio.codec is PCM (pcm_s16le), the join needs AAC-LC"
run "$VIDPIPE" check "$AM" "$PM" "$G"
assert_eq "$RC" 1 "check of a PCM .mov exit code"
assert_contains "$OUT" "$PM: error: $reason" "check names the PCM audio"
assert_contains "$OUT" "not joinable: 1 of 2 files differ" "check verdict"
run "$VIDPIPE" join -o "$WORK/outdir/x.mp4" "$AM" "$PM" "$G"
assert_eq "$RC" 1 "join of a PCM .mov exit code"
assert_eq "$ERR" "vidpipe: $PM: $reason (--conform re-encodes it)" "join names the PCM audio"
assert_eq "$(ls -A "$WORK/outdir")" "" "a refused join leaves nothing"

run "$VIDPIPE" join --conform --json -o "$WORK/outdir/conf.mp4" "$AM" "$PM" "$GM"
assert_eq "$RC" 0 "--conform with a PCM .mov exit code"
assert_contains "$OUT" '"segments_conformed": 1' "the PCM .mov is conformed"
assert_contains "$OUT" '"video_frames": 82' "--conform frame count"
run ffmpeg -nostdin -v error -i "$WORK/outdir/conf.mp4" -f null -
assert_eq "$ERR" "" "conformed output decodes without a message"
audio_entry_is_iso "$WORK/outdir/conf.mp4" "--conform"
assert_seeks "$WORK/outdir/conf.mp4" "--conform"
assert_eq "$(ls -A "$WORK/outdir")" "conf.mp4" "no temporary files left"

# PCM in the first segment: the reference is named, not the files after it; --conform
# does not re-encode the first segment.
run "$VIDPIPE" check "$PM" "$A"
assert_eq "$RC" 1 "check with a PCM reference exit code"
assert_contains "$OUT" "$PM: error: $reason" "check names the reference's PCM audio"
assert_not_contains "$OUT" "$A: error" "check does not blame the AAC file"
assert_contains "$OUT" "not joinable: the reference $PM cannot be copied as it is" \
    "check verdict on the reference"
first="vidpipe: $PM: $reason (the first segment sets the output's format; --conform \
re-encodes only the others)"
for conform in "" --conform; do
    run "$VIDPIPE" join $conform -o "$WORK/outdir/y.mp4" "$PM" "$A"
    assert_eq "$RC" 1 "join ${conform:-without --conform}, PCM first: exit code"
    assert_eq "$ERR" "$first" "join ${conform:-without --conform}, PCM first: reason"
done
run "$VIDPIPE" check "$PM" "$PM"
assert_eq "$RC" 1 "check of two PCM .mov files exit code"
run "$VIDPIPE" join -o "$WORK/outdir/y.mp4" "$PM" "$PM"
assert_eq "$RC" 1 "join of two PCM .mov files exit code"
assert_eq "$(ls -A "$WORK/outdir")" "conf.mp4" "refused joins leave nothing"

# ---- a phone's HEVC .mov: named by check and join alike, --conform joins it ------------
HM=$(seg j_hevc.mov 31 25 0 -c:v libx265 -x265-params log-level=error -tag:v hvc1)
if [ -s "$HM" ]; then
    run "$VIDPIPE" check "$A" "$HM"
    assert_eq "$RC" 1 "check of an HEVC .mov exit code"
    assert_contains "$OUT" "$HM: error: video.codec is hevc, the join needs H.264" \
        "check names the HEVC video"
    run "$VIDPIPE" join -o "$WORK/outdir/h.mp4" "$A" "$HM" "$G"
    assert_eq "$RC" 1 "join of an HEVC .mov exit code"
    assert_eq "$ERR" "vidpipe: $HM: video.codec is hevc, the join needs H.264 (--conform \
re-encodes it)" "join names the HEVC video"
    run "$VIDPIPE" join --conform -o "$WORK/outdir/h.mp4" "$A" "$HM" "$G"
    assert_eq "$RC" 0 "--conform with an HEVC .mov exit code"
    assert_eq "$(frame_md5s "$WORK/outdir/h.mp4" | wc -l)" 82 "--conform HEVC frame count"
    assert_seeks "$WORK/outdir/h.mp4" "--conform HEVC"
else
    echo "no libx265: the HEVC .mov case is not run"
fi

# ---- a batch of .mov clips ------------------------------------------------------------
mkdir -p "$WORK/clips"
cp "$BM" "$WORK/clips/anna.mov"
cp "$CM" "$WORK/clips/Bob (2).MOV"
run "$VIDPIPE" batch -j 2 --intro "$AM" --outro "$GM" --personal "$WORK/clips" \
    --out "$WORK/batch"
assert_eq "$RC" 0 "batch of .mov clips exit code"
assert_contains "$OUT" "2 items: 2 done, 0 skipped, 0 failed" "batch summary"
assert_eq "$(grep -c '"status":"done"' "$WORK/batch/vidpipe-report.jsonl")" 2 \
    "every batch item done"
for clip in "$B:anna" "$C:Bob (2)"; do
    src=${clip%%:*} name=${clip#*:}
    frame_md5s "$A" "$src" "$G" > "$WORK/src.md5"
    frame_md5s "$WORK/batch/$name.mp4" > "$WORK/out.md5"
    check
    [ -s "$WORK/out.md5" ] && cmp -s "$WORK/out.md5" "$WORK/src.md5" || \
        fail "batch output $name.mp4: decoded frames differ from intro + clip + outro"
    run ffmpeg -nostdin -v error -i "$WORK/batch/$name.mp4" -f null -
    assert_eq "$ERR" "" "batch output $name.mp4 decodes without a message"
    assert_seeks "$WORK/batch/$name.mp4" "batch output $name.mp4"
done

finish
