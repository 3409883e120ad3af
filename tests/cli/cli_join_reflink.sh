#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Joins on filesystems that share extents (issue 17, part 1): on an XFS (reflink=1) and a
# btrfs image mounted on a loop device, intro (60 s 1280x720, ~31 MB) + a 10 s clip + outro
# are joined several times, and each output allocates at most the clip + 1 MB anew (statfs
# before and after, and its extent map: FIEMAP_EXTENT_SHARED); join --json says so
# (bytes_shared, bytes_written); the outputs decode frame for frame (video and audio) as the
# same join made on the ordinary disk, where nothing is shared and the alignment costs at
# most a block of zeros per run; a batch on the image reports its shared bytes.
# Needs root and a loop device (skips with 77 otherwise), mkfs.xfs and mkfs.btrfs.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/cli/join_lib.sh"

FIEMAP="python3 $VP_SRCDIR/tests/cli/fiemap_shared.py"
MB=1048576

[ "$(id -u)" -eq 0 ] || { echo "SKIP: not root: cannot attach a loop device"; exit 77; }
[ -e /dev/loop-control ] || { echo "SKIP: no /dev/loop-control: no loop devices here"; exit 77; }
for tool in mkfs.xfs mkfs.btrfs losetup; do
    command -v $tool >/dev/null || { echo "FAIL: $tool is not installed (scripts/install-deps.sh)" >&2; exit 1; }
done

