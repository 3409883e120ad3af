#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe batch end to end: intro + personal clip + outro, manifests with odd paths, the
# seed's folder layout, bad clips in the middle, reruns, the report and the log, dry runs,
# usage errors, and -j 1 / -j 2 giving the same outputs.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/cli/batch_media.sh"
WIDE=$(av batch_clip_wide.mp4 1 224x128 550)

# ---- intro + personal clips + outro ------------------------------------------------------
P=$WORK/personal
mkdir -p "$P"
cp "$CLIP_A" "$P/anna.mp4"
cp "$CLIP_B" "$P/bob 2.mp4"
cp "$CLIP_A" "$P/clip10.MOV"
cp "$CLIP_B" "$P/clip9.mp4"
echo "not a clip" > "$P/notes.txt"
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$WORK/out" -j 2
assert_eq "$RC" 0 "personal: exit code"
assert_contains "$OUT" "batch: 4 items: 4 done, 0 skipped, 0 failed" "personal: summary"
assert_contains "$OUT" "report: $WORK/out/vidpipe-report.jsonl, log: $WORK/out/vidpipe-batch.log" \
    "personal: summary names the report and log"
# -q: errors only, so no summary either; the outputs are made all the same.
run "$VIDPIPE" -q batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$WORK/qout" -j 2
assert_eq "$RC|$OUT|$ERR" "0||" "-q: exit 0, nothing printed"
assert_eq "$(ls "$WORK/qout" | grep -c '\.mp4$')" 4 "-q: the four outputs"
for n in anna "bob 2" clip10 clip9; do
    assert_output "$WORK/out/$n.mp4" $FRAMES "personal $n"
done
assert_eq "$(ls "$WORK/out" | grep -c mp4)" 4 "personal: outputs (notes.txt is no clip)"
no_temps "$WORK/out" personal
# A batch's joiner keeps the intro's and outro's decoded audio edges from join to join: its
# outputs are byte for byte those of a lone `vidpipe join` of the same three files.
for n in anna clip9; do
    "$VIDPIPE" -q join -o "$WORK/lone-$n.mp4" "$INTRO" "$P/$n.mp4" "$OUTRO" || fail "lone join $n"
    check; cmp -s "$WORK/lone-$n.mp4" "$WORK/out/$n.mp4" || fail "personal $n: batch output differs from a lone join"
done
# The report: one JSON line per item, in a form scripts can read.
python3 - "$WORK/out/vidpipe-report.jsonl" >"$WORK/rep.txt" 2>&1 <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    assert set(r) >= {"item", "status", "reason", "seconds", "bytes", "attempts", "output"}, r
    assert r["status"] == "done" and r["reason"] is None and r["attempts"] == 1, r
    assert r["bytes"] > 1000 and r["seconds"] >= 0, r
print(" ".join(sorted(r["item"] for r in rows)))
PY
assert_eq "$(cat "$WORK/rep.txt")" "anna.mp4 bob 2.mp4 clip10.MOV clip9.mp4" "personal: report"
LOG=$(cat "$WORK/out/vidpipe-batch.log")
assert_contains "$LOG" "batch started: 4 items, 2 workers" "personal: log header"
assert_contains "$LOG" "bob 2.mp4: done in " "personal: log item"
assert_contains "$LOG" "batch finished: 4 done, 0 skipped, 0 failed" "personal: log summary"
# Natural order: clip9 before clip10 (one worker keeps the order in the report).
md5_j2=$(packets_md5 "$WORK/out/clip10.mp4")

# A personal clip made with other x264 settings than the intro and outro: its output
# carries its own SPS/PPS, and a viewer can seek into it (assert_output seeks every GOP).
X=$WORK/xsettings
mkdir -p "$X"
media batch_clip_x.mp4 -f lavfi -i "testsrc2=s=128x224:r=24:d=2" -f lavfi \
    -i "sine=f=770:r=48000:d=2" -c:v libx264 -preset slow -profile:v main -refs 3 -crf 35 \
    -g 10 -pix_fmt yuv420p -c:a aac -b:a 48k > /dev/null
cp "$VP_MEDIA/batch_clip_x.mp4" "$X/xclip.mp4"
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$X" --out "$WORK/xout"
assert_eq "$RC" 0 "other x264 settings: exit code"
assert_output "$WORK/xout/xclip.mp4" 120 "other x264 settings"
assert_eq "$(avcc_count "$WORK/xout/xclip.mp4")" 2 "other x264 settings: two sample entries"

