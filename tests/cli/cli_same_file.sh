#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# No command overwrites one of its inputs. Every command that writes files, given one of
# its inputs again as an output (the same path, ./path, the absolute path, a symbolic link
# to it, a hard link to it), refuses with one line and exit status 3 before it writes
# anything: the input is byte for byte what it was and nothing is left in its folder. A
# batch fails only the items whose output is one of their inputs and does the others.
. "$VP_SRCDIR/tests/cli/lib.sh"

AV=$(toolbox_av)
MSG="is the same file as an input; refusing to overwrite it"

D="$WORK/d"
mkdir -p "$D"
cp "$AV" "$D/in.mp4"
cp "$AV" "$D/other.mp4"
cp "$(toolbox_audio)" "$D/tone.m4a"
cd "$D" || exit 1
ln -s in.mp4 link.mp4
ln in.mp4 hard.mp4

# The folder's names (temporary files included) and the contents of its files.
snapshot() {
    ls -A "$1"
    (cd "$1" && find . -type f -exec sha256sum {} + | sort)
}

# refused WHAT OUT CMD...: CMD, run in $D, names OUT as an output that is one of its inputs.
refused() {
    what=$1 out=$2
    shift 2
    before=$(snapshot "$D")
    run "$@"
    assert_eq "$RC" 3 "$what: exit status"
    assert_eq "$ERR" "vidpipe: $out: $MSG" "$what: one line naming the output"
    assert_eq "$(snapshot "$D")" "$before" "$what: inputs unchanged, nothing left"
}

for o in in.mp4 ./in.mp4 "$D/in.mp4" link.mp4 hard.mp4; do
    refused "join -o $o" "$o" "$VIDPIPE" join -o "$o" other.mp4 ./in.mp4
    refused "join --json -o $o" "$o" "$VIDPIPE" join --json -o "$o" in.mp4 other.mp4
    assert_contains "$OUT" '"code": "VP_ERR_OUTPUT_IS_INPUT"' "join --json -o $o: error code"
    refused "proxy -o $o" "$o" "$VIDPIPE" proxy in.mp4 -o "$o"
    refused "proxy --thumb $o" "$o" "$VIDPIPE" proxy in.mp4 -o p.mp4 --thumb "$o"
    refused "proxy --meta $o" "$o" "$VIDPIPE" proxy in.mp4 -o p.mp4 --meta "$o"
    refused "thumb -o $o" "$o" "$VIDPIPE" thumb in.mp4 -o "$o"
    refused "thumb -y -o $o" "$o" "$VIDPIPE" thumb -y in.mp4 -o "$o"
    refused "qc --html $o" "$o" "$VIDPIPE" qc --html "$o" in.mp4
    refused "qc --report $o" "$o" "$VIDPIPE" qc --report "$o" in.mp4
    refused "loudnorm -o $o" "$o" "$VIDPIPE" loudnorm in.mp4 -o "$o"
    refused "loudnorm -y -o $o" "$o" "$VIDPIPE" loudnorm -y in.mp4 -o "$o"
    refused "replace-audio: the video as -o $o" "$o" \
        "$VIDPIPE" replace-audio in.mp4 tone.m4a -o "$o"
    refused "replace-audio: the audio as -o $o" "$o" \
        "$VIDPIPE" replace-audio other.mp4 in.mp4 -o "$o"
    refused "cleanup -o $o" "$o" "$VIDPIPE" cleanup --eq 0,1,1 in.mp4 -o "$o"
    refused "encode-raw -i in.mp4 $o" "$o" "$VIDPIPE" encode-raw -s 64x64 -i in.mp4 "$o"
    refused "encode-raw $o < in.mp4" "$o" "$VIDPIPE" encode-raw -s 64x64 "$o" <in.mp4
done

# export names its outputs DIR/NAME_PRESET.mp4: one that is a link to the input, as the last
# preset (the one the batch checks) and as an earlier one.
for kind in symbolic hard; do
    if [ $kind = symbolic ]; then ln -s in.mp4 in_youtube.mp4; else ln in.mp4 in_youtube.mp4; fi
    refused "export: $kind link as the preset's output" "./in_youtube.mp4" \
        "$VIDPIPE" export in.mp4 -p youtube -o .
    refused "export: $kind link as an earlier preset's output" "$D/in_youtube.mp4" \
        "$VIDPIPE" export in.mp4 -p youtube,tiktok -o "$D"
    rm in_youtube.mp4
done

# A folder written into itself: each item refused.
mkdir "$WORK/f"
cp "$AV" "$WORK/f/a.mp4"
cp "$AV" "$WORK/f/b.mp4"
before=$(snapshot "$WORK/f")
run "$VIDPIPE" loudnorm "$WORK/f" -o "$WORK/f"
assert_eq "$RC" 3 "loudnorm DIR -o DIR: exit status"
assert_eq "$ERR" "vidpipe: $WORK/f/a.mp4: $MSG
vidpipe: $WORK/f/b.mp4: $MSG" "loudnorm DIR -o DIR: one line per item"
assert_eq "$(snapshot "$WORK/f")" "$before" "loudnorm DIR -o DIR: inputs unchanged"

