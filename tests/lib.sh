# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the CLI tests. Needs VIDPIPE (the CLI) and VP_MEDIA (a media cache shared by
# the tests of one build) in the environment, as tests/meson.build sets them.
set -u
T_FAILS=0
T_CHECKS=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vptest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$VP_MEDIA"

fail() { echo "FAIL: $*" >&2; T_FAILS=$((T_FAILS + 1)); }
check() { T_CHECKS=$((T_CHECKS + 1)); }

assert_eq() { # actual expected what
    check
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}
assert_contains() { # haystack needle what
    check
    case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in: $1" ;; esac
}
assert_not_contains() {
    check
    case "$1" in *"$2"*) fail "$3: '$2' unexpectedly in: $1" ;; esac
}
assert_near() { # actual expected tolerance what
    check
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }' \
        || fail "$4: expected $2 +- $3, got $1"
}

# run CMD...: sets RC, OUT (stdout) and ERR (stderr).
run() {
    "$@" >"$WORK/.out" 2>"$WORK/.err"
    RC=$?
    OUT=$(cat "$WORK/.out")
    ERR=$(cat "$WORK/.err")
}

# media NAME FFMPEG_ARGS...: prints the path of $VP_MEDIA/NAME, generating it once with
# `ffmpeg FFMPEG_ARGS NAME` (cached across the tests of a build; safe in parallel).
media() {
    name=$1; shift
    path="$VP_MEDIA/$name"
    if [ ! -s "$path" ]; then
        (
            flock 9
            if [ ! -s "$path" ]; then
                tmp="$VP_MEDIA/.tmp$$-$name"
                ffmpeg -nostdin -v error -y "$@" "$tmp" && mv "$tmp" "$path"
            fi
        ) 9>"$VP_MEDIA/.lock-$name"
    fi
    echo "$path"
}

finish() {
    echo "$T_CHECKS checks, $T_FAILS failed"
    [ "$T_FAILS" -eq 0 ]
}