# Rerun: every output exists and is complete, so all are skipped and left untouched.
ino=$(stat -c %i "$WORK/out/anna.mp4")
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$WORK/out" \
    -j 2 --json
assert_eq "$RC" 0 "rerun: exit code"
assert_eq "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin);
print(d["total"], d["done"], d["skipped"], d["failed"])')" "4 0 4 0" "rerun: JSON summary"
assert_eq "$(stat -c %i "$WORK/out/anna.mp4")" "$ino" "rerun: output untouched"
assert_eq "$(grep -c '"status":"skipped"' "$WORK/out/vidpipe-report.jsonl")" 4 "rerun: report"
assert_eq "$(grep -c 'batch started' "$WORK/out/vidpipe-batch.log")" 2 "rerun: log appended"

# -j 1 joins the same packets as -j 2, and reports in clip order.
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$WORK/out1" -j 1
assert_eq "$RC" 0 "-j 1: exit code"
for n in anna "bob 2" clip10 clip9; do
    assert_eq "$(packets_md5 "$WORK/out1/$n.mp4")" "$(packets_md5 "$WORK/out/$n.mp4")" \
        "-j 1 and -j 2: $n"
done
assert_eq "$(packets_md5 "$WORK/out1/clip10.mp4")" "$md5_j2" "-j 1: clip10"
assert_eq "$(sed 's/.*"item":"\([^"]*\)".*/\1/' "$WORK/out1/vidpipe-report.jsonl" | tr '\n' '|')" \
    "anna.mp4|bob 2.mp4|clip9.mp4|clip10.MOV|" "-j 1: natural order"

# On a terminal, a progress line with items/s and the time left; none when piped (above).
assert_not_contains "$ERR" "ETA" "personal: no progress line when stderr is not a terminal"
python3 - "$VIDPIPE" "$INTRO" "$OUTRO" "$P" "$WORK/tty" >"$WORK/tty.txt" 2>&1 <<'PY'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "batch", "--intro", sys.argv[2], "--outro", sys.argv[3],
                           "--personal", sys.argv[4], "--out", sys.argv[5], "-j", "1"])
out = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", "<CR>").replace("\033", "<ESC>"))
PY
assert_contains "$(cat "$WORK/tty.txt")" "<CR><ESC>[Kbatch 4/4 " "terminal: progress line"
assert_contains "$(cat "$WORK/tty.txt")" "/s  ETA 0:00" "terminal: items/s and ETA"
assert_contains "$(cat "$WORK/tty.txt")" "batch: 4 items: 4 done" "terminal: summary"

# ---- a bad clip in the middle ------------------------------------------------------------
B=$WORK/bad
mkdir -p "$B"
cp "$CLIP_A" "$B/a1.mp4"
head -c $(($(stat -c %s "$CLIP_B") / 2)) "$CLIP_B" > "$B/a2-truncated.mp4"
FAST=$(media batch_clip_b_faststart.mp4 -i "$CLIP_B" -c copy -movflags +faststart)
head -c $(($(stat -c %s "$FAST") * 2 / 3)) "$FAST" > "$B/a2b-cut.mp4"
echo "this is a text file, not a video" > "$B/a3-text.mp4"
cp "$WIDE" "$B/a4-wide.mp4"
cp "$CLIP_B" "$B/a5.mp4"
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$B" --out "$WORK/bout" -j 2
assert_eq "$RC" 1 "bad clips: exit code says items failed"
assert_contains "$OUT" "batch: 6 items: 2 done, 0 skipped, 4 failed" "bad clips: summary"
assert_output "$WORK/bout/a1.mp4" $FRAMES "bad clips: a1 done"
assert_output "$WORK/bout/a5.mp4" $FRAMES "bad clips: a5 done after the failures"
for n in a2-truncated a2b-cut a3-text a4-wide; do
    check
    [ ! -e "$WORK/bout/$n.mp4" ] || fail "bad clips: $n.mp4 was written"
    assert_eq "$(echo "$ERR" | grep -c "$n.mp4")" 1 "bad clips: one stderr line for $n"
done
assert_eq "$(echo "$ERR" | grep -v '^vidpipe: ' | wc -l)" 0 "bad clips: every line is vidpipe's"
no_temps "$WORK/bout" "bad clips"
python3 - "$WORK/bout/vidpipe-report.jsonl" >"$WORK/rep.txt" 2>&1 <<'PY'
import json, sys
for r in sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["item"]):
    # The file at fault and its place among the item's inputs (intro 0, clip 1, outro 2).
    path = r["path"] and r["path"].rsplit("/", 1)[-1]
    print(r["item"], r["status"], bool(r["reason"]) and r["item"] in r["reason"], r["bytes"] > 0,
          path, r["input"])
