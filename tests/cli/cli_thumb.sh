#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe thumb: the right frame, the right size, contact sheets with their tiles and time
# labels, bad input.
. "$VP_SRCDIR/tests/cli/lib.sh"

src=$(toolbox_av)
audioonly=$(toolbox_audio)

gray() { ffmpeg -nostdin -v error -y "$@" -f rawvideo -pix_fmt gray -; }
# mean absolute difference of two gray dumps
mad() { python3 -c '
import sys
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
print("%.1f" % (sum(abs(x - y) for x, y in zip(a, b)) / max(len(a), 1)) if len(a) == len(b) else 999)' "$1" "$2"; }

run "$VIDPIPE" thumb "$src" -o "$WORK/t.jpg" --at 2 --width 160 --json
assert_eq "$RC" 0 "thumb exit"
assert_eq "$(ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$WORK/t.jpg")" \
    "mjpeg,160,120" "thumb size"
gray -i "$WORK/t.jpg" > "$WORK/t.gray"
gray -ss 2 -i "$src" -frames:v 1 -vf scale=160:120 > "$WORK/r2.gray"
gray -ss 3 -i "$src" -frames:v 1 -vf scale=160:120 > "$WORK/r3.gray"
d2=$(mad "$WORK/t.gray" "$WORK/r2.gray")
d3=$(mad "$WORK/t.gray" "$WORK/r3.gray")
check
awk -v a="$d2" -v b="$d3" 'BEGIN { exit !(a < 4 && a < b) }' || fail "thumb is not the frame at 2 s ($d2 vs $d3)"
ts=$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["timestamp_seconds"])')
assert_near "$ts" 2.0 0.02 "thumb timestamp"

# Contact sheet: 3x2 tiles of 96x72 with 4 px margins, evenly spaced, labelled.
run "$VIDPIPE" thumb "$src" -o "$WORK/s.jpg" --grid 3x2 --width 96 --json
assert_eq "$RC" 0 "sheet exit"
assert_eq "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$WORK/s.jpg")" \
    "304,156" "sheet size"
first=$(echo "$OUT" | python3 -c 'import json,sys; i=json.load(sys.stdin)["items"][0]; print(i["frames"], i["timestamp_seconds"])')
assert_eq "$first" "6 0.5" "six tiles, the first at 0.5 s"
# Tile 4 (second row, first column) shows the frame at 3.5 s.
gray -i "$WORK/s.jpg" -vf crop=96:48:4:80 > "$WORK/tile.gray"
gray -ss 3.5 -i "$src" -frames:v 1 -vf scale=96:72,crop=96:48:0:0 > "$WORK/r35.gray"
gray -ss 0.5 -i "$src" -frames:v 1 -vf scale=96:72,crop=96:48:0:0 > "$WORK/r05.gray"
da=$(mad "$WORK/tile.gray" "$WORK/r35.gray")
db=$(mad "$WORK/tile.gray" "$WORK/r05.gray")
check
awk -v a="$da" -v b="$db" 'BEGIN { exit !(a < 8 && a < b) }' || fail "tile 4 is not the frame at 3.5 s ($da vs $db)"
# The time label: a dark box with light digits at the bottom-left of each tile.
label=$(gray -i "$WORK/s.jpg" -vf crop=40:9:4:147 | python3 -c '
import sys
d = sys.stdin.buffer.read()
print("label" if min(d) < 40 and max(d) > 180 else "none")')
assert_eq "$label" "label" "sheet tiles carry a time label"
run "$VIDPIPE" thumb "$src" -o "$WORK/s2.jpg" --grid 3x2 --width 96 --no-timestamps
label=$(gray -i "$WORK/s2.jpg" -vf crop=40:9:4:147 | python3 -c '
import sys
d = sys.stdin.buffer.read()
print("label" if min(d) < 40 and max(d) > 180 else "none")')
assert_eq "$label" "none" "--no-timestamps"

run "$VIDPIPE" thumb "$src" -o "$WORK/x.jpg" --grid 0x3
assert_eq "$RC" 3 "bad grid exit"
# The bytes are the format the extension names (a .png of JPEG bytes lied), and the picture
# is the same frame in each.
for f in "png png" "webp webp" "jpeg mjpeg"; do
    set -- $f
    run "$VIDPIPE" thumb "$src" -o "$WORK/t.$1" --at 2 --width 160
    assert_eq "$RC" 0 "thumb .$1 exit"
    assert_eq "$(ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 \
        "$WORK/t.$1")" "$2,160,120" "thumb .$1 is $2"
    gray -i "$WORK/t.$1" > "$WORK/t_$1.gray"
    d=$(mad "$WORK/t_$1.gray" "$WORK/r2.gray")
    check
    awk -v a="$d" 'BEGIN { exit !(a < 4) }' || fail "thumb .$1 is not the frame at 2 s ($d)"
done
case "$(head -c 8 "$WORK/t.png" | od -An -c | tr -d ' ')" in
    *PNG*) ;;
    *) fail "t.png does not start with the PNG signature" ;;
esac
check
run "$VIDPIPE" thumb "$src" -o "$WORK/t.gif"
assert_eq "$RC" 3 "thumb .gif exit"
assert_eq "$ERR" "vidpipe: $WORK/t.gif: a thumbnail is JPEG (.jpg, .jpeg), PNG (.png) or WebP (.webp); the extension names none of them" \
    "thumb .gif message"
check
[ ! -e "$WORK/t.gif" ] || fail "thumb .gif written"

# --at past the end (the source lasts 6 s) is refused, not answered with the last frame.
run "$VIDPIPE" thumb "$src" -o "$WORK/late.jpg" --at 50
assert_eq "$RC" 3 "--at past the end exit"
assert_eq "$ERR" "vidpipe: $src: --at 50 s is past the end of the video (6.000 s)" \
    "--at past the end message"
check
[ ! -e "$WORK/late.jpg" ] || fail "--at past the end left a thumbnail"
run "$VIDPIPE" thumb "$audioonly" -o "$WORK/a.jpg"
assert_eq "$RC" 2 "audio-only exit"
assert_eq "$ERR" "vidpipe: $audioonly: has no video stream" "audio-only message"
check
[ ! -e "$WORK/a.jpg" ] || fail "nothing left for a bad input"

finish
