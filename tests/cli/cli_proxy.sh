#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe proxy: outputs checked with ffprobe/ffmpeg, the frames the proxy keeps compared with
# ffmpeg's fps filter, bad inputs, folders, skipping, and nothing left behind on failure.
. "$VP_SRCDIR/tests/cli/lib.sh"

src=$(toolbox_av)
noaudio=$(toolbox_video)
audioonly=$(toolbox_audio)

# ---- the proxy, its thumbnail and metadata ----
run "$VIDPIPE" proxy "$src" -o "$WORK/p.mp4" --thumb "$WORK/t.jpg" --meta "$WORK/m.json" \
    --height 120 --thumb-width 160
assert_eq "$RC" 0 "proxy exit code"
assert_eq "$ERR" "" "proxy stderr"
v=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries \
    stream=codec_name,width,height,pix_fmt,r_frame_rate,nb_read_frames -of csv=p=0 "$WORK/p.mp4")
assert_eq "$v" "h264,160,120,yuv420p,10/1,60" "proxy video stream"
a=$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name,bit_rate -of csv=p=0 \
    "$WORK/p.mp4")
assert_contains "$a" "aac," "proxy audio codec"
abr=${a#aac,}
assert_near "$abr" 64000 12000 "proxy audio bitrate"
# moov before mdat (faststart)
boxes=$(top_boxes "$WORK/p.mp4")
check
case $boxes in *moov*mdat*) ;; *) fail "moov first: top-level boxes are $boxes" ;; esac
# CRF 28 medium, as the upload pipeline's proxies
sei=$(strings "$WORK/p.mp4" | grep -m1 'x264 - core' || true)
assert_contains "$sei" "crf=28.0" "x264 CRF"
assert_contains "$sei" "subme=7" "x264 preset medium"

# The proxy keeps the frames ffmpeg's fps filter keeps: compare with an uncompressed reference.
ffmpeg -nostdin -v error -y -i "$src" -vf scale=160:120,fps=10 -pix_fmt yuv420p -f rawvideo \
    "$WORK/ref.yuv"
ffmpeg -nostdin -v error -y -i "$WORK/p.mp4" -f rawvideo -pix_fmt yuv420p "$WORK/got.yuv"
minpsnr=$(python3 - "$WORK/ref.yuv" "$WORK/got.yuv" <<'PY'
import math, sys
n, y = 160 * 120 * 3 // 2, 160 * 120
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
if len(a) != len(b): print(-1); sys.exit()
worst = 99
for off in range(0, len(a), n):
    fa, fb = a[off:off + y], b[off:off + y]
    mse = sum((p - q) ** 2 for p, q in zip(fa, fb)) / y
    worst = min(worst, 99 if mse == 0 else int(10 * math.log10(255 ** 2 / mse)))
print(worst)
PY
)
check
[ "$minpsnr" -ge 28 ] || fail "proxy frames differ from the fps filter's choice (min PSNR $minpsnr)"

t=$(ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$WORK/t.jpg")
assert_eq "$t" "mjpeg,160,120" "thumbnail"
# The thumbnail is the frame at 5 s.
ffmpeg -nostdin -v error -y -ss 5 -i "$src" -frames:v 1 -vf scale=160:120 -f rawvideo \
    -pix_fmt gray "$WORK/ref5.gray"
ffmpeg -nostdin -v error -y -i "$WORK/t.jpg" -f rawvideo -pix_fmt gray "$WORK/t.gray"
ffmpeg -nostdin -v error -y -ss 4 -i "$src" -frames:v 1 -vf scale=160:120 -f rawvideo \
    -pix_fmt gray "$WORK/ref4.gray"
cmp=$(python3 - "$WORK/ref5.gray" "$WORK/ref4.gray" "$WORK/t.gray" <<'PY'
import sys
r5, r4, t = (open(p, 'rb').read() for p in sys.argv[1:])
d5 = sum(abs(p - q) for p, q in zip(t, r5)) / len(t)
d4 = sum(abs(p - q) for p, q in zip(t, r4)) / len(t)
print("at5" if d5 < d4 and d5 < 4 else "other %.1f %.1f" % (d5, d4))
PY
)
assert_eq "$cmp" "at5" "thumbnail shows the frame at 5 s"

meta=$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
o, p, t = m["original"], m["proxy"], m["thumbnail"]
print(o["width"], o["height"], o["fps"], "%.2f" % o["duration_seconds"], o["codec"],
      o["bitrate"] > 0, o["file_size_bytes"] > 0, p["width"], p["height"], p["fps"],
      t["width"], t["timestamp_seconds"], m["decode_errors"])' "$WORK/m.json")
assert_eq "$meta" "320 240 30 6.00 h264 True True 160 120 10 160 5 0" "metadata"
size=$(stat -c %s "$src")
msize=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["original"]["file_size_bytes"])' "$WORK/m.json")
assert_eq "$msize" "$size" "metadata file size"
# A thumbnail time past the end is refused (the proxy's last frame was passed off as it),
# naming the thumbnail; nothing is left.
run "$VIDPIPE" proxy "$src" -o "$WORK/late.mp4" --thumb "$WORK/late.jpg" --thumb-at 50
assert_eq "$RC" 4 "--thumb-at past the end exit"
assert_contains "$ERR" "vidpipe: $WORK/late.jpg: the frame at 50 s is past the end of $src (6.000 s)" \
    "--thumb-at past the end message"
