#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe probe through the CLI: human and JSON output, several files, lists, exit codes.
. "$VP_SRCDIR/tests/cli/lib.sh"

A=$(media cp_a.mp4 -f lavfi -i testsrc2=s=320x240:r=24:d=2 -f lavfi -i sine=r=48000:d=2 \
    -c:v libx264 -preset ultrafast -g 24 -c:a aac -shortest)
B=$(media cp_b.ts -f lavfi -i testsrc2=s=160x120:r=25:d=1 -c:v libx264 -preset ultrafast \
    -f mpegts)

run "$VIDPIPE" probe --help
assert_eq "$RC" 0 "probe --help exit"
assert_contains "$OUT" "Usage: vidpipe probe" "probe --help text"
assert_contains "$OUT" "--json" "probe --help lists --json"

run "$VIDPIPE" probe "$A"
assert_eq "$RC" 0 "probe exit"
assert_contains "$OUT" "h264 (Constrained Baseline)" "human: codec and profile"
assert_contains "$OUT" "320x240" "human: resolution"
assert_contains "$OUT" "starts on IDR" "human: GOP start"
assert_contains "$OUT" "priming 1024 samples" "human: AAC priming"
assert_eq "$ERR" "" "nothing on stderr for a good file"

# Tags, colour and chapters; a tag's newline cannot break the line. WebM gives no stream
# duration: "unknown", as JSON's null, not 0.000 s.
printf ';FFMETADATA1\ntitle=Holiday\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=Intro\n' \
    > "$WORK/chapters.txt"
T=$(media cp_tags.mkv -f lavfi -i testsrc2=s=160x120:r=25:d=2 -i "$WORK/chapters.txt" \
    -map 0 -map_metadata 1 -map_chapters 1 -metadata "comment=$(printf 'two\nlines')" \
    -metadata:s:v:0 title="Cam A" -c:v libx264 -preset ultrafast -color_primaries bt2020 \
    -color_trc smpte2084 -colorspace bt2020nc -color_range tv)
W=$(media cp_vp9.webm -f lavfi -i testsrc2=s=160x120:r=25:d=1 -c:v libvpx-vp9 \
    -deadline realtime)
run "$VIDPIPE" probe "$T" "$W"
assert_eq "$RC" 0 "probe tags exit"
assert_contains "$OUT" "          tag title: Holiday" "human: file title tag"
assert_contains "$OUT" "          tag COMMENT: two?lines" "human: control characters as ?"
assert_contains "$OUT" "        tag title: Cam A" "human: stream title tag"
assert_contains "$OUT" "  chapter 0  0.000 s .. 1.500 s  Intro" "human: chapter"
assert_contains "$OUT" "colour bt2020/smpte2084/bt2020nc  range tv" "human: HDR colour"
assert_contains "$OUT" "tb 1/1000  start 0.000 s  duration unknown" "human: WebM duration"
case $OUT in *"0.000 s  ? kb/s"*) fail "a duration JSON calls null printed as 0.000 s" ;; esac

# A tag whose name and value are Latin-1 bytes: the JSON document stays JSON.
L=$(media cp_latin_tags.mkv -f lavfi -i testsrc2=s=64x48:r=10:d=1 -c:v libx264 \
    -preset ultrafast -metadata "$(printf 'caf\351')=$(printf 'd\351j\340')")
run "$VIDPIPE" probe --json "$L"
assert_eq "$RC" 0 "Latin-1 tag exit"
printf '%s' "$OUT" > "$WORK/latin.json"
python3 - "$WORK/latin.json" <<'PY' || fail "Latin-1 tag in JSON"
import json, sys
tags = json.load(open(sys.argv[1]))["items"][0]["format"]["tags"]
assert tags["CAF\ufffd"] == "d\ufffdj\ufffd" and tags["CAF\ufffd_bytes"] == "64e96ae0", tags
PY
check

# JSON: one document, an entry per file, each with its own error.
run "$VIDPIPE" probe --json "$A" "$WORK/missing.mp4" "$B"
assert_eq "$RC" 2 "exit 2 when a file could not be read"
assert_contains "$ERR" "missing.mp4: no such file or directory" "stderr names the file"
printf '%s' "$OUT" > "$WORK/probe.json"
python3 - "$WORK/probe.json" "$A" <<'PY' || fail "JSON document"
import json, sys
d = json.load(open(sys.argv[1]))
f = d["items"]
assert len(f) == 3, f
assert f[0]["input"] == sys.argv[2] and f[0]["error"] is None
assert f[0]["streams"][0]["width"] == 320 and f[0]["streams"][0]["gop"]["keyframes"] == 2
assert f[0]["streams"][1]["sample_rate"] == 48000
assert f[1]["error"]["code"] == "ENOENT", f[1]
assert f[1]["error"]["message"] == "no such file or directory"
assert f[2]["format"]["format_name"] == "mpegts"
assert f[2]["streams"][0]["nb_frames"] == 25 and f[2]["streams"][0]["nb_frames_counted"]
PY
check

# Paths from a list file; -j 1 gives the same result as the default.
printf '%s\n%s\n' "$A" "$B" > "$WORK/list.txt"
run "$VIDPIPE" probe --json -j 1 --list "$WORK/list.txt"
J1=$OUT
run "$VIDPIPE" probe --json -j 4 --list "$WORK/list.txt"
assert_eq "$RC" 0 "probe --list exit"
assert_eq "$OUT" "$J1" "-j 1 and -j 4 print the same document"

# Paths with spaces, quotes, ampersands, parentheses and non-ASCII characters.
ODD="$WORK/odd dir (1) & 'quote' \"dq\" é"
mkdir -p "$ODD"
cp "$A" "$ODD/clip #1 (é) & co.mp4"
run "$VIDPIPE" probe --json "$ODD/clip #1 (é) & co.mp4"
assert_eq "$RC" 0 "odd path exit"
assert_contains "$OUT" 'clip #1 (é) & co.mp4' "odd path in JSON"

# Usage errors exit 3.
run "$VIDPIPE" probe --bogus "$A"
assert_eq "$RC" 3 "unknown option exit"
assert_contains "$ERR" "unknown option '--bogus'" "unknown option message"
run "$VIDPIPE" probe
assert_eq "$RC" 3 "no files exit"
run "$VIDPIPE" probe -j x "$A"
assert_eq "$RC" 3 "bad -j exit"
run "$VIDPIPE" nosuchcommand
assert_eq "$RC" 3 "unknown command exit"
run "$VIDPIPE" --version
assert_contains "$OUT" "vidpipe " "--version"
finish
