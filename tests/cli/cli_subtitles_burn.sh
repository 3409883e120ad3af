#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe subtitles burn: captions drawn into the picture, seen in the decoded frames (the
# caption's area differs from the source during the cue, nothing else does, nor any frame
# outside the cue), from SRT, WebVTT and ASS (whose own style places it at the top);
# --style Fontsize makes the caption taller; audio packets identical to the source's; a
# malformed SRT named with its line before any work, nothing left; a bad style key; a
# missing font said once; the overwrite rule; Ctrl-C leaves nothing.
. "$VP_SRCDIR/tests/cli/lib.sh"

# The Debian python3 has numpy (python3-numpy, scripts/install-deps.sh).
PY=/usr/bin/python3
"$PY" -c "import numpy" 2>/dev/null || { echo "skipped: no numpy for $PY"; exit 77; }
cd "$WORK" || exit 1
mkdir tmp
TMPDIR=$WORK/tmp
export TMPDIR
# A flat picture: whatever differs after the encode is the caption, not codec noise.
src=$(media burn_flat.mp4 -f lavfi -i color=c=0x3060a0:s=320x240:r=25:d=3 \
      -f lavfi -i sine=f=440:d=3 -c:v libx264 -preset fast -pix_fmt yuv420p -c:a aac -b:a 96k)
regions() { "$PY" "$VP_SRCDIR/tests/cli/burn_regions.py" "$src" "$@"; }
field() { # LINE WORD: the value after WORD
    echo "$1" | awk -v w="$2" '{ for (i = 1; i < NF; i++) if ($i == w) { print $(i + 1); exit } }'
}
# FRAME_LINE: the caption is at the bottom, the top is untouched
caption_at_bottom() { # line what
    top_mad=$(field "$1" top); top_px=$(echo "$1" | awk '{ print $5 }')
    bot_px=$(echo "$1" | awk '{ print $8 }')
    check; awk -v m="$top_mad" 'BEGIN { exit !(m < 1.0) }' || fail "$2: top half changed: $1"
    assert_eq "$top_px" 0 "$2: pixels changed in the top half"
    check; [ "$bot_px" -gt 150 ] || fail "$2: no caption in the bottom half: $1"
}
untouched() { # line what
    check; echo "$1" | awk '{ exit !($4 < 1.0 && $5 == 0 && $7 < 1.0 && $8 == 0) }' ||
        fail "$2: frame outside the cue changed: $1"
}

# The cue is 1.0-2.0 s: frames 25-49 at 25 fps.
printf '1\n00:00:01,000 --> 00:00:02,000\nHello burned world\n' > cue.srt
printf 'WEBVTT\n\n00:01.000 --> 00:02.000\nHello <b>burned</b> world\n' > cue.vtt
# ASS with its own style: DejaVu Sans 24, Alignment 8 (top centre).
{
    printf '[Script Info]\nScriptType: v4.00+\nPlayResX: 320\nPlayResY: 240\n\n'
    printf '[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, '
    printf 'OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, '
    printf 'Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, '
    printf 'MarginV, Encoding\nStyle: Top,DejaVu Sans,24,&H00FFFFFF,&H00FFFFFF,&H00000000,'
    printf '&H00000000,0,0,0,0,100,100,0,0,1,2,0,8,10,10,10,1\n\n'
    printf '[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, '
    printf 'Effect, Text\nDialogue: 0,0:00:01.00,0:00:02.00,Top,,0,0,0,,Hello from the top\n'
} > cue.ass

# ---- SRT: caption where and when it should be, audio copied --------------------------
run "$VIDPIPE" subtitles burn "$src" cue.srt -o srt.mp4
assert_eq "$RC" 0 "burn srt: exit ($ERR)"
assert_eq "$OUT" "srt.mp4: captions of cue.srt burned in, audio copied" "burn: summary"
r=$(regions srt.mp4 37 10 60 74)
during=$(echo "$r" | sed -n 1p)
caption_at_bottom "$during" "srt, 1.5 s"
untouched "$(echo "$r" | sed -n 2p)" "srt, 0.4 s"
untouched "$(echo "$r" | sed -n 3p)" "srt, 2.4 s"
untouched "$(echo "$r" | sed -n 4p)" "srt, 2.96 s"
rows16=$(field "$during" rows)
assert_eq "$(ffprobe -v error -select_streams v -show_entries stream=codec_name,nb_frames \
             -of csv=p=0 srt.mp4)" "h264,75" "burn: H.264, every frame"
ffmpeg -nostdin -v error -i "$src" -map 0:a -c copy -f framemd5 - > a_src.md5
ffmpeg -nostdin -v error -i srt.mp4 -map 0:a -c copy -f framemd5 - > a_out.md5
check; [ "$(grep -vc '^#' a_src.md5)" -gt 100 ] || fail "no audio packets in the source"
check; cmp -s a_src.md5 a_out.md5 ||
    fail "audio packets changed: $(diff a_src.md5 a_out.md5 | head -5)"

# ---- WebVTT and ASS ------------------------------------------------------------------
run "$VIDPIPE" subtitles burn "$src" cue.vtt -o vtt.mp4
assert_eq "$RC" 0 "burn vtt: exit ($ERR)"
caption_at_bottom "$(regions vtt.mp4 37)" "vtt, 1.5 s"
untouched "$(regions vtt.mp4 60)" "vtt, 2.4 s"
run "$VIDPIPE" subtitles burn "$src" cue.ass -o ass.mp4
assert_eq "$RC" 0 "burn ass: exit ($ERR)"
line=$(regions ass.mp4 37)
# The ASS file's own style (Alignment 8) puts the caption at the top: styles are kept.
check; echo "$line" | awk '{ exit !($5 > 150 && $8 == 0) }' ||
    fail "ass: the caption is not at the top alone: $line"
