#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# One --json layout for every command over a list of inputs (docs/json.md):
# {"command": NAME, "items": [{"input": PATH, ...}, ...]}, where probe, check and qc used to
# write "files"/"file" and replace-audio "video".
. "$VP_SRCDIR/tests/cli/lib.sh"

src=$(media jl_av.mp4 -f lavfi -i testsrc2=s=160x120:r=30:d=2 -f lavfi -i sine=f=440:d=2 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest)
tone=$(toolbox_audio)

# layout NAME [ARGS...]: run vidpipe NAME ARGS --json; the document must have command NAME
# and items whose first entry's input is $src.
layout() {
    name=$1
    shift
    run "$VIDPIPE" "$name" "$@" --json
    assert_eq "$RC" 0 "$name exit ($ERR)"
    got=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d.get("command"), sorted(k for k in d if k in ("files", "items")),
      d["items"][0].get("input") if "items" in d else None)')
    assert_eq "$got" "$name ['items'] $src" "$name --json: command, items, input"
}

layout probe "$src"
layout check "$src" "$src"
layout qc "$src"
layout thumb "$src" -o "$WORK/t.jpg"
layout proxy "$src" -o "$WORK/p.mp4" --height 60
layout loudnorm "$src" -o "$WORK/l.mp4"
layout cleanup "$src" -o "$WORK/c.mp4" --eq 0,1,1 --preset ultrafast
layout export "$src" --preset fast_draft -o "$WORK/out"
layout replace-audio "$src" "$tone" -o "$WORK/r.mp4"

finish
