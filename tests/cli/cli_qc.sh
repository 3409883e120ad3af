#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe qc: planted black, silent, frozen and corrupt stretches found at the right times,
# loudness as ffmpeg's ebur128 measures it, the spec, exit codes, the HTML report.
. "$VP_SRCDIR/tests/cli/lib.sh"

clean=$(toolbox_av)
# 0-2 s moving, 2-4.5 s black, 6-8.5 s one frame held, audio silent 1-3.5 s.
defects=$(media tb_defects.mp4 -f lavfi -i "testsrc2=s=320x240:r=30:d=7.5,drawbox=c=black:t=fill:enable='between(t,2,4.5)',loop=loop=75:size=1:start=180,setpts=N/30/TB" \
      -f lavfi -i "sine=f=440:d=10,volume=volume=0:enable='between(t,1,3.5)'" \
      -c:v libx264 -preset fast -pix_fmt yuv420p -c:a aac -b:a 96k)
audioonly=$(toolbox_audio)
# Loud audio: peaks at full scale.
loud=$(media tb_loud.mp4 -f lavfi -i testsrc2=s=320x240:r=30:d=3 \
      -f lavfi -i "sine=f=440:d=3,volume=8" -c:v libx264 -preset fast -pix_fmt yuv420p \
      -c:a pcm_s16le -f mov)

# ---- a clean file passes ----
run "$VIDPIPE" qc "$clean"
assert_eq "$RC" 0 "clean file exit"
assert_contains "$OUT" "$clean: PASS" "clean file verdict"

