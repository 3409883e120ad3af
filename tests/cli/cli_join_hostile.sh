#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hostile MP4s as the middle segment of a join (issue 10; docs/join.md, "Hostile input"):
# each gives a correct output or one line naming the file and the reason, exit 1 or 2,
# within seconds and bounded memory, nothing left behind; `check` gives the same verdict
# and reason; `probe` neither hangs nor crashes. Real files near the limits (negative
# composition offsets, variable frame rate, constant-size stsz, a picture held an hour,
# over an hour of sparse video) are not refused.
. "$VP_SRCDIR/tests/cli/lib.sh"

H=$WORK/hostile
python3 "$VP_SRCDIR/tests/cli/hostile_mp4.py" "$H" > "$WORK/cases" || { fail "generator"; finish; exit; }
GOOD=$H/good.mp4

# Memory: /usr/bin/time's max RSS of the whole command. The 64 Mi-sample stsz once cost
# 2 GB; a join of these 1 s files needs ~50 MB (several times that under AddressSanitizer).
RSS_CAP=262144
if ldd "$VIDPIPE" | grep -q libasan; then
    RSS_CAP=524288
fi
TIME=
if [ -x /usr/bin/time ]; then
    TIME="/usr/bin/time -f %M -o $WORK/rss"
else
    echo "memory check skipped: /usr/bin/time is not installed"
fi

duration() {
    ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"
}

# What each case must give: exit code and a piece of the reason (the SPS cases are refused
# by check's comparison with FFmpeg's reading of the stream: 1 or 2, any reason).
expect() {
    case $1 in
    co64_wrap) echo "2 file is truncated: video sample" ;;
    ctts_offset_hours_of_silence) echo "2 video sample 3 has a composition offset of 134217728" ;;
    ctts_huge_offset) echo "2 video sample 5 has a composition offset of 2147483647" ;;
    ctts_huge_negative_offset) echo "2 video sample 5 has a composition offset of -2147483648" ;;
    long_all_frames) echo "2 video track lasts" ;;
    elst_dwell_overflow) echo "2 edit list: an edit lasts" ;;
    elst_media_time_max) echo "2 edit list starts at media time" ;;
    elst_media_time_min) echo "2 edit list: media time" ;;
    stsz_64Mi_samples) echo "2 stsz lists 67108864 video samples" ;;
    good) echo "0" ;;
    *) echo "" ;;
    esac
}

n=0
for name in $(sed 's/\.mp4$//' "$WORK/cases"); do
    n=$((n + 1))
    F=$H/$name.mp4
    O=$WORK/out/$name
    mkdir -p "$O"
    run $TIME timeout 20 "$VIDPIPE" join -o "$O/out.mp4" "$GOOD" "$F" "$GOOD"
    jrc=$RC jerr=$ERR
    if [ -n "$TIME" ]; then
        rss=$(tail -n 1 "$WORK/rss")
        check
        [ "$rss" -le "$RSS_CAP" ] 2>/dev/null || fail "$name: join's max RSS $rss kB (cap $RSS_CAP)"
    fi
    case $jrc in
    0)
        errors=$(ffmpeg -nostdin -v error -i "$O/out.mp4" -f null - 2>&1 | wc -l)
        assert_eq "$errors" 0 "$name: the output decodes without errors"
        total=$(awk -v a="$(duration "$GOOD")" -v b="$(duration "$F")" \
            'BEGIN { print 2 * a + b }')
        assert_near "$(duration "$O/out.mp4")" "$total" 0.2 "$name: output duration"
        ;;
    1 | 2)
        assert_eq "$(printf '%s\n' "$jerr" | wc -l)" 1 "$name: one line on stderr"
        assert_contains "$jerr" "vidpipe: $F: " "$name: the line names the file"
        assert_eq "$(ls -A "$O")" "" "$name: nothing left in the output folder"
        ;;
    *)
        fail "$name: join exit $jrc (timeout, crash or sanitizer): $jerr"
        ;;
    esac
    set -- $(expect "$name")
    if [ $# -gt 0 ]; then
        assert_eq "$jrc" "$1" "$name: join exit code"
        shift
        [ $# -eq 0 ] || assert_contains "$jerr" "vidpipe: $F: $*" "$name: reason"
    else
        check
        [ "$jrc" = 1 ] || [ "$jrc" = 2 ] || fail "$name: join exit $jrc, expected a refusal"
    fi

    # check: the same verdict; for a file join cannot read, the same line
    run timeout 20 "$VIDPIPE" check "$GOOD" "$F"
    assert_eq "$RC" "$jrc" "$name: check exit code is join's"
    if [ "$jrc" = 2 ]; then
        assert_eq "$ERR" "$jerr" "$name: check gives join's reason"
    fi

    run timeout 20 "$VIDPIPE" probe "$F"
    check
    [ "$RC" = 0 ] || [ "$RC" = 2 ] || fail "$name: probe exit $RC: $ERR"
done
assert_eq "$n" 12 "cases generated"

# ---- real files near the limits are read ---------------------------------------------
L=$WORK/legit
mkdir -p "$L"
ff() { ffmpeg -nostdin -v error -y "$@"; }
SRC="-f lavfi -i testsrc2=s=160x120:r=25:d=2 -f lavfi -i sine=d=2:sample_rate=48000"
ff $SRC -c:v libx264 -bf 3 -c:a aac -movflags +negative_cts_offsets "$L/negative_cts.mp4"
ff $SRC -vf "setpts='PTS+0.02*sin(N)/TB'" -fps_mode vfr -c:v libx264 -bf 2 -c:a aac \
    "$L/vfr.mp4"
ff $SRC -c:v libx264 -c:a pcm_s16le "$L/pcm_fixed_stsz.mov"
ff -f lavfi -i color=gray:s=160x120:r=1/3600:d=3600 -c:v libx264 "$L/still_1h.mp4"
ff -f lavfi -i testsrc2=s=160x120:r=1/30:d=4020 -c:v libx264 -preset ultrafast \
    "$L/sparse_67min.mp4"
for f in "$L"/*; do
    run "$VIDPIPE" check "$f" "$f"
    assert_eq "$ERR" "" "$(basename "$f"): check reads it"
    case $f in
    *pcm_fixed_stsz.mov)
        # read within the limits; refused only for its codec, as join refuses PCM
        assert_eq "$RC" 1 "$(basename "$f"): not joinable by its codec"
        assert_contains "$OUT" "the join needs AAC-LC" "$(basename "$f"): the codec reason" ;;
    *)
        assert_eq "$RC" 0 "$(basename "$f"): joinable with itself" ;;
    esac
done
assert_near "$(duration "$L/still_1h.mp4")" 3600 1 "the still picture lasts an hour"
assert_near "$(duration "$L/sparse_67min.mp4")" 4020 1 "the sparse video lasts 67 min"

finish