PY
assert_eq "$(cat "$WORK/rep.txt")" "$(cat <<'EOF'
a1.mp4 done False True None None
a2-truncated.mp4 failed True False a2-truncated.mp4 1
a2b-cut.mp4 failed True False a2b-cut.mp4 1
a3-text.mp4 failed True False a3-text.mp4 1
a4-wide.mp4 failed True False a4-wide.mp4 1
a5.mp4 done False True None None
EOF
)" "bad clips: report (item, status, reason names the clip, bytes, file at fault, input)"
assert_contains "$(grep a4-wide "$WORK/bout/vidpipe-batch.log")" "FAILED after 1 attempt" \
    "bad clips: log"
# Fixing the bad clip and rerunning does just that one.
cp "$CLIP_A" "$B/a4-wide.mp4"
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$B" --out "$WORK/bout" -j 2
assert_eq "$RC" 1 "bad clips rerun: three still fail"
assert_contains "$OUT" "1 done, 2 skipped, 3 failed" "bad clips rerun: summary"
assert_contains "$ERR" "a2b-cut.mp4: file is truncated" "bad clips: the cut clip's reason"
assert_output "$WORK/bout/a4-wide.mp4" $FRAMES "bad clips rerun: a4 fixed"

# --conform passes through to the joiner: the landscape clip is re-encoded to fit.
C=$WORK/conform
mkdir -p "$C"
cp "$CLIP_A" "$C/a.mp4"
cp "$WIDE" "$C/wide.mp4"
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$C" --out "$WORK/cout" \
    --conform -j 2
assert_eq "$RC" 0 "--conform: exit code ($ERR)"
assert_output "$WORK/cout/wide.mp4" $FRAMES "--conform: wide clip"
assert_eq "$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 \
    "$WORK/cout/wide.mp4")" "128,224" "--conform: wide clip resized"

# ---- a manifest with odd paths ------------------------------------------------------------
M=$WORK/man
mkdir -p "$M/s"
cp "$INTRO" "$M/s/intro (v2).mp4"
cp "$OUTRO" "$M/s/outro & end.mp4"
cp "$CLIP_A" "$M/s/clip, one.mp4"
cp "$CLIP_B" "$M/s/it's \"quoted\".mp4"
cp "$CLIP_A" "$M/s/café ünï.mp4"
# A header, quoted commas, doubled quotes, a new folder, CRLF, a blank row, blanks around
# unquoted fields, padding commas, and two to four segments per row.
sed 's/$/\r/' > "$M/list.csv" <<'EOF'
Output,Intro,Clip,Outro
"out, 1.mp4","s/intro (v2).mp4","s/clip, one.mp4",s/outro & end.mp4
"sub dir/it's ""2"".mp4",s/intro (v2).mp4,"s/it's ""quoted"".mp4",s/outro & end.mp4

café.mp4 , s/café ünï.mp4 , s/outro & end.mp4,,
four.mp4,s/intro (v2).mp4,"s/clip, one.mp4",s/café ünï.mp4,s/outro & end.mp4
EOF
cd "$WORK" || exit 1
run "$VIDPIPE" batch --manifest "man/list.csv" -j 2
assert_eq "$RC" 0 "manifest: exit code ($ERR)"
assert_contains "$OUT" "batch: 4 items: 4 done" "manifest: summary"
assert_output "$M/out, 1.mp4" $FRAMES "manifest: quoted comma"
assert_output "$M/sub dir/it's \"2\".mp4" $FRAMES "manifest: doubled quotes, new folder"
assert_output "$M/café.mp4" 48 "manifest: two segments, non-ASCII, trimmed"
assert_output "$M/four.mp4" 120 "manifest: four segments"
assert_eq "$(grep -c '"status":"done"' "$M/vidpipe-report.jsonl")" 4 "manifest: report next to it"
no_temps "$M" manifest
# --out takes the outputs (the segments stay relative to the manifest).
run "$VIDPIPE" batch --manifest "$M/list.csv" --out "$WORK/mout" -j 1
assert_eq "$RC" 0 "manifest --out: exit code"
assert_output "$WORK/mout/four.mp4" 120 "manifest --out"
assert_eq "$(packets_md5 "$WORK/mout/four.mp4")" "$(packets_md5 "$M/four.mp4")" \
    "manifest: -j 1 and -j 2"
