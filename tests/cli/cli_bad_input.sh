#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bad input: one clear line per file naming it and the reason; no crash, no hang.
. "$VP_SRCDIR/tests/cli/lib.sh"

GOOD=$(media cb_good.mp4 -f lavfi -i testsrc2=s=320x240:r=24:d=2 -f lavfi -i sine=d=2 \
    -c:v libx264 -preset ultrafast -c:a aac -shortest)
FAST=$(media cb_fast.mp4 -i "$GOOD" -c copy -movflags +faststart)
D=$WORK/bad
mkdir -p "$D/adir.mp4"
: > "$D/empty.mp4"
echo "just some text, not a video" > "$D/text.mp4"
size=$(stat -c %s "$FAST")
head -c $((size * 6 / 10)) "$FAST" > "$D/mdat_cut.mp4"      # moov first, mdat cut short
size=$(stat -c %s "$GOOD")
head -c $((size / 2)) "$GOOD" > "$D/no_moov.mp4"             # moov at the end, lost
head -c 100000 /dev/urandom > "$D/random.mp4"

expect() { # file reason
    run "$VIDPIPE" probe "$1"
    assert_eq "$RC" 2 "$1 exit code"
    assert_eq "$ERR" "vidpipe: $1: $2" "$1 message"
    assert_eq "$OUT" "" "$1: nothing on stdout"
}
expect "$D/missing.mp4" "no such file or directory"
expect "$D/adir.mp4" "is a directory, not a media file"
expect "$D/empty.mp4" "file is empty"
expect "$D/text.mp4" "not a media file (no known container format)"
expect "$D/mdat_cut.mp4" "file is truncated (media data cut short)"
expect "$D/no_moov.mp4" "MP4 has no moov box (unfinished or truncated)"
expect "$D/random.mp4" "not a media file (no known container format)"

# A recording cut short before its moov has one reason in every command, not "not a media
# file" in those that decode and "no moov" in those that index.
M="MP4 has no moov box (unfinished or truncated)"
O=$WORK/out
mkdir -p "$O"
for cmd in "probe" "check $GOOD" "join $GOOD -o $O/j.mp4" "proxy -o $O/p.mp4" \
    "thumb -o $O/t.jpg" "export --preset twitter -o $O/x" "qc" "loudnorm -o $O/l.mp4" \
    "cleanup --denoise-audio -o $O/c.mp4" "replace-audio $GOOD -o $O/r.mp4"; do
    set -- $cmd
    name=$1
    shift
    run "$VIDPIPE" "$name" "$D/no_moov.mp4" "$@"
    assert_eq "$RC" 2 "$name: no moov exit"
    assert_contains "$ERR" "vidpipe: $D/no_moov.mp4: $M" "$name: no moov reason"
done
check
[ -z "$(find "$O" -type f)" ] || fail "no moov: outputs left: $(find "$O" -type f)"

# Permission denied: root reads anything, so drop to nobody when running as root.
cp "$GOOD" "$D/secret.mp4"
chmod 000 "$D/secret.mp4"
chmod 755 "$WORK" "$D"
if [ "$(id -u)" = 0 ]; then
    if command -v setpriv >/dev/null 2>&1; then
        # The build tree may sit below a folder only root can enter (a clone in a mktemp -d
        # folder): nobody runs a copy of the CLI and its library from the test's own folder.
        mkdir -p "$WORK/bin"
        cp "$VIDPIPE" "$WORK/bin/vidpipe"
        cp -P "$VP_BUILDDIR"/src/libvidpipe.so* "$WORK/bin/"
        chmod -R a+rX "$WORK/bin"
        run setpriv --reuid=nobody --regid=nogroup --clear-groups \
            env LD_LIBRARY_PATH="$WORK/bin" "$WORK/bin/vidpipe" probe "$D/secret.mp4"
        assert_eq "$RC" 2 "permission denied exit"
        assert_eq "$ERR" "vidpipe: $D/secret.mp4: permission denied" "permission message"
    fi
else
    expect "$D/secret.mp4" "permission denied"
fi

# A batch of bad and good files: every bad one named, the good one still described.
run "$VIDPIPE" probe --json "$D/empty.mp4" "$GOOD" "$D/text.mp4" "$D/mdat_cut.mp4"
assert_eq "$RC" 2 "mixed batch exit"
assert_eq "$(printf '%s\n' "$ERR" | wc -l)" 3 "one line per bad file"
assert_contains "$OUT" '"code": "VP_ERR_TRUNCATED"' "truncated in JSON"
assert_contains "$OUT" '"width": 320' "good file still probed"

# A file without video, for the join check.
AUDIO=$(media cb_audio.m4a -f lavfi -i sine=d=1 -c:a aac)
run "$VIDPIPE" check "$GOOD" "$AUDIO"
assert_eq "$RC" 2 "check: no video exit"
assert_eq "$ERR" "vidpipe: $AUDIO: has no video stream" "check: no video message"

# A FIFO (which could stall forever) is refused at once, not waited on.
mkfifo "$D/fifo.mp4"
run timeout 20 "$VIDPIPE" probe "$D/fifo.mp4"
assert_eq "$RC" 2 "a FIFO ends with an error, not a hang"
assert_eq "$ERR" "vidpipe: $D/fifo.mp4: is not a regular file (pipe, device or socket)" "FIFO message"
finish
