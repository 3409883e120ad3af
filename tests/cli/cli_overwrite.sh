#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# One overwrite rule for every command that writes files (vidpipe(1), OUTPUTS): an existing
# output named on the command line is refused (exit 3) unless -y; -n never overwrites; runs
# over many items skip outputs made from the same inputs and settings, say so, and redo
# outputs whose inputs or settings changed.
. "$VP_SRCDIR/tests/cli/lib.sh"

av=$(media ow_320x240_2s.mp4 -f lavfi -i testsrc2=s=320x240:r=30:d=2 -f lavfi -i sine=d=2 \
     -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest)
tone=$(media ow_tone_2s.m4a -f lavfi -i sine=f=300:d=2 -c:a aac)
raw=$(media ow_64x48_8.raw -f lavfi -i testsrc2=s=64x48:r=25 -frames:v 8 -pix_fmt bgr24 \
      -f rawvideo)
sum() { sha256sum "$1" | cut -c1-64; }
printf '{"presets": [{"name": "small", "base": "youtube", "width": 160, "height": 90}]}' \
    >"$WORK/presets.json"

# single NAME OUT CMD...: CMD writes OUT. An existing OUT (a file the command did not make)
# is refused, kept by -n, replaced by -y.
single() {
    name=$1 out=$2
    shift 2
    echo "not a video" >"$out"
    before=$(sum "$out")
    run "$@"
    assert_eq "$RC" 3 "$name: existing output: exit status"
    assert_eq "$ERR" "vidpipe: $out: already exists (use -y to overwrite)" "$name: one line"
    assert_eq "$(sum "$out")" "$before" "$name: existing output untouched"
    run "$@" -n
    assert_eq "$RC" 0 "$name -n: exit status"
    assert_contains "$ERR" "$out" "$name -n: says so"
    assert_contains "$ERR" "(-n)" "$name -n: says why"
    assert_eq "$(sum "$out")" "$before" "$name -n: untouched"
    run "$@" -y
    assert_eq "$RC" 0 "$name -y: exit status"
    check
    [ "$(sum "$out")" != "$before" ] && [ -s "$out" ] || fail "$name -y: not replaced"
    assert_eq "$(find "$WORK" -name '.*vptmp*')" "" "$name -y: no temporary file"
    run "$@" -y -n
    assert_eq "$RC" 3 "$name -y -n: exit status"
}

S=$WORK/single && mkdir "$S"
single join "$S/j.mp4" "$VIDPIPE" join -o "$S/j.mp4" "$av" "$av"
single encode-raw "$S/e.mp4" "$VIDPIPE" encode-raw -s 64x48 -i "$raw" "$S/e.mp4"
single proxy "$S/p.mp4" "$VIDPIPE" proxy "$av" -o "$S/p.mp4" --height 120
single "proxy --thumb" "$S/pt.jpg" "$VIDPIPE" proxy "$av" -o "$S/p2.mp4" --thumb "$S/pt.jpg"
rm -f "$S/p2.mp4"
single thumb "$S/t.jpg" "$VIDPIPE" thumb "$av" -o "$S/t.jpg"
single export "$S/ow_320x240_2s_small.mp4" "$VIDPIPE" export "$av" \
    --presets "$WORK/presets.json" --preset small -o "$S"
single "qc --html" "$S/q.html" "$VIDPIPE" qc "$av" --html "$S/q.html"
single loudnorm "$S/l.mp4" "$VIDPIPE" loudnorm "$av" -o "$S/l.mp4"
single replace-audio "$S/r.mp4" "$VIDPIPE" replace-audio "$av" "$tone" -o "$S/r.mp4"
single cleanup "$S/c.mp4" "$VIDPIPE" cleanup --eq 0,1.1,1 "$av" -o "$S/c.mp4"

# ---- a folder: skip what is complete and unchanged, redo what changed ------------------
F=$WORK/in && mkdir "$F"
cp "$av" "$F/x.mp4"
cp "$av" "$F/y.mp4"
O=$WORK/thumbs
run "$VIDPIPE" thumb "$F" -o "$O" --width 80
assert_eq "$RC" 0 "folder: first run"
x1=$(sum "$O/x.jpg")

run "$VIDPIPE" thumb "$F" -o "$O" --width 80
assert_eq "$RC" 0 "folder rerun: exit status"
assert_eq "$ERR" "vidpipe: thumb: $O/x.jpg exists, made from the same inputs and settings: \
skipped (-y redoes it)
vidpipe: thumb: $O/y.jpg exists, made from the same inputs and settings: skipped (-y redoes it)" \
    "folder rerun: a line per skipped output"