# A malformed manifest is refused before anything is done, with its line.
printf 'a.mp4,s/x.mp4\nb.mp4,"s/y.mp4\n' > "$M/bad.csv"
run "$VIDPIPE" batch --manifest "$M/bad.csv" --out "$WORK/badm"
assert_eq "$RC" 2 "bad manifest: exit code"
assert_eq "$ERR" "vidpipe: $M/bad.csv:2: a quoted field is not closed" "bad manifest: message"
check
[ ! -e "$WORK/badm" ] || fail "bad manifest: output folder created"
# A missing segment fails its row only, naming the file.
printf 'ok.mp4,s/café ünï.mp4\nmissing.mp4,s/nope.mp4\n' > "$M/miss.csv"
run "$VIDPIPE" batch --manifest "$M/miss.csv" --out "$WORK/miss"
assert_eq "$RC" 1 "missing segment: exit code"
assert_contains "$ERR" "s/nope.mp4" "missing segment: names the file"
assert_output "$WORK/miss/ok.mp4" 24 "missing segment: other row done"

# ---- the seed script's folder layout ------------------------------------------------------
S=$WORK/seed
mkdir -p "$S/input/Video1" "$S/input/Video2" "$S/input/Video3"
cp "$INTRO" "$S/input/Video1/video1.mp4"
cp "$OUTRO" "$S/input/Video3/video3.mp4"
cp "$CLIP_A" "$S/input/Video2/bodycam_example.mp4"
cp "$CLIP_B" "$S/input/Video2/other.mp4"
run "$VIDPIPE" batch "$S"
assert_eq "$RC" 0 "seed layout: exit code ($ERR)"
assert_output "$S/output/bodycam_example.mp4" $FRAMES "seed layout: output"
assert_output "$S/output/other.mp4" $FRAMES "seed layout: output 2"
rm "$S/input/Video1/video1.mp4"
run "$VIDPIPE" batch "$S"
assert_eq "$RC" 2 "seed layout without intro: exit code"
assert_contains "$ERR" "$S/input/Video1/video1.mp4: " "seed layout without intro: names it"
assert_eq "$(echo "$ERR" | wc -l)" 1 "seed layout without intro: one line, not one per item"

# --no-fsync: the same complete outputs, renamed into place without waiting for the disk.
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$WORK/nosync" \
    --no-fsync
assert_eq "$RC" 0 "--no-fsync: exit code"
for n in anna "bob 2" clip10 clip9; do
    assert_output "$WORK/nosync/$n.mp4" $FRAMES "--no-fsync $n"
done
assert_eq "$(packets_md5 "$WORK/nosync/clip10.mp4")" "$md5_j2" "--no-fsync: same packets"
no_temps "$WORK/nosync" "--no-fsync"

# ---- dry run and usage --------------------------------------------------------------------
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$WORK/dry" --dry-run
assert_eq "$RC" 0 "dry run: exit code"
assert_contains "$OUT" "join $WORK/dry/anna.mp4 <- $INTRO + $P/anna.mp4 + $OUTRO" "dry run: line"
assert_contains "$OUT" "dry run: 4 to join, 0 to skip" "dry run: summary"
check
[ ! -e "$WORK/dry" ] || fail "dry run: wrote something"
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$WORK/out" --dry-run
assert_contains "$OUT" "dry run: 0 to join, 4 to skip" "dry run: existing outputs"
run "$VIDPIPE" batch --personal "$P" --out "$WORK/x"
assert_eq "$RC" 3 "usage: no intro or outro"
run "$VIDPIPE" batch --intro "$INTRO" --personal "$P" --out "$P"
assert_eq "$RC" 3 "usage: --out is --personal"
run "$VIDPIPE" batch
assert_eq "$RC" 3 "usage: nothing given"
run "$VIDPIPE" batch --intro "$WORK/nope.mp4" --personal "$P" --out "$WORK/x"
assert_eq "$RC" 2 "missing intro: exit code"
assert_eq "$ERR" "vidpipe: $WORK/nope.mp4: no such file or directory (the intro of every output)" \
    "missing intro: message"
run "$VIDPIPE" batch --intro "$INTRO" --personal "$P" --out "$WORK/x" \
    --report "$WORK/no/such/folder/r.jsonl"
assert_eq "$RC" 4 "unwritable report: exit code"
assert_eq "$ERR" \
    "vidpipe: $WORK/no/such/folder/r.jsonl: cannot write the report: no such file or directory" \
    "unwritable report: one line"
check
[ -z "$(ls "$WORK/x")" ] || fail "unwritable report: outputs were made: $(ls "$WORK/x")"

finish
