#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe batch --hls: personalized HLS. The playlists and the CMAF files they list pass
# the judge (tests/cli/hls_vod_check.py: RFC 8216 through the live validator, init and media
# segments, timestamps continuing, one discontinuity), which is shown to fail on broken
# copies; the shared segments are written once and reused by a rerun; resume, the report,
# -j 2; a clip that cannot be joined fails its item only; storage per person measured; a
# person redone switches atomically, also when the redo is killed.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/cli/hls_media.sh"
CHECK="python3 $VP_SRCDIR/tests/cli/hls_vod_check.py"

P=$WORK/personal
O=$WORK/hls
hls_clips "$P"
cp "$H_BOB" "$P/dan x.mp4"
# a shared folder a killed run left half written: its temporaries go, its files are redone
mkdir -p "$O/shared"
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --hls-target 2 -j 2
assert_eq "$RC" 0 "hls: exit code"
assert_contains "$OUT" "batch: 4 items: 4 done, 0 skipped, 0 failed" "hls: summary"
# names are URIs: percent-encoded in the playlist
grep -q '^dan%20x/[0-9a-f]\{16\}/0\.m4s$' "$O/dan x.m3u8" || fail "hls: a name with a space"
run $CHECK "$O" "dan x" --frames $H_FRAMES_bob --discontinuities 1
assert_eq "$RC" 0 "hls dan x: the judge ($ERR)"
rm -r "$O/dan x" "$O/dan x.m3u8" "$P/dan x.mp4"
assert_eq "$(ls -d "$O"/shared/intro-* "$O"/shared/outro-* | wc -l)" 2 "hls: one shared folder each"
for n in anna bob carl; do
    eval want=\$H_FRAMES_$n
    run $CHECK "$O" $n --frames "$want" --discontinuities 1
    assert_eq "$RC" 0 "hls $n: the judge ($ERR)"
    assert_contains "$(head -c 2000 "$O/$n.m3u8")" "#EXT-X-ENDLIST" "hls $n: VOD playlist"
done
# Init segments: anna's SPS/PPS differ (her own init), bob's are the intro's (none of his own).
assert_eq "$(ls "$(own_dir "$O" anna)")" "0.m4s
init.mp4" "hls: anna's own files"
assert_eq "$(ls "$(own_dir "$O" bob)")" "0.m4s
1.m4s" "hls: bob's own files (the intro's init segment)"
assert_eq "$(ls "$O/bob" | wc -l)" 1 "hls: bob's one folder"
assert_eq "$(grep -c EXT-X-MAP "$O/bob.m3u8")" 2 "hls: bob's playlist maps intro and outro inits"
# the re-encoded audio frames are in the person's segments, so the shared ones are the
# sources' own: the intro's shared audio is byte for byte the intro's frames
assert_not_contains "$(cat "$O"/vidpipe-report.jsonl)" '"failed"' "hls: report"
no_temps "$O" hls

# The report's bytes: a person's "bytes_written" are the files they wrote (the playlist and
# the folder it lists), "bytes_shared" the shared files their playlist lists (here every file
# of the one intro and outro folder), "bytes" both: from stat, not from the playlist.
# check_bytes REPORT STATUS: each person's report line against the files.
check_bytes() {
    shared=$(find "$O"/shared/intro-* "$O"/shared/outro-* -type f ! -name .complete \
        -printf '%s\n' | awk '{ s += $1 } END { print s }')
    for n in anna bob carl; do
        own=$(find "$(own_dir "$O" $n)" "$O/$n.m3u8" -type f -printf '%s\n' |
            awk '{ s += $1 } END { print s }')
        line=$(grep "\"item\":\"$n.mp4\"" "$1")
        assert_contains "$line" "\"status\":\"$2\"" "report $2 $n: status"
        assert_contains "$line" "\"bytes\":$((own + shared))," "report $2 $n: bytes"
        assert_contains "$line" "\"bytes_shared\":$shared," "report $2 $n: bytes_shared"
        assert_contains "$line" "\"bytes_written\":$own}" "report $2 $n: bytes_written"
    done
    echo "report $2: bytes_shared $shared each; bytes_written" \
        "$(grep -o '"item":"[a-z]*.mp4".*"bytes_written":[0-9]*' "$1" |
           sed 's/"item":"\([a-z]*\).mp4".*"bytes_written":/\1 /' | tr '\n' ' ')"
}
check_bytes "$O/vidpipe-report.jsonl" done