# Everything mounted or attached here is undone on any exit.
MOUNTS="" LOOPS=""
cleanup() {
    for m in $MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    for l in $LOOPS; do losetup -d "$l" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Segments of a personalized video: the intro and outro with one encoder's settings, the
# clips with another's (other SPS/PPS: the output then carries parameter sets in front of
# every keyframe, the harder case for the layout). The intro is CBR with filler so that it
# is large without costing much to encode.
INTRO=$(media rl_intro.mp4 -f lavfi -i "testsrc2=s=1280x720:r=24:d=60" \
    -f lavfi -i "sine=f=440:r=48000:d=60" -c:v libx264 -preset ultrafast -g 48 \
    -b:v 4M -minrate 4M -maxrate 4M -bufsize 4M -x264-params nal-hrd=cbr -pix_fmt yuv420p \
    -c:a aac -b:a 128k -movflags +faststart)
OUTRO=$(media rl_outro.mp4 -f lavfi -i "testsrc2=s=1280x720:r=24:d=10,hue=h=90" \
    -f lavfi -i "sine=f=660:r=48000:d=10" -c:v libx264 -preset ultrafast -g 48 \
    -b:v 4M -minrate 4M -maxrate 4M -bufsize 4M -x264-params nal-hrd=cbr -pix_fmt yuv420p \
    -c:a aac -b:a 128k -movflags +faststart)
clip() { # NAME HUE TONE
    media "$1" -f lavfi -i "testsrc=s=1280x720:r=24:d=10,hue=h=$2" \
        -f lavfi -i "sine=f=$3:r=48000:d=10" -c:v libx264 -preset veryfast -crf 26 -g 60 \
        -pix_fmt yuv420p -c:a aac -b:a 128k
}
CLIP1=$(clip rl_clip1.mp4 40 550)
CLIP2=$(clip rl_clip2.mp4 160 770)
CLIP_SIZE=$(stat -c %s "$CLIP1")

# The reference: the same joins on the ordinary disk (ext4 or tmpfs: nothing is shared).
mkdir -p "$WORK/ref"
run "$VIDPIPE" join --json -o "$WORK/ref/out1.mp4" "$INTRO" "$CLIP1" "$OUTRO"
assert_eq "$RC" 0 "reference join exit code ($ERR)"
REF_JSON=$OUT
ffmpeg -nostdin -v error -i "$WORK/ref/out1.mp4" -f framemd5 - | grep -v '^#' > "$WORK/ref1.md5"
# its video is the segments' pictures, every one (the copy and the layout lose none)
grep '^0,' "$WORK/ref1.md5" | awk -F, '{ gsub(/ /, "", $6); print $6 }' > "$WORK/ref1.video"
frame_md5s "$INTRO" "$CLIP1" "$OUTRO" > "$WORK/src.video"
assert_eq "$(cmp "$WORK/ref1.video" "$WORK/src.video" && echo same)" same \
    "reference join: 1920 frames, each the segments' own ($(wc -l < "$WORK/ref1.video") decoded)"

json_field() { # JSON FIELD
    echo "$1" | sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" | head -1
}
# Where nothing is shared: nothing reported shared, and the alignment costs at most a block
# of zeros per run (one per segment, and one per keyframe whose parameter sets go in front:
# 30 + 5 + 5 here). Its extent map agrees.
assert_eq "$(json_field "$REF_JSON" bytes_shared)" 0 "ordinary disk: bytes_shared"
pad=$(json_field "$REF_JSON" bytes_padding)
check; [ -n "$pad" ] && [ "$pad" -le $((43 * 4096)) ] || \
    fail "ordinary disk: padding $pad bytes, more than a block per run"
set -- $($FIEMAP "$WORK/ref/out1.mp4")
assert_eq "$2" 0 "ordinary disk: FIEMAP shared bytes"

# used_bytes DIR: bytes in use on DIR's filesystem, once everything is on disk
used_bytes() {
    sync -f "$1/."
    stat -f -c '%b %f %S' "$1" | awk '{ printf "%d\n", ($1 - $2) * $3 }'
}

# fs_case NAME MKFS...: format an image with MKFS, mount it, join there three times
fs_case() {
    name=$1
    shift
    img="$WORK/$name.img" mnt="$WORK/$name"
    truncate -s 600M "$img"
    "$@" "$img" >"$WORK/mkfs.log" 2>&1 || { fail "$name: $* failed: $(tail -1 "$WORK/mkfs.log")"; return; }
    dev=$(losetup -f --show "$img" 2>"$WORK/losetup.err") || {
        echo "SKIP: no loop device can be had: $(cat "$WORK/losetup.err")"
        exit 77
    }
    LOOPS="$dev $LOOPS"
    mkdir -p "$mnt"
    mount "$dev" "$mnt" || { fail "$name: mount $dev failed"; return; }
    MOUNTS="$mnt $MOUNTS"
    mkdir -p "$mnt/personal" "$mnt/joined"
    # copies (not clones) of the segments: the outputs may share only what the join shares
    for f in "$INTRO" "$OUTRO"; do cp --reflink=never "$f" "$mnt/"; done
    cp --reflink=never "$CLIP1" "$mnt/personal/clip1.mp4"
    cp --reflink=never "$CLIP2" "$mnt/personal/clip2.mp4"
    I="$mnt/$(basename "$INTRO")" O="$mnt/$(basename "$OUTRO")"

    for n in 1 2 3; do
        before=$(used_bytes "$mnt")
        run "$VIDPIPE" join --json -o "$mnt/joined/out$n.mp4" "$I" "$mnt/personal/clip1.mp4" "$O"
        assert_eq "$RC" 0 "$name: join $n exit code ($ERR)"
        after=$(used_bytes "$mnt")
        new=$((after - before))
        echo "$name: output $n: $(stat -c %s "$mnt/joined/out$n.mp4") bytes, $new allocated" \
             "anew (statfs), join --json: shared $(json_field "$OUT" bytes_shared)," \
             "written $(json_field "$OUT" bytes_written)"
        check; [ "$new" -le $((CLIP_SIZE + MB)) ] || \
            fail "$name: output $n allocated $new bytes anew, more than the clip ($CLIP_SIZE) + 1 MB"
        set -- $($FIEMAP "$mnt/joined/out$n.mp4")
        check; [ "$3" -le $((CLIP_SIZE + MB)) ] || \
            fail "$name: output $n holds $3 unshared bytes (FIEMAP), more than the clip + 1 MB"
        written=$(json_field "$OUT" bytes_written)
        shared=$(json_field "$OUT" bytes_shared)
        check; [ -n "$written" ] && [ "$written" -le $((CLIP_SIZE + MB)) ] || \
            fail "$name: join --json says $written bytes written"
        assert_eq "$((shared + written))" "$1" "$name: bytes_shared + bytes_written = size"
        # the same layout on any filesystem of this block size
        assert_eq "$(cmp "$mnt/joined/out$n.mp4" "$WORK/ref/out1.mp4" && echo same)" same \
            "$name: output $n is byte for byte the ordinary disk's"
    done
    # and the same decoded frames, read back through the shared extents
    ffmpeg -nostdin -v error -i "$mnt/joined/out1.mp4" -f framemd5 - | grep -v '^#' \
        > "$WORK/out.md5"
    assert_eq "$(cmp "$WORK/out.md5" "$WORK/ref1.md5" && echo same)" same \
        "$name: output 1 decodes frame for frame as the reference (video and audio)"
    run ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$mnt/joined/out3.mp4"
    assert_eq "$RC $(echo $OUT)" "0 h264 aac" "$name: ffprobe reads the output"
    assert_eq "$ERR" "" "$name: ffprobe says nothing"

    # a batch there: its report and summary say what was shared
    before=$(used_bytes "$mnt")
    run "$VIDPIPE" batch --json --intro "$I" --outro "$O" --personal "$mnt/personal" \
        --out "$mnt/batch"
    assert_eq "$RC" 0 "$name: batch exit code ($ERR)"
    after=$(used_bytes "$mnt")
    total_shared=$(json_field "$OUT" bytes_shared)
    total_written=$(json_field "$OUT" bytes_written)
    total=$(json_field "$OUT" bytes)
    echo "$name: batch of 2: $total bytes, shared $total_shared, written $total_written," \
         "$((after - before)) allocated anew (statfs)"
    assert_eq "$((total_shared + total_written))" "$total" "$name: batch shared + written = bytes"
    check; [ "$total_written" -le $((2 * MB)) ] || \
        fail "$name: batch wrote $total_written bytes of 2 outputs"
    check; [ $((after - before)) -le $((2 * (CLIP_SIZE + MB))) ] || \
        fail "$name: batch of 2 allocated $((after - before)) bytes anew"
    for c in clip1 clip2; do
        line=$(grep "\"item\":\"$c.mp4\"" "$mnt/batch/vidpipe-report.jsonl")
        s=$(echo "$line" | sed -n 's/.*"bytes_shared":\([0-9]*\).*/\1/p')
        check; [ -n "$s" ] && [ "$s" -gt $(($(stat -c %s "$INTRO") - MB)) ] || \
            fail "$name: report line of $c shares ${s:-no} bytes: $line"
    done
    assert_eq "$(cmp "$mnt/batch/clip1.mp4" "$WORK/ref/out1.mp4" && echo same)" same \
        "$name: batch output is byte for byte the join's"
}

fs_case xfs mkfs.xfs -q -m reflink=1
fs_case btrfs mkfs.btrfs -q

finish
