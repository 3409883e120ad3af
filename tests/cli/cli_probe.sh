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