untouched "$(regions ass.mp4 10)" "ass, 0.4 s"

# ---- --style: a bigger font makes a taller caption -----------------------------------
run "$VIDPIPE" subtitles burn "$src" cue.srt -o big.mp4 --style "FontSize=32,Outline=2"
assert_eq "$RC" 0 "burn --style: exit ($ERR)"
big=$(regions big.mp4 37)
caption_at_bottom "$big" "--style FontSize=32"
h16=$(echo "$rows16" | awk -F- '{ print $2 - $1 + 1 }')
h32=$(field "$big" rows | awk -F- '{ print $2 - $1 + 1 }')
check; [ "$h32" -gt $((h16 * 3 / 2)) ] ||
    fail "FontSize=32 caption is $h32 rows high, the default's $h16: not taller"
run "$VIDPIPE" subtitles burn "$src" cue.srt -o bad_style.mp4 --style "FontSize=32,Glow=3"
assert_eq "$RC" 3 "unknown style key: exit"
assert_eq "$(echo "$ERR" | wc -l)" 1 "unknown style key: one line"
assert_contains "$ERR" "unknown key 'Glow'" "unknown style key: named"
check; [ ! -e bad_style.mp4 ] || fail "bad style left an output"

# ---- a missing font: libass falls back, said once ------------------------------------
run "$VIDPIPE" subtitles burn "$src" cue.srt -o nofont.mp4 --style "Fontname=NoSuchFontVp"
assert_eq "$RC" 0 "missing font: exit"
assert_contains "$ERR" "cue.srt: font 'NoSuchFontVp' is not installed: libass uses" \
    "missing font: said"
assert_eq "$(echo "$ERR" | grep -c font)" 1 "missing font: said once"
caption_at_bottom "$(regions nofont.mp4 37)" "missing font, 1.5 s"
run "$VIDPIPE" subtitles burn "$src" cue.srt -o font.mp4 --style "Fontname=DejaVu Sans"
assert_eq "$ERR" "" "an installed font: nothing said"

# ---- a malformed file: its line, before any work, nothing left -----------------------
printf '1\n00:00:01,000 --> 00:00:02,000\nfine\n\n2\n00:00:03,000 --> 00:00:02,500\nbad\n' > bad.srt
run "$VIDPIPE" subtitles burn "$src" bad.srt -o bad.mp4
assert_eq "$RC" 2 "malformed srt: exit"
assert_eq "$ERR" "vidpipe: bad.srt:6: end time 00:00:02,500 is before start 00:00:03,000" \
    "malformed srt: message"
check; [ ! -e bad.mp4 ] || fail "malformed srt left an output"
run "$VIDPIPE" subtitles burn missing.mp4 cue.srt -o none.mp4
check; [ "$RC" -ne 0 ] && [ ! -e none.mp4 ] || fail "missing input: rc $RC"
assert_contains "$ERR" "missing.mp4" "missing input: named"

run "$VIDPIPE" subtitles burn "$src" cue.srt -o clip.webm
assert_eq "$RC" 3 "webm: exit"
assert_eq "$ERR" "vidpipe: clip.webm: webm cannot hold H.264 video: use .mp4, .mov or .mkv" \
    "webm: refused before the encode, in one line"
check; [ ! -e clip.webm ] || fail "webm left an output"
run "$VIDPIPE" subtitles burn "$src" cue.vtt -o mkv.mkv
assert_eq "$RC" 0 "mkv: exit"
caption_at_bottom "$(regions mkv.mkv 37)" "mkv, 1.5 s"

# ---- the overwrite rule --------------------------------------------------------------
run "$VIDPIPE" subtitles burn "$src" cue.srt -o srt.mp4
assert_eq "$RC" 3 "existing output without -y: exit"
assert_eq "$ERR" "vidpipe: srt.mp4: already exists (use -y to overwrite)" "existing output"
run "$VIDPIPE" subtitles burn "$src" cue.srt -o srt.mp4 -n
assert_eq "$RC" 0 "-n: exit"
run "$VIDPIPE" subtitles burn "$src" cue.srt -o srt.mp4 -y --style Fontsize=32 --json
assert_eq "$RC" 0 "-y: exit"
assert_contains "$OUT" '"command": "subtitles burn"' "--json: command"
assert_contains "$OUT" '"output": "srt.mp4"' "--json: output"
check; cmp -s srt.mp4 big.mp4 && fail "-y did not rewrite the output" || true

# ---- Ctrl-C: nothing left ------------------------------------------------------------
long=$(media burn_long.mp4 -f lavfi -i testsrc2=s=640x480:r=25:d=60 -f lavfi -i sine=d=60 \
       -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac)
sigint_ok "$VIDPIPE" subtitles burn "$long" cue.srt -o int.mp4 --preset veryslow \
    >/dev/null 2>int.err &
pid=$!
sleep 1.5
kill -INT "$pid"
wait "$pid"
rc=$?
check; [ "$rc" -ne 0 ] || fail "SIGINT: exit 0"
check; [ ! -e int.mp4 ] || fail "SIGINT left int.mp4"

# ---- no temporaries anywhere ---------------------------------------------------------
assert_eq "$(ls -A tmp)" "" "temporary files left in TMPDIR"
assert_eq "$(ls -A | grep vptmp)" "" "temporary outputs left"
finish