# ---- batch: the colliding item fails with its reason, the others are done -----------------
B="$WORK/b"
mkdir -p "$B/clips" "$B/out"
cp "$AV" "$B/out/intro.mp4"
cp "$AV" "$B/outro.mp4"
cp "$AV" "$B/clips/anna.mp4"
cp "$AV" "$B/clips/intro.mp4"   # its output, out/intro.mp4, is the intro
cd "$B" || exit 1
intro_sum=$(sha256sum out/intro.mp4)
for pass in first rerun; do
    run "$VIDPIPE" batch --intro out/intro.mp4 --outro outro.mp4 --personal clips --out out
    assert_eq "$RC" 1 "batch --personal ($pass): exit status (items failed)"
    assert_eq "$ERR" "vidpipe: out/intro.mp4: $MSG" "batch --personal ($pass): the one line"
    assert_contains "$OUT" "batch: 2 items: $([ $pass = first ] && echo "1 done, 0 skipped" ||
        echo "0 done, 1 skipped"), 1 failed" "batch --personal ($pass): summary"
    assert_eq "$(grep -c "intro.mp4: FAILED after 0 attempts: out/intro.mp4: $MSG" \
        out/vidpipe-batch.log)" "$([ $pass = first ] && echo 1 || echo 2)" \
        "batch --personal ($pass): the log"
    assert_contains "$(grep '"item":"intro.mp4"' out/vidpipe-report.jsonl)" \
        "\"status\":\"failed\",\"reason\":\"out/intro.mp4: $MSG\",\"error\":\"VP_ERR_OUTPUT_IS_INPUT\"" \
        "batch --personal ($pass): the report"
done
assert_eq "$(sha256sum out/intro.mp4)" "$intro_sum" "batch --personal: the intro is unchanged"
assert_eq "$(ls -A out | tr '\n' ' ')" "anna.mp4 intro.mp4 vidpipe-batch.log vidpipe-report.jsonl " \
    "batch --personal: nothing else in the output folder"
run ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 out/anna.mp4
assert_eq "$OUT" 540 "batch --personal: anna.mp4 joined (3 x 180 frames)"

# A manifest: outputs that are a segment (spelt ./), a hard link to one, the manifest itself.
M="$WORK/m"
mkdir -p "$M"
cp "$AV" "$M/seg.mp4"
cp "$AV" "$M/clip.mp4"
ln "$M/seg.mp4" "$M/hardseg.mp4"
printf 'output,a,b\n./seg.mp4,clip.mp4,seg.mp4\ngood.mp4,clip.mp4,seg.mp4\nhardseg.mp4,seg.mp4,clip.mp4\norders.csv,clip.mp4\n' \
    >"$M/orders.csv"
before=$(cd "$M" && sha256sum seg.mp4 clip.mp4 orders.csv)
run "$VIDPIPE" batch --manifest "$M/orders.csv" -j 1
assert_eq "$RC" 1 "batch --manifest: exit status (items failed)"
assert_eq "$ERR" "vidpipe: $M/./seg.mp4: $MSG
vidpipe: $M/hardseg.mp4: $MSG
vidpipe: $M/orders.csv: $MSG" "batch --manifest: one line per refused item"
assert_contains "$OUT" "batch: 4 items: 1 done, 0 skipped, 3 failed" "batch --manifest: summary"
assert_eq "$(grep -c '"error":"VP_ERR_OUTPUT_IS_INPUT"' "$M/vidpipe-report.jsonl")" 3 \
    "batch --manifest: the report"
assert_eq "$(cd "$M" && sha256sum seg.mp4 clip.mp4 orders.csv)" "$before" \
    "batch --manifest: segments and manifest unchanged"
check
[ -s "$M/good.mp4" ] || fail "batch --manifest: good.mp4 not joined"
run "$VIDPIPE" batch --dry-run --manifest "$M/orders.csv"
assert_contains "$OUT" "fail $M/./seg.mp4: $MSG" "batch --dry-run: lists the refused item"
assert_contains "$OUT" "dry run: 0 to join, 1 to skip (exist), 3 to fail (output is an input)" \
    "batch --dry-run: summary"

# A report or log that is an input: nothing runs, nothing is touched.
for opt in --report --log; do
    before=$(snapshot "$M")
    run "$VIDPIPE" batch --manifest "$M/orders.csv" "$opt" "$M/clip.mp4"
    assert_eq "$RC" 3 "batch $opt INPUT: exit status"
    assert_eq "$ERR" "vidpipe: $M/clip.mp4: $MSG" "batch $opt INPUT: one line"
    assert_eq "$(snapshot "$M")" "$before" "batch $opt INPUT: nothing changed"
done

finish
