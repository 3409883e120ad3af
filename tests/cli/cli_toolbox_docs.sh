#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every option a toolbox command accepts (its --help, generated from its option table) is
# documented in its man page, and every command is in vidpipe's command list.
. "$VP_SRCDIR/tests/cli/lib.sh"

for cmd in proxy thumb export qc loudnorm replace-audio cleanup run; do
    man="$VP_SRCDIR/docs/vidpipe-$cmd.1"
    check
    [ -s "$man" ] || { fail "$cmd: no man page"; continue; }
    run "$VIDPIPE" "$cmd" --help
    assert_eq "$RC" 0 "$cmd --help exit"
    page=$(sed 's/\\-/-/g' "$man")
    for opt in $(echo "$OUT" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
        [ "$opt" = "--help" ] && continue
        assert_contains "$page" "$opt" "$cmd: $opt documented in vidpipe-$cmd.1"
    done
    run "$VIDPIPE" --help
    assert_contains "$OUT" "  $cmd " "$cmd listed in vidpipe --help"
done
finish