# ---- planted defects, found where they were planted ----
run "$VIDPIPE" qc "$defects" --json
assert_eq "$RC" 1 "defects exit"
res=$(echo "$OUT" | python3 -c '
import json, sys
f = json.load(sys.stdin)["items"][0]
def one(k):
    v = f[k]
    return "%d:%.2f-%.2f" % (len(v), v[0]["start"], v[0]["end"]) if v else "0"
failed = sorted(c["name"] for c in f["checks"] if c["verdict"] == "fail")
print(one("black"), one("silence"), one("freeze"), ",".join(failed))')
set -- $res
assert_near "$(echo "$1" | sed 's/^1:\([^-]*\)-.*/\1/')" 2.0 0.05 "black starts at 2 s"
assert_near "$(echo "$1" | sed 's/^1:[^-]*-//')" 4.5 0.1 "black ends at 4.5 s"
assert_near "$(echo "$2" | sed 's/^1:\([^-]*\)-.*/\1/')" 1.0 0.1 "silence starts at 1 s"
assert_near "$(echo "$2" | sed 's/^1:[^-]*-//')" 3.5 0.1 "silence ends at 3.5 s"
assert_near "$(echo "$3" | sed 's/^1:\([^-]*\)-.*/\1/')" 6.0 0.1 "freeze starts at 6 s"
assert_near "$(echo "$3" | sed 's/^1:[^-]*-//')" 8.5 0.1 "freeze ends at 8.5 s"
assert_eq "$4" "black,freeze,silence" "the failed checks"
# Failed checks come first in the text report.
run "$VIDPIPE" qc "$defects"
first=$(echo "$OUT" | sed -n 2,4p | awk '{ print $1 }' | tr '\n' ' ')
assert_eq "$first" "fail fail fail " "failed checks first"
assert_contains "$OUT" "2.00-4.53 s" "black stretch listed"

# A looser spec: the same file passes; the defaults are overridden field by field.
printf '{"max_black": 3, "max_silence": 3, "max_freeze": 3}\n' > "$WORK/loose.json"
run "$VIDPIPE" qc "$defects" --spec "$WORK/loose.json"
assert_eq "$RC" 0 "loose spec passes"
printf '{"width": 1920, "height": 1080}\n' > "$WORK/hd.json"
run "$VIDPIPE" qc "$clean" --spec "$WORK/hd.json"
assert_eq "$RC" 1 "resolution spec fails"
assert_contains "$OUT" "320x240, the spec requires 1920x1080" "resolution message"
printf '{"max_black": "long"}\n' > "$WORK/bad.json"
run "$VIDPIPE" qc "$clean" --spec "$WORK/bad.json"
assert_eq "$RC" 3 "bad spec exit"
assert_eq "$ERR" "vidpipe: $WORK/bad.json: QC spec: max_black: the value must be a number" \
    "bad spec message"
printf '{"max_blak": 1}\n' > "$WORK/bad2.json"
run "$VIDPIPE" qc "$clean" --spec "$WORK/bad2.json"
assert_eq "$ERR" "vidpipe: $WORK/bad2.json: QC spec: unknown option max_blak" "unknown spec field"
# The cross-field rules hold for a spec file as for a spec string (one path reads both).
printf '{"min_duration": 10, "max_duration": 2}\n' > "$WORK/bad3.json"
run "$VIDPIPE" qc "$clean" --spec "$WORK/bad3.json"
assert_eq "$RC" 3 "spec file with max_duration < min_duration: exit"
assert_eq "$ERR" "vidpipe: $WORK/bad3.json: QC spec: max_duration: value 2 is below min_duration (10)" \
    "spec file with max_duration < min_duration: message"

# ---- loudness and peaks, measured independently with ffmpeg's ebur128 ----
run "$VIDPIPE" qc "$clean" --json
got=$(echo "$OUT" | python3 -c 'import json,sys; m=json.load(sys.stdin)["items"][0]["measurements"]; print(m["integrated_lufs"], m["loudness_range_lu"], m["true_peak_dbtp"])')
ref=$(ffmpeg -nostdin -i "$clean" -vn -af ebur128=peak=true -f null - 2>&1 | python3 -c '
import re, sys
t = sys.stdin.read().split("Summary:")[-1]
i = re.search(r"I:\s+(-?[\d.]+) LUFS", t).group(1)
lra = re.search(r"LRA:\s+(-?[\d.]+) LU", t).group(1)
tp = re.search(r"Peak:\s+(-?[\d.]+) dBFS", t).group(1)
print(i, lra, tp)')
set -- $got
g_i=$1 g_lra=$2 g_tp=$3
set -- $ref
assert_near "$g_i" "$1" 0.2 "integrated loudness vs ffmpeg ebur128"
assert_near "$g_lra" "$2" 0.5 "loudness range vs ffmpeg ebur128"
assert_near "$g_tp" "$3" 0.2 "true peak vs ffmpeg ebur128"
run "$VIDPIPE" qc "$loud"
assert_eq "$RC" 1 "clipping audio fails"
assert_contains "$OUT" "fail  sample_peak" "sample peak fails"
assert_contains "$OUT" "fail  true_peak" "true peak fails"

# ---- a corrupt stretch: reported with its position, and QC carries on ----
corrupt_stretch "$clean" "$WORK/corrupt.mp4" 3.0 3.5
run "$VIDPIPE" qc "$WORK/corrupt.mp4" --json
assert_eq "$RC" 1 "corrupt exit"
c=$(echo "$OUT" | python3 -c '
import json, sys
f = json.load(sys.stdin)["items"][0]
c = f["corrupt"]
ok = len(c) == 1 and c[0]["start"] >= 2.8 and c[0]["start"] <= 3.1 and c[0]["end"] >= 3.4 and c[0]["end"] <= 3.8
fail = [x["name"] for x in f["checks"] if x["verdict"] == "fail"]
print(ok, f["measurements"]["decode_errors"] > 0, ",".join(fail), round(f["measurements"]["video_duration"]))')
assert_eq "$c" "True True integrity 6" "corrupt stretch at 3.0-3.5 s, decoding carried on"

# ---- bad input: one line, exit 2; several files: each judged ----
# Audio alone (a podcast, a dub) is checked, not refused for having no picture: the audio's
# checks judged, the picture's not applicable.
wav=$(media qc_tone.wav -f lavfi -i sine=f=440:d=2)
for a in "$audioonly" "$wav"; do
    run "$VIDPIPE" qc "$a" --json --html "$WORK/a.html"
    assert_eq "$RC" 0 "audio-only $a exit"
    c=$(echo "$OUT" | python3 -c '
import json, sys
f = json.load(sys.stdin)["items"][0]
v = {x["name"]: x["verdict"] for x in f["checks"]}
m = f["measurements"]
print(f["status"], v["resolution"], v["black"], v["freeze"], v["audio"], v["loudness"],
      m["width"], round(m["audio_duration"]), m["integrated_lufs"] < -10)')
    assert_eq "$c" "pass n/a n/a n/a pass pass None 2 True" "audio-only $a checks"
    assert_eq "$ERR" "" "audio-only $a: nothing on stderr"
    check
    [ -s "$WORK/a.html" ] || fail "audio-only $a: no HTML report"
    rm -f "$WORK/a.html"
done
printf '{"width": 1920, "height": 1080}' > "$WORK/hd.json"
run "$VIDPIPE" qc "$audioonly" --spec "$WORK/hd.json"
assert_eq "$RC" 1 "audio-only against a spec with a size fails"
assert_contains "$OUT" "fail  resolution      no video stream (the spec requires a picture size)" \
    "audio-only: the size the spec requires"
printf 'garbage' > "$WORK/g.mov"
run "$VIDPIPE" qc "$WORK/g.mov" "$clean"
assert_eq "$RC" 2 "unreadable among several exit"
assert_eq "$ERR" "vidpipe: $WORK/g.mov: not a media file (no known container format)" "unreadable message"
assert_contains "$OUT" "$clean: PASS" "the readable file is still judged"
run "$VIDPIPE" qc "$clean" "$defects" -j 2
assert_eq "$RC" 1 "one failing file among two"

# ---- a folder: the report ends with a summary, the files that did not pass first ----
mkdir -p "$WORK/folder"
cp "$clean" "$WORK/folder/a.mp4"
cp "$defects" "$WORK/folder/b.mp4"
printf 'garbage' > "$WORK/folder/c.mov"
run "$VIDPIPE" qc "$WORK/folder"
assert_eq "$RC" 2 "folder with an unreadable file: exit"
tail=$(echo "$OUT" | tail -3)
assert_eq "$tail" "qc summary: 3 files: 1 passed, 1 failed, 1 unreadable
  FAIL        $WORK/folder/b.mp4: black, silence, freeze
  UNREADABLE  $WORK/folder/c.mov: not a media file (no known container format)" \
    "folder summary, failures first"
run "$VIDPIPE" qc "$WORK/folder" --json
s=$(echo "$OUT" | python3 -c 'import json,sys; s=json.load(sys.stdin)["summary"]; print(s["total"], s["passed"], s["failed"], s["unreadable"])')
assert_eq "$s" "3 1 1 1" "folder summary in --json"
run "$VIDPIPE" qc "$clean"
assert_not_contains "$OUT" "qc summary" "one file: no summary"
# --report: a line per file with what its checks found ("folder/" as the shell completes it)
run "$VIDPIPE" qc "$WORK/folder/" --report "$WORK/qc.jsonl"
assert_eq "$(python3 -c '
import json, sys
for l in sorted(open(sys.argv[1]), key=lambda l: json.loads(l)["item"]):
    d = json.loads(l); q = d.get("qc")
    print(d["item"].rsplit("/", 2)[-2:], d["status"],
          q and q["verdict"], q and ",".join(f["check"] for f in q["failed"]))' "$WORK/qc.jsonl" | tr '\n' ';')" \
    "['folder', 'a.mp4'] done pass ;['folder', 'b.mp4'] done fail black,silence,freeze;['folder', 'c.mov'] failed None None;" \
    "--report: each file's checks"
check; ! grep -q '//' "$WORK/qc.jsonl" || fail "--report: 'folder//' in the items"

# ---- the HTML report ----
run "$VIDPIPE" qc "$defects" --html "$WORK/r.html"
assert_eq "$RC" 1 "html run exit"
html=$(cat "$WORK/r.html")
assert_contains "$html" "FAIL</div> 3 of 12 checks failed" "html verdict"
assert_contains "$html" "<polyline" "html loudness plot"
assert_contains "$html" "data:image/jpeg;base64,/9j/" "html thumbnails"
assert_contains "$html" "black 2.00-4.53 s" "html timeline"
first=$(grep -o '<td class="[a-zA-Z]*">[a-zA-Z/]*</td><td>[a-z_]*' "$WORK/r.html" | head -1)
assert_contains "$first" "FAIL" "html: failed checks first"
assert_eq "$(ls -A "$WORK" | grep -c vptmp)" 0 "no temporary files left"
assert_eq "$(stat -c %a "$WORK/r.html")" "$(printf '%o' $((0666 & ~$(umask))))" "report mode follows the umask"

finish