check
[ ! -e "$WORK/late.mp4" ] && [ ! -e "$WORK/late.jpg" ] || fail "--thumb-at past the end left files"
# A size past six digits is exact too (it was written "%.6g": 1234567 became 1234570).
bigsrc=$(media px_big.mp4 -f lavfi -i testsrc2=s=640x480:r=30:d=2 -c:v libx264 -preset ultrafast \
    -qp 0 -pix_fmt yuv420p)
run "$VIDPIPE" proxy "$bigsrc" -o "$WORK/big_proxy.mp4" --meta "$WORK/big.json" --json
assert_eq "$RC" 0 "big source exit"
size=$(stat -c %s "$bigsrc")
msize=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["original"]["file_size_bytes"])' "$WORK/big.json")
assert_eq "$msize" "$size" "metadata file size past six digits"
psize=$(stat -c %s "$WORK/big_proxy.mp4")
msize=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["proxy"]["file_size_bytes"])' "$WORK/big.json")
assert_eq "$msize" "$psize" "metadata proxy size"

# A progress line on a terminal (and none in a pipe: the stderr checks above).
prog=$(python3 - "$VIDPIPE" "$src" "$WORK/pt.mp4" <<'PY'
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.run([sys.argv[1], "proxy", sys.argv[2], "-o", sys.argv[3], "--height", "120"],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
print(p.returncode, "progress" if b"proxy: seconds" in data and b"\r" in data else repr(data))
PY
)
assert_eq "$prog" "0 progress" "progress line on a terminal"

# --json
run "$VIDPIPE" proxy "$src" -o "$WORK/p2.mp4" --height 120 --json
assert_eq "$RC" 0 "proxy --json exit"
j=$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin)["items"][0]; print(d["status"], d["result"]["proxy"]["frames"], d["result"]["proxy"]["height"], d["frames_not_decoded"] > 0)')
assert_eq "$j" "done 60 120 True" "proxy --json fields, undecoded frames"
# One serialiser: --json's "result" is the metadata file, key for key and value for value.
run "$VIDPIPE" proxy "$src" -o "$WORK/p3.mp4" --height 120 --thumb "$WORK/t3.jpg" \
    --meta "$WORK/m3.json" --json
same=$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["result"] == json.load(open(sys.argv[1])))' "$WORK/m3.json")
assert_eq "$same" "True" "proxy --json result is the metadata file"

# Short videos: the thumbnail is at the midpoint.
run "$VIDPIPE" proxy "$noaudio" -o "$WORK/na.mp4" --thumb "$WORK/na.jpg" --meta "$WORK/na.json" \
    --height 120
assert_eq "$RC" 0 "no-audio proxy exit"
streams=$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$WORK/na.mp4" | tr '\n' ' ')
assert_eq "$streams" "video " "no audio in, no audio out"
ts=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["thumbnail"]["timestamp_seconds"])' "$WORK/na.json")
assert_near "$ts" 1.5 0.05 "thumbnail at the midpoint of a 3 s video"

# A phone video turned by its display matrix: the proxy and thumbnail are upright, as
# ffmpeg's autorotation shows it.
ffmpeg -nostdin -v error -y -i "$src" -c copy -metadata:s:v:0 rotate=90 "$WORK/rot.mp4"
run "$VIDPIPE" proxy "$WORK/rot.mp4" -o "$WORK/rp.mp4" --thumb "$WORK/rt.jpg" --height 120 \
    --thumb-width 90
assert_eq "$RC" 0 "rotated source exit"
assert_eq "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$WORK/rp.mp4" | head -1)" \
    "90,120" "rotated source: portrait proxy"
assert_eq "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$WORK/rt.jpg")" \
    "90,120" "rotated source: portrait thumbnail"
