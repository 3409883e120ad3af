#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# `make install PREFIX=DIR` puts the vidpipe Python module under
# PREFIX/lib/python3/dist-packages, recording where the library went; with that folder on
# PYTHONPATH it imports and writes a file a decoder reads back.
. "$VP_SRCDIR/tests/cli/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "skipped: no numpy for $PY"; exit 77; }
DEST=$WORK/dest
meson install -C "$VP_BUILDDIR" --no-rebuild --quiet --destdir "$DEST" >"$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log"; fail "meson install"; finish; exit 1; }
opt() {
    meson introspect "$VP_BUILDDIR" --buildoptions | "$PY" -c 'import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}
PREFIX=$(opt prefix)
LIBDIR=$(opt libdir)
case $LIBDIR in /*) ;; *) LIBDIR=$PREFIX/$LIBDIR ;; esac
SITE=$DEST$PREFIX/lib/python3/dist-packages
for f in vidpipe/__init__.py vidpipe/_paths.py; do
    check
    [ -e "$SITE/$f" ] || fail "installed $f"
done
assert_contains "$(cat "$SITE/vidpipe/_paths.py")" "LIBDIR = \"$LIBDIR\"" "recorded libdir"

# The staged tree is not at PREFIX: point the module at the staged library.
STAGED_LIB=$DEST$LIBDIR/libvidpipe.so.0
check
[ -e "$STAGED_LIB" ] || fail "staged $STAGED_LIB"
SAN=$(opt b_sanitize)
PRELOAD=
[ "$SAN" = none ] || PRELOAD=$(cc -print-file-name=libasan.so)
run env -u VP_SRCDIR PYTHONPATH="$SITE" VIDPIPE_LIB="$STAGED_LIB" LD_PRELOAD="$PRELOAD" \
    ASAN_OPTIONS=detect_leaks=0 "$PY" -c "
import numpy as np, vidpipe, sys
assert vidpipe.__file__.startswith('$SITE'), vidpipe.__file__
w = vidpipe.VideoWriter('$WORK/py.mp4', vidpipe.VideoWriter_fourcc(*'avc1'), 25, (64, 48),
                        preset='ultrafast', hw='none')
for i in range(5):
    w.write(np.full((48, 64, 3), 40 * i, np.uint8))
w.release()
print(vidpipe.version(), w.stats['frames'], w.stats['encoder'])
"
assert_eq "$RC" 0 "import the installed module: $ERR"
assert_eq "$OUT" "$("$VIDPIPE" --version | cut -d' ' -f2) 5 libx264" "installed module writes"
assert_eq "$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 \
    "$WORK/py.mp4")" 5 "frames decoded"
finish