run "$VIDPIPE" thumb "$F" -o "$O" --width 64 --json
assert_eq "$(echo "$OUT" | jq -r '[.items[].status] | join(" ")')" "done done" \
    "folder, a setting changed: redone"
check
[ "$(sum "$O/x.jpg")" != "$x1" ] || fail "folder, a setting changed: x.jpg not remade"
x2=$(sum "$O/x.jpg")

sleep 0.01
touch "$F/y.mp4"
run "$VIDPIPE" thumb "$F" -o "$O" --width 64 --json
assert_eq "$(echo "$OUT" | jq -r '[.items[].status] | join(" ")')" "skipped done" \
    "folder, an input touched: that one redone"
assert_eq "$(sum "$O/x.jpg")" "$x2" "folder, an input touched: the other untouched"
run "$VIDPIPE" thumb "$F" -o "$O" --width 80 -n --json
assert_eq "$(echo "$OUT" | jq -r '[.items[].status] | join(" ")')" "skipped skipped" \
    "folder -n: every existing output skipped"
assert_eq "$(sum "$O/x.jpg")" "$x2" "folder -n: untouched"
run "$VIDPIPE" thumb "$F" -o "$O" --width 80 -y --json
assert_eq "$(echo "$OUT" | jq -r '[.items[].status] | join(" ")')" "done done" "folder -y"
assert_eq "$(sum "$O/x.jpg")" "$x1" "folder -y: remade as the first run made it"
# An output changed since it was made (the record stays with the file) is remade.
echo "not a picture" >"$O/x.jpg"
run "$VIDPIPE" thumb "$F" -o "$O" --width 80 --json
assert_eq "$(echo "$OUT" | jq -r '[.items[].status] | join(" ")')" "done skipped" \
    "folder: an output without a record redone"

# ---- batch: the same rule, in the log and the summary -----------------------------------
B=$WORK/batch && mkdir "$B"
cp "$av" "$B/seg1.mp4"
cp "$av" "$B/seg2.mp4"
printf 'one.mp4,seg1.mp4,seg2.mp4\ntwo.mp4,seg2.mp4,seg2.mp4\n' >"$B/m.csv"
run "$VIDPIPE" batch --manifest "$B/m.csv" --out "$B/out"
assert_contains "$OUT" "2 done, 0 skipped, 0 failed" "batch: first run"
one=$(sum "$B/out/one.mp4")
run "$VIDPIPE" batch --manifest "$B/m.csv" --out "$B/out"
assert_contains "$OUT" "0 done, 2 skipped, 0 failed" "batch rerun: summary"
assert_contains "$(cat "$B/out/vidpipe-batch.log")" "$B/out/one.mp4: skipped (output exists" \
    "batch rerun: log line"
assert_eq "$(sum "$B/out/one.mp4")" "$one" "batch rerun: untouched"
run "$VIDPIPE" batch --manifest "$B/m.csv" --out "$B/out" --dry-run
assert_contains "$OUT" "dry run: 0 to join, 2 to skip" "batch --dry-run agrees"
touch "$B/seg1.mp4"
run "$VIDPIPE" batch --manifest "$B/m.csv" --out "$B/out" --dry-run
assert_contains "$OUT" "dry run: 1 to join, 1 to skip" "batch --dry-run: a segment touched"
run "$VIDPIPE" batch --manifest "$B/m.csv" --out "$B/out"
assert_contains "$OUT" "1 done, 1 skipped, 0 failed" "batch: a segment touched: its item redone"
assert_contains "$(cat "$B/out/vidpipe-batch.log")" \
    "$B/out/one.mp4: made from other inputs or settings, redoing it" \
    "batch: the log says why it redoes"
run "$VIDPIPE" batch --manifest "$B/m.csv" --out "$B/out" --conform
assert_contains "$OUT" "2 done, 0 skipped, 0 failed" "batch: a setting changed: all redone"
run "$VIDPIPE" batch --manifest "$B/m.csv" --out "$B/out" -n
assert_contains "$OUT" "0 done, 2 skipped, 0 failed" "batch -n: all skipped"
run "$VIDPIPE" batch --manifest "$B/m.csv" --out "$B/out" --conform -y
assert_contains "$OUT" "2 done, 0 skipped, 0 failed" "batch -y: all redone"
finish