# Storage per person: the person's own files against the clip (the shared ones once).
for n in anna bob carl; do
    own=$(find "$O/$n" "$O/$n.m3u8" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
    clip=$(stat -c %s "$P/$n.mp4")
    echo "storage $n: own $own bytes, clip $clip bytes"
    [ "$own" -le $((clip + clip / 5 + 8192)) ] || fail "hls $n: $own bytes of own files for a clip of $clip"
    check
done
echo "storage shared: $(du -sb "$O/shared" | cut -f1) bytes"

# The judge fails on broken copies.
B=$WORK/broken
judge_fails() { # what reason-part
    run $CHECK "$B" anna --frames $H_FRAMES_anna --discontinuities 1
    assert_eq "$RC" 1 "judge: $1 must fail"
    assert_contains "$ERR" "$2" "judge: $1: reason"
}
reset_broken() { rm -rf "$B"; cp -r "$O" "$B"; }
reset_broken
sed -i '/^#EXT-X-DISCONTINUITY$/d' "$B/anna.m3u8"
judge_fails "no discontinuity" "video starts"
reset_broken
sed -i 's/^#EXTINF:1\.5[0-9]*,/#EXTINF:1.600000,/' "$B/anna.m3u8"
judge_fails "EXTINF off" "EXTINF 1.600000"
reset_broken
cp "$(own_dir "$O" bob)/0.m4s" "$(own_dir "$B" anna)/0.m4s"
judge_fails "another person's segment" "/0.m4s: EXTINF"
reset_broken
rm "$(own_dir "$B" anna)/init.mp4"
judge_fails "missing init" "init.mp4"
reset_broken
sed -i '/^#EXT-X-MAP/d' "$B/anna.m3u8"
judge_fails "no EXT-X-MAP" "no EXT-X-MAP"
reset_broken
truncate -s 3000 "$(own_dir "$B" anna)/0.m4s"
judge_fails "truncated segment" "anna/"

# A killed run's temporaries in a shared folder that was not finished are removed.
d=$(ls -d "$O"/shared/intro-*)
mv "$d/.complete" "$WORK/complete"
touch "$d/.1.m4s.vptmp-abcdef"
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --hls-target 2
assert_eq "$RC" 0 "unfinished shared folder: exit code"
[ -e "$d/.complete" ] && [ ! -e "$d/.1.m4s.vptmp-abcdef" ] || fail "unfinished shared folder: not redone"
check

# A truncated clip fails its item with the reason.
head -c 20000 "$H_BOB" > "$P/trunc.mp4"
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --hls-target 2
assert_eq "$RC" 1 "truncated clip: exit code"
assert_contains "$ERR" "trunc.mp4: " "truncated clip: reason names it"
[ ! -e "$O/trunc.m3u8" ] || fail "truncated clip: a playlist was left"
check
rm "$P/trunc.mp4"

# A rerun: every person skipped, the shared segments reused (not rewritten).
stamp=$(stat -c %Y.%i "$O"/shared/intro-*/0.m4s)
sleep 1
run "$VIDPIPE" -v batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --hls-target 2
assert_contains "$OUT" "3 items: 0 done, 3 skipped, 0 failed" "rerun: all skipped"
check_bytes "$O/vidpipe-report.jsonl" skipped
assert_contains "$ERR" "(reused)" "rerun: shared segments reused"
assert_eq "$(stat -c %Y.%i "$O"/shared/intro-*/0.m4s)" "$stamp" "rerun: shared not rewritten"
# Resume: a lost playlist is redone, the rest skipped; a changed clip is redone.
rm "$O/bob.m3u8"
touch -d '2020-01-01' "$P/carl.mp4"
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --hls-target 2 -j 2
assert_contains "$OUT" "3 items: 2 done, 1 skipped, 0 failed" "resume: bob and carl redone"
run $CHECK "$O" bob --frames $H_FRAMES_bob --discontinuities 1
assert_eq "$RC" 0 "resume: bob's playlist ($ERR)"
# Another segment length: other shared folders (the old ones stay for old playlists).
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --hls-target 4 -y
assert_eq "$RC" 0 "target 4: exit code"
assert_eq "$(ls -d "$O"/shared/intro-* | wc -l)" 2 "target 4: a second intro folder"
run $CHECK "$O" anna --frames $H_FRAMES_anna --discontinuities 1
assert_eq "$RC" 0 "target 4: anna ($ERR)"

# A clip that cannot be joined fails its item only, with the reason naming it.
ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=224x128:r=24:d=1 -c:v libx264 \
    -preset ultrafast -pix_fmt yuv420p "$P/wide.mp4"
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --hls-target 2
assert_eq "$RC" 1 "wide: exit code"
assert_contains "$ERR" "wide.mp4: video is 224x128, the join needs 128x224" "wide: reason"
assert_contains "$(grep wide "$O/vidpipe-report.jsonl")" '"input":1' "wide: report names the clip"
[ ! -e "$O/wide.m3u8" ] || fail "wide: a playlist was left"
check

# A/V offset and level at each join, measured on the audio frames of the playlist in order
# (what hls.js hands to the browser's decoder unchanged), decoded by FFmpeg, with each part
# placed where the playlist puts its video: tests/cli/join_measure.c, the join's measurement.
S=$WORK/sig
mkdir -p "$S/c"
cp "$(sav hls_s_anna.mp4 1.5 "-preset medium -crf 30 -g 48 -bf 2")" "$S/c/anna.mp4"
cp "$(sav hls_s_bob.mp4 2.25 "-preset ultrafast -g 24")" "$S/c/bob.mp4"
run "$VIDPIPE" batch --intro "$(sav hls_s_intro.mp4 3 "-preset ultrafast -g 24")" \
    --outro "$(sav hls_s_outro.mp4 2 "-preset ultrafast -g 24")" --personal "$S/c" \
    --hls "$S/out" --hls-target 2
assert_eq "$RC" 0 "measured: exit code ($ERR)"
for n in anna bob; do
    parts=$($CHECK "$S/out" $n --adts "$S/$n.aac" | python3 -c \
        'import json, sys; print(" ".join("%s:0" % t for _, t in json.load(sys.stdin)["parts"]))')
    ffmpeg -nostdin -v error -y -i "$S/$n.aac" -ac 1 -f f32le "$S/$n.pcm"
    m=$("$VP_JOIN_MEASURE" "$S/$n.pcm" 48000 $parts)
    echo "measured $n (parts at $parts):"
    echo "$m" | sed 's/^/  /'
    python3 - "$n" "$m" <<'PY' || fail "measured $n: the joins"
import re, sys
s = re.search(r"max \|A/V offset\| ([0-9.]+) ms, deepest dip (-?[0-9.]+) dB", sys.argv[2])
if not s or float(s.group(1)) > 0.1 or float(s.group(2)) < -6:
    sys.exit("%s: A/V offset or dip out of bounds: %s" % (sys.argv[1], sys.argv[2]))
PY
    check
done

# A person redone switches at once: the new segments go to a fresh folder, the playlist is
# renamed over the old one last, and only then is the old folder removed. The redo (-y) is
# stopped (SIGSTOP) once its folder appears: the old playlist and every file it lists are
# still there, unchanged; killed there (kill -9), the old playlist stays whole and playable;
# a rerun finishes, and removes the old folder and the killed run's.
R=$WORK/redo
mkdir -p "$R/c"
cp "$(hav hls_long.mp4 20 900 "-preset ultrafast -g 24")" "$R/c/long.mp4"
redo() { "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$R/c" --hls "$R/out" \
    --hls-target 1 "$@"; }
redo >/dev/null 2>&1
assert_eq "$?" 0 "redo: first run"
old=$(own_dir "$R/out" long)
cp "$R/out/long.m3u8" "$WORK/long.m3u8"
(cd "$old" && md5sum ./* > "$WORK/long.md5")
caught=
for attempt in 1 2 3 4 5; do
    n0=$(ls "$R/out/long" | wc -l)
    # a simple command, so that $! is vidpipe itself; a redo that finishes first removes the
    # folder it replaced at once (--hls-keep-old 0), so each attempt starts from one folder
    "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$R/c" --hls "$R/out" \
        --hls-target 1 -y --hls-keep-old 0 >/dev/null 2>&1 &
    pid=$!
    while kill -0 $pid 2>/dev/null && [ "$(ls "$R/out/long" | wc -l)" -le "$n0" ]; do :; done
    if kill -STOP $pid 2>/dev/null; then
        caught=$attempt
        break
    fi
    wait $pid # it finished first: the switch happened, try again from the new playlist
    old=$(own_dir "$R/out" long)
    cp "$R/out/long.m3u8" "$WORK/long.m3u8"
    (cd "$old" && md5sum ./* > "$WORK/long.md5")
done
[ -n "$caught" ] || fail "redo: never caught mid-redo in 5 attempts"
echo "redo: stopped mid-redo at attempt $caught: $(ls "$R/out/long" | tr '\n' ' ')"
cmp -s "$WORK/long.m3u8" "$R/out/long.m3u8" || fail "redo: the playlist changed before the switch"
(cd "$old" && md5sum -c --quiet "$WORK/long.md5") || fail "redo: the old files changed before the switch"
kill -9 $pid
wait $pid
cmp -s "$WORK/long.m3u8" "$R/out/long.m3u8" || fail "killed redo: the playlist changed"
(cd "$old" && md5sum -c --quiet "$WORK/long.md5") || fail "killed redo: the old files changed"
run $CHECK "$R/out" long --discontinuities 1
assert_eq "$RC" 0 "killed redo: the old playlist is whole ($ERR)"
[ "$(ls "$R/out/long" | wc -l)" -ge 2 ] || fail "killed redo: its folder is not there"
# A rerun that skips the person still removes the killed run's folder, which nothing lists.
run redo
assert_contains "$OUT" "1 item: 0 done, 1 skipped" "killed redo: the rerun skips"
assert_eq "$(ls "$R/out/long")" "$(basename "$old")" "killed redo: the rerun removed its folder"
run redo -y
assert_eq "$RC" 0 "redo after the kill: exit code ($ERR)"
new=$(own_dir "$R/out" long)
[ "$new" != "$old" ] || fail "redo after the kill: the same folder $new"
# The folder the replaced playlist listed stays (--hls-keep-old, default an hour) for viewers
# still playing it, marked superseded.
assert_eq "$(ls "$R/out/long" | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "$(basename "$new")" "$(basename "$old")" | sort | tr '\n' ' ')" \
    "redo after the kill: the new folder and the one the old playlist lists"
[ -e "$old/.superseded" ] && [ ! -e "$new/.superseded" ] || fail "redo: the superseded mark"
(cd "$old" && md5sum -c --quiet "$WORK/long.md5") || fail "redo: the old files changed after the switch"
cp "$WORK/long.m3u8" "$R/out/long-old.m3u8"
run $CHECK "$R/out" long-old --discontinuities 1
assert_eq "$RC" 0 "redo: the old playlist still plays after the switch ($ERR)"
rm "$R/out/long-old.m3u8"
run $CHECK "$R/out" long --discontinuities 1
assert_eq "$RC" 0 "redo after the kill: the new playlist ($ERR)"
no_temps "$R/out" redo
# Its time up, a superseded folder goes at the next run on the output, the person skipped.
touch -d '2 hours ago' "$old/.superseded"
run redo
assert_contains "$OUT" "1 item: 0 done, 1 skipped" "sweep: the person skipped"
assert_eq "$(ls "$R/out/long")" "$(basename "$new")" "sweep: the expired folder removed"
# --hls-keep-old 0: the replaced playlist's folder goes at once.
run redo -y --hls-keep-old 0
assert_eq "$RC" 0 "keep 0: exit code ($ERR)"
newer=$(own_dir "$R/out" long)
assert_eq "$(ls "$R/out/long")" "$(basename "$newer")" "keep 0: only the new folder left"
run redo --hls-keep-old 700000
assert_eq "$RC|$ERR" "3|vidpipe: batch: --hls-keep-old: value 700000 is out of range 0..604800" \
    "usage: --hls-keep-old out of range"

# A dry run says what it would package, and writes nothing.
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$WORK/dry" \
    --dry-run
assert_contains "$OUT" "hls $WORK/dry/anna.m3u8 <- $H_INTRO + $P/anna.mp4 + $H_OUTRO" "dry run: line"
[ ! -e "$WORK/dry" ] || fail "dry run: wrote $WORK/dry"
check

# Usage.
run "$VIDPIPE" batch --intro "$H_INTRO" --personal "$P" --hls "$O"
assert_eq "$RC" 3 "usage: --hls without --outro"
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --out "$WORK/x"
assert_eq "$RC" 3 "usage: --hls with --out"
run "$VIDPIPE" batch --intro "$H_INTRO" --outro "$H_OUTRO" --personal "$P" --hls "$O" \
    --hls-target 90
assert_eq "$RC|$ERR" "3|vidpipe: batch: --hls-target: value 90 is out of range 1..60" \
    "usage: --hls-target out of range, said once"
run "$VIDPIPE" batch --intro "$H_CARL" --outro "$H_OUTRO" --personal "$P" --hls "$WORK/h2"
assert_eq "$RC" 2 "an intro without audio: exit code"
assert_contains "$ERR" "hls_carl.mp4: has no audio" "an intro without audio: reason"
finish