ffmpeg -nostdin -v error -y -i "$WORK/rot.mp4" -vf scale=90:120 -frames:v 1 -f rawvideo \
    -pix_fmt gray "$WORK/rref.gray"
ffmpeg -nostdin -v error -y -i "$WORK/rp.mp4" -frames:v 1 -f rawvideo -pix_fmt gray "$WORK/rgot.gray"
ffmpeg -nostdin -v error -y -ss 5 -i "$WORK/rot.mp4" -vf scale=90:120 -frames:v 1 -f rawvideo \
    -pix_fmt gray "$WORK/rref5.gray"
ffmpeg -nostdin -v error -y -i "$WORK/rt.jpg" -f rawvideo -pix_fmt gray "$WORK/rt.gray"
up=$(python3 -c '
import sys
def mad(p, q):
    a, b = open(p, "rb").read(), open(q, "rb").read()
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a) if len(a) == len(b) else 999
print("upright" if mad(sys.argv[1], sys.argv[2]) < 8 and mad(sys.argv[3], sys.argv[4]) < 8 else "turned")' \
    "$WORK/rref.gray" "$WORK/rgot.gray" "$WORK/rref5.gray" "$WORK/rt.gray")
assert_eq "$up" "upright" "rotated source: pictures turned as ffmpeg turns them"

# ---- bad input: one line naming the file, nothing left ----
run "$VIDPIPE" proxy "$audioonly" -o "$WORK/ao.mp4" --thumb "$WORK/ao.jpg"
assert_eq "$RC" 2 "audio-only exit"
assert_eq "$ERR" "vidpipe: $audioonly: has no video stream" "audio-only message"
printf 'not a video\n' > "$WORK/text.mp4"
run "$VIDPIPE" proxy "$WORK/text.mp4" -o "$WORK/tx.mp4"
assert_eq "$RC" 2 "unreadable exit"
assert_eq "$ERR" "vidpipe: $WORK/text.mp4: not a media file (no known container format)" \
    "unreadable message"
run "$VIDPIPE" proxy "$WORK/missing.mp4" -o "$WORK/mi.mp4"
assert_eq "$ERR" "vidpipe: $WORK/missing.mp4: no such file or directory" "missing message"
left=$(ls -A "$WORK" | grep -E '^(ao|tx|mi)\.|vptmp' || true)
assert_eq "$left" "" "nothing left behind after failures"

# A corrupt stretch: carried past, and said so.
corrupt_stretch "$src" "$WORK/corrupt.mp4" 3.0 3.5
run "$VIDPIPE" proxy "$WORK/corrupt.mp4" -o "$WORK/c.mp4" --height 120
assert_eq "$RC" 0 "corrupt input: proxy still made"
assert_contains "$ERR" "decode error" "corrupt input: warning"
assert_contains "$ERR" "$WORK/corrupt.mp4" "corrupt input: warning names the file"
n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$WORK/c.mp4")
assert_eq "$n" 60 "corrupt input: proxy has every frame"

# ---- folders, batch, skipping complete outputs ----
mkdir -p "$WORK/in"
cp "$src" "$WORK/in/a.mp4"
cp "$noaudio" "$WORK/in/b.mov"
echo junk > "$WORK/in/notes.txt"
run "$VIDPIPE" proxy "$WORK/in" -o "$WORK/out" --thumb "$WORK/thumbs" --height 120 -j 2
assert_eq "$RC" 0 "folder exit"
got=$(cd "$WORK/out" && ls | tr '\n' ' ')
assert_eq "$got" "a.mp4 b.mp4 " "one proxy per input"
got=$(cd "$WORK/thumbs" && ls | tr '\n' ' ')
assert_eq "$got" "a.jpg b.jpg " "one thumbnail per input"
m1=$(stat -c %Y.%s "$WORK/out/a.mp4")
sleep 1
# The same settings again (-j does not shape an output): complete outputs are skipped, each
# with a line. Without --thumb the settings differ and they would be redone (cli_overwrite.sh).
run "$VIDPIPE" proxy "$WORK/in" -o "$WORK/out" --thumb "$WORK/thumbs" --height 120 --json
assert_eq "$RC" 0 "second run exit"
st=$(echo "$OUT" | python3 -c 'import json,sys; print(" ".join(i["status"] for i in json.load(sys.stdin)["items"]))')
assert_eq "$st" "skipped skipped" "complete outputs are skipped"
assert_eq "$(stat -c %Y.%s "$WORK/out/a.mp4")" "$m1" "skipped output untouched"
assert_contains "$ERR" \
    "proxy: $WORK/out/a.mp4 exists, made from the same inputs and settings: skipped" \
    "skipped output: said"
