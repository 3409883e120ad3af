#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Commands that take a folder pick the same files in the same order (one lister in the
# helper library): batch --personal DIR and proxy DIR, from a folder of mixed names, cases,
# hidden and temporary files. And -j above the cap is refused, never quietly lowered.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/cli/batch_media.sh"
AUDIO=$(toolbox_audio)

P=$WORK/mixed
mkdir -p "$P" "$P/sub.mp4"
cp "$CLIP_A" "$P/clip10.MOV"
cp "$CLIP_B" "$P/clip9.mp4"
cp "$CLIP_A" "$P/anna.M4V"
cp "$CLIP_B" "$P/Bob.mp4"
cp "$CLIP_A" "$P/clip1.mkv"
cp "$AUDIO" "$P/song.m4a"
cp "$CLIP_A" "$P/.hidden.mp4"
cp "$CLIP_A" "$P/._clip9.mp4"
cp "$CLIP_A" "$P/.clip9.mp4.vptmp-Ab12Cd"
cp "$CLIP_A" "$P/clip9.mp4~"
cp "$CLIP_A" "$P/clip2.mov.part"
echo "not a clip" > "$P/notes.txt"
WANT="Bob.mp4 anna.M4V clip1.mkv clip9.mp4 clip10.MOV song.m4a"

items() { # report.jsonl: the items' file names, in the report's order
    python3 -c '
import json, sys
print(" ".join(json.loads(l)["item"].split("/")[-1] for l in open(sys.argv[1])))' "$1"
}

run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$WORK/bout" -j 1
assert_eq "$RC" 1 "batch: exit code (song.m4a has no video)"
assert_contains "$ERR" "song.m4a" "batch: the audio file is a failed item, not left out"
assert_eq "$(items "$WORK/bout/vidpipe-report.jsonl")" "$WANT" "batch --personal: files and order"

run "$VIDPIPE" proxy "$P" -o "$WORK/pout" --height 64 -j 1 --report "$WORK/proxy.jsonl"
assert_eq "$RC" 2 "proxy: exit code (song.m4a has no video)"
assert_eq "$(items "$WORK/proxy.jsonl")" "$WANT" "proxy DIR: files and order"
assert_eq "$(cd "$WORK/pout" && ls | tr '\n' ' ')" "Bob.mp4 anna.mp4 clip1.mp4 clip10.mp4 clip9.mp4 " \
    "proxy DIR: outputs"

# -j: up to 256 workers are honoured; more are refused by name, with the usage exit code.
for cmd in "batch --intro $INTRO --personal $P --out $WORK/jout" "proxy $P -o $WORK/jout" \
           "probe $CLIP_A" "check $CLIP_A $CLIP_B"; do
    name=${cmd%% *}
    # shellcheck disable=SC2086 # word splitting is the point: the paths have no spaces
    run "$VIDPIPE" $cmd -j 300
    assert_eq "$RC" 3 "$name -j 300: exit code"
    assert_eq "$ERR" "vidpipe: $name: --jobs: value 300 is out of range 0..256" \
        "$name -j 300: message"
done
run "$VIDPIPE" probe "$CLIP_A" "$CLIP_B" "$INTRO" -j 256
assert_eq "$RC" 0 "probe -j 256: exit code"
assert_eq "$(echo "$OUT" | grep -c 'batch_')" 3 "probe -j 256: every file probed"
finish
