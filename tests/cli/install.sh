#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install` (what `make install PREFIX=DIR` runs) puts the library, headers,
# pkg-config file, CLI and man pages in place, and a program builds against them.
. "$VP_SRCDIR/tests/cli/lib.sh"
DEST=$WORK/dest
meson install -C "$VP_BUILDDIR" --no-rebuild --quiet --destdir "$DEST" >"$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log"; fail "meson install"; finish; exit 1; }
PREFIX=$(meson introspect "$VP_BUILDDIR" --buildoptions | python3 -c \
    'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
ROOT=$DEST$PREFIX
for f in bin/vidpipe include/vidpipe/vidpipe.h include/vidpipe/version.h \
         include/vidpipe/probe.h share/man/man1/vidpipe.1 share/man/man1/vidpipe-probe.1; do
    check
    [ -e "$ROOT/$f" ] || fail "installed $f"
done
# In the sanitizer build the library needs the sanitizer runtime in the program too.
SAN=$(meson introspect "$VP_BUILDDIR" --buildoptions | python3 -c \
    'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="b_sanitize"))')
SANFLAGS=
[ "$SAN" = none ] || SANFLAGS="-fsanitize=$SAN"
PC=$(find "$ROOT" -name vidpipe.pc | head -n 1)
check
[ -n "$PC" ] || fail "vidpipe.pc installed"
LIBDIR=$(dirname "$(find "$ROOT" -name 'libvidpipe.so' | head -n 1)")
cat > "$WORK/use.c" <<'C'
#include <stdio.h>
#include <vidpipe/vidpipe.h>
int main(int argc, char **argv)
{
    VpMediaInfo *mi = NULL;
    int r = vp_probe_file(argc > 1 ? argv[1] : "", NULL, &mi);
    printf("%s %s\n", VIDPIPE_VERSION_STRING, r < 0 ? vp_err_name(r) : mi->format);
    vp_media_info_free(&mi);
    return 0;
}
C
# The .pc file names the final prefix; point pkg-config at the staged copy.
PKG_CONFIG_PATH=$(dirname "$PC") PKG_CONFIG_SYSROOT_DIR=$DEST \
    cc -std=c11 $SANFLAGS "$WORK/use.c" -o "$WORK/use" $(PKG_CONFIG_PATH=$(dirname "$PC") \
    PKG_CONFIG_SYSROOT_DIR=$DEST pkg-config --cflags --libs vidpipe) 2>"$WORK/cc.log" \
    || { cat "$WORK/cc.log"; fail "compile against the installed headers"; }
run env LD_LIBRARY_PATH="$LIBDIR" "$WORK/use" /nonexistent.mp4
assert_eq "$OUT" "$("$VIDPIPE" --version | cut -d' ' -f2) ENOENT" "program linked to libvidpipe"
# Only the public API is exported.
check
nm -D --defined-only "$LIBDIR/libvidpipe.so" | awk '$2 == "T" { print $3 }' | grep -v '^vp_' \
    > "$WORK/extra" && fail "non-API symbols exported: $(cat "$WORK/extra")"
finish
