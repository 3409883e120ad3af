#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every command's --json, given a file named in Latin-1 (caf\351.mp4, not UTF-8): the output
# parses as JSON, and the name follows docs/json.md's rule (U+FFFD in the value, the exact
# bytes in hex in KEY_bytes).
. "$VP_SRCDIR/tests/cli/lib.sh"

src=$(media jn_av.mp4 -f lavfi -i testsrc2=s=160x120:r=30:d=2 -f lavfi -i sine=f=440:d=2 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest)
tone=$(toolbox_audio)
lat=$(printf "$WORK/caf\351.mp4")
cp "$src" "$lat"
mkdir -p "$WORK/in" "$WORK/out"
cp "$src" "$(printf "$WORK/in/caf\351.mp4")"

# judge WHAT PATH: stdout must be one JSON document with a string field naming PATH by the
# rule: "<U+FFFD form>" and, beside it, KEY_bytes == hex(PATH).
judge() {
    what=$1 path=$2
    assert_eq "$RC" 0 "$what exit ($ERR)"
    got=$(printf '%s' "$OUT" | python3 -c '
import json, os, sys
want = os.fsencode(sys.argv[1])
try:
    doc = json.load(sys.stdin.buffer)
except ValueError as e:
    print("not JSON: %s" % e); sys.exit()
found = []
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, str) and "\ufffd" in x and k + "_bytes" not in v:
                print("%s: U+FFFD without %s_bytes" % (k, k)); sys.exit()
            if k.endswith("_bytes") and isinstance(x, str) and bytes.fromhex(x) == want:
                found.append(v[k[:-6]] == want.decode("utf-8", "replace"))
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(doc)
print("named" if found and all(found) else "not named: %r" % doc)' "$path")
    assert_eq "$got" "named" "$what --json names $path by the rule"
}

run "$VIDPIPE" probe --json "$lat"
judge probe "$lat"
run "$VIDPIPE" check --json "$src" "$lat"
judge check "$lat"
run "$VIDPIPE" thumb "$lat" -o "$WORK/t.jpg" --json
judge thumb "$lat"
run "$VIDPIPE" qc "$lat" --json
judge qc "$lat"
run "$VIDPIPE" proxy "$lat" -o "$(printf "$WORK/p\351.mp4")" --height 60 --json
judge proxy "$(printf "$WORK/p\351.mp4")"
run "$VIDPIPE" loudnorm "$lat" -o "$WORK/l.mp4" --json
judge loudnorm "$lat"
run "$VIDPIPE" cleanup "$lat" -o "$WORK/c.mp4" --eq 0,1,1 --preset ultrafast --json
judge cleanup "$lat"
run "$VIDPIPE" export "$WORK/in" --preset fast_draft -o "$WORK/out" --json
judge export "$(printf "$WORK/in/caf\351.mp4")"
run "$VIDPIPE" replace-audio "$lat" "$tone" -o "$WORK/r.mp4" --json
judge replace-audio "$lat"
run "$VIDPIPE" join -o "$(printf "$WORK/j\351.mp4")" --json "$lat" "$lat"
judge join "$(printf "$WORK/j\351.mp4")"
head -c $((64 * 64 * 3 * 5)) /dev/zero > "$WORK/raw"
run "$VIDPIPE" encode-raw -s 64x64 -i "$WORK/raw" --json "$(printf "$WORK/e\351.mp4")"
judge encode-raw "$(printf "$WORK/e\351.mp4")"
run "$VIDPIPE" batch --intro "$src" --outro "$src" --personal "$WORK/in" --out "$WORK/bo" \
    --dry-run --json
judge batch "$(printf "$WORK/bo/caf\351.mp4")"

# The report a batch writes keeps the same rule, one JSON document per line.
run "$VIDPIPE" proxy "$WORK/in" -o "$WORK/po" --height 60 --report "$WORK/rep.jsonl"
assert_eq "$RC" 0 "proxy --report exit ($ERR)"
rep=$(python3 -c '
import json, os, sys
r = [json.loads(l) for l in open(sys.argv[1], "rb")]
print(r[0]["item"].endswith("caf\ufffd.mp4"), bytes.fromhex(r[0]["item_bytes"]) == os.fsencode(sys.argv[2]))' \
    "$WORK/rep.jsonl" "$(printf "$WORK/in/caf\351.mp4")")
assert_eq "$rep" "True True" "report line names the Latin-1 input by the rule"

# A JSON input file with Latin-1 bytes is refused, naming the file, the place and why.
printf '{"presets": [{"name": "x", "description": "caf\351"}]}\n' > "$WORK/bad.json"
run "$VIDPIPE" export "$src" --preset x -o "$WORK/out2" --presets "$WORK/bad.json"
assert_eq "$RC" 3 "Latin-1 preset file exit"
assert_eq "$ERR" "vidpipe: $WORK/bad.json: line 1, column 46: not valid UTF-8" \
    "Latin-1 preset file message"
printf '{"max_black": 1, "x": "\351"}\n' > "$WORK/bad2.json"
run "$VIDPIPE" qc "$src" --spec "$WORK/bad2.json"
assert_eq "$RC" 3 "Latin-1 QC spec exit"
assert_eq "$ERR" "vidpipe: $WORK/bad2.json: line 1, column 23: not valid UTF-8" \
    "Latin-1 QC spec message"

finish