# One bad file in a folder: the batch carries on.
cp "$audioonly" "$WORK/in/c.m4a"
run "$VIDPIPE" proxy "$WORK/in" -o "$WORK/out" --thumb "$WORK/thumbs" --height 120
assert_eq "$RC" 2 "batch with a bad file exits 2"
assert_eq "$(echo "$ERR" | grep -v 'skipped (-y redoes it)$')" \
    "vidpipe: $WORK/in/c.m4a: has no video stream" "batch: one line for the bad file"
left=$(ls -A "$WORK/out" | tr '\n' ' ')
assert_eq "$left" "a.mp4 b.mp4 " "batch: nothing half-written"
# The batch runner's per-item report.
run "$VIDPIPE" proxy "$WORK/in" -o "$WORK/out" --thumb "$WORK/thumbs" --height 120 \
    --report "$WORK/rep.jsonl"
rep=$(python3 -c '
import json, sys
print(" ".join("%s:%s" % (r["item"].split("/")[-1], r["status"]) for r in map(json.loads, open(sys.argv[1]))))' "$WORK/rep.jsonl")
assert_eq "$rep" "a.mp4:skipped b.mov:skipped c.m4a:failed" "per-item report"

# A kill leaves no output that looks done; the next run replaces the temporary file.
long=$(media tb_defects.mp4 -f lavfi -i "testsrc2=s=320x240:r=30:d=7.5,drawbox=c=black:t=fill:enable='between(t,2,4.5)',loop=loop=75:size=1:start=180,setpts=N/30/TB" \
      -f lavfi -i "sine=f=440:d=10,volume=volume=0:enable='between(t,1,3.5)'" \
      -c:v libx264 -preset fast -pix_fmt yuv420p -c:a aac -b:a 96k)
mkdir -p "$WORK/kill"
"$VIDPIPE" proxy "$long" -o "$WORK/kill/k.mp4" --thumb "$WORK/kill/k.jpg" --preset veryslow \
    --fps 30 2>/dev/null &
pid=$!
sleep 0.5
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
check
[ ! -e "$WORK/kill/k.mp4" ] && [ ! -e "$WORK/kill/k.jpg" ] || fail "killed run left a final output"
run "$VIDPIPE" proxy "$long" -o "$WORK/kill/k.mp4" --thumb "$WORK/kill/k.jpg" --height 120
assert_eq "$RC" 0 "run after a kill"
assert_eq "$(ls -A "$WORK/kill" | tr '\n' ' ')" "k.jpg k.mp4 " "after a kill and a rerun: the outputs, no temporary file"

# An output that cannot be created.
run "$VIDPIPE" proxy "$src" -o "$WORK/nodir/p.mp4" --height 120
assert_eq "$RC" 4 "unwritable output exit"
assert_contains "$ERR" "$WORK/nodir/p.mp4" "unwritable output named"

# ---- --hw: the encoder family, from the options table ----
# none (the default) is libx264; auto falls back to it, saying why with -v; a family that is
# not there fails naming the output, in one line, and leaves nothing.
run "$VIDPIPE" -v proxy "$src" -o "$WORK/hw_auto.mp4" --height 120 --hw auto
assert_eq "$RC" 0 "--hw auto: exit code"
assert_contains "$ERR" "hw_auto.mp4: encoder libx264 (not used: h264_nvenc: " "--hw auto: says why"
assert_eq "$(ffprobe -v error -select_streams v -show_entries stream=codec_name,height \
    -of csv=p=0 "$WORK/hw_auto.mp4")" "h264,120" "--hw auto: the proxy"
if [ ! -e /dev/nvidia0 ]; then
    run "$VIDPIPE" proxy "$src" -o "$WORK/hw_nv.mp4" --thumb "$WORK/hw_nv.jpg" --hw nvenc
    assert_eq "$RC" 4 "--hw nvenc: exit code (the output's fault)"
    assert_eq "$ERR" "vidpipe: $WORK/hw_nv.mp4: hardware encoder nvenc unavailable: no NVIDIA \
driver (libcuda.so.1 cannot be loaded)" "--hw nvenc: one line naming the output"
    assert_eq "$(ls -A "$WORK" | grep -c hw_nv)" 0 "--hw nvenc: nothing left"
fi
run "$VIDPIPE" proxy "$src" -o "$WORK/hw_bad.mp4" --hw warp
assert_eq "$RC|$ERR" "3|vidpipe: proxy: --hw: 'warp' is not one of auto, none, nvenc, vaapi, qsv, \
videotoolbox" "--hw warp: the table's message"
assert_contains "$("$VIDPIPE" proxy --help)" "--hw NAME" "--hw in --help"

finish
