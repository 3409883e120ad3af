#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe subtitles: convert and shift through the CLI (exact files), a malformed file named
# with its line, the overwrite rule, and soft subtitles muxed into MP4 and Matroska, read
# back by ffprobe (codec, language, default track) and ffmpeg (the track as SRT: the same
# cues), with the video and audio packets identical to the input's.
. "$VP_SRCDIR/tests/cli/lib.sh"

cd "$WORK" || exit 1
clip=$(toolbox_av)

printf '1\r\n00:00:00,500 --> 00:00:01,750\r\nHello <i>there</i>\r\n\r\n2\r\n00:00:02,000 --> 00:00:03,250\r\nTwo lines,\r\nsecond & last\r\n\r\n3\r\n00:00:04,010 --> 00:00:05,990\r\nThe end' > en.srt
cat > fr.vtt <<'E'
WEBVTT
Language: fr

NOTE made by hand

00:01.000 --> 00:02.000 align:start
Bonjour <b>tout</b> le monde

00:03.000 --> 00:04.500
Au revoir
E

# ---- convert -------------------------------------------------------------------------
run "$VIDPIPE" subtitles convert en.srt -o en.vtt
assert_eq "$RC" 0 "convert to vtt: exit"
assert_eq "$OUT" "en.vtt: 3 cues (srt to vtt)" "convert: summary"
assert_eq "$(cat en.vtt)" "WEBVTT

00:00:00.500 --> 00:00:01.750
Hello <i>there</i>

00:00:02.000 --> 00:00:03.250
Two lines,
second &amp; last

00:00:04.010 --> 00:00:05.990
The end" "convert: the WebVTT written"
run "$VIDPIPE" subtitles convert en.vtt -o en.ass
assert_eq "$RC" 0 "convert to ass: exit"
assert_contains "$(cat en.ass)" 'Dialogue: 0,0:00:00.50,0:00:01.75,Default,,0,0,0,,Hello {\i1}there{\i0}' "convert: ASS italic"
assert_contains "$(cat en.ass)" 'Dialogue: 0,0:00:04.01,0:00:05.99,Default,,0,0,0,,The end' "convert: ASS centiseconds"
run "$VIDPIPE" subtitles convert en.ass -o back.srt --json
assert_eq "$RC" 0 "convert back: exit"
assert_contains "$OUT" '"from": "ass"' "convert --json: from"
assert_contains "$OUT" '"cues": 3' "convert --json: cues"
tr -d '\r' < en.srt > en_lf.srt
printf '\n\n' >> en_lf.srt
check; cmp -s back.srt en_lf.srt || fail "srt -> vtt -> ass -> srt changed the cues: $(diff back.srt en_lf.srt)"

# ---- the overwrite rule --------------------------------------------------------------
run "$VIDPIPE" subtitles convert en.srt -o en.vtt
assert_eq "$RC" 3 "existing output without -y: exit"
assert_eq "$ERR" "vidpipe: en.vtt: already exists (use -y to overwrite)" "existing output: message"
run "$VIDPIPE" subtitles convert en.srt -o en.vtt -n
assert_eq "$RC" 0 "-n: exit"
run "$VIDPIPE" subtitles convert en.srt -o en.vtt -y
assert_eq "$RC" 0 "-y: exit"
run "$VIDPIPE" subtitles convert en.srt -o en.txt
assert_eq "$RC" 3 "unknown output format: exit"
assert_contains "$ERR" "name the output .srt, .vtt or .ass" "unknown output format: message"

# ---- a malformed file ------------------------------------------------------------------
printf '1\n00:00:01,000 --> 00:00:02,000\nfine\n\n2\n00:00:03,000 --> 00:00:01,000\nbad\n' > bad.srt
run "$VIDPIPE" subtitles convert bad.srt -o bad.vtt
assert_eq "$RC" 2 "malformed srt: exit"
assert_eq "$ERR" "vidpipe: bad.srt:6: end time 00:00:01,000 is before start 00:00:03,000" \
    "malformed srt: the line and the reason"
check; [ ! -e bad.vtt ] || fail "malformed srt: an output was left"
run "$VIDPIPE" subtitles convert missing.srt -o x.vtt
assert_eq "$RC" 2 "missing input: exit"

# ---- shift -----------------------------------------------------------------------------
run "$VIDPIPE" subtitles shift en.srt -o late.srt --by 1.5
assert_eq "$RC" 0 "shift --by: exit"
assert_eq "$(grep -- '-->' late.srt | tr '\n' ' ')" "00:00:02,000 --> 00:00:03,250 00:00:03,500 --> 00:00:04,750 00:00:05,510 --> 00:00:07,490 " "shift --by 1.5"
run "$VIDPIPE" subtitles shift en.srt -o early.vtt --by -2.5
assert_eq "$RC" 0 "shift --by -2.5: exit"
assert_contains "$ERR" "en.srt: 1 cue ended before 0 and was removed" "shift: the removed cue said"
assert_eq "$(grep -- '-->' early.vtt | tr '\n' ' ')" "00:00:00.000 --> 00:00:00.750 00:00:01.510 --> 00:00:03.490 " "shift --by -2.5 (clamped at 0)"
run "$VIDPIPE" subtitles shift en.srt -o slow.srt --stretch 2 --by 00:01.000
assert_eq "$RC" 0 "shift --stretch --by: exit"
assert_eq "$(grep -- '-->' slow.srt | head -1)" "00:00:02,000 --> 00:00:04,500" "stretch 2 then +1 s"
run "$VIDPIPE" subtitles shift en.srt -o mapped.srt --map 0.5=1,4.01=8.02
assert_eq "$RC" 0 "shift --map: exit"
# t' = 1000 + (t - 500) * 2
assert_eq "$(grep -- '-->' mapped.srt | tr '\n' ' ')" "00:00:01,000 --> 00:00:03,500 00:00:04,000 --> 00:00:06,500 00:00:08,020 --> 00:00:11,980 " "shift --map"
run "$VIDPIPE" subtitles shift en.srt -o m2.srt --map 1=2,1=3
assert_eq "$RC" 3 "shift --map with one time twice: exit"
run "$VIDPIPE" subtitles shift en.srt -o m3.srt
assert_eq "$RC" 3 "shift without an amount: exit"

# ---- mux: MP4 --------------------------------------------------------------------------
run "$VIDPIPE" subtitles mux "$clip" en.srt fr.vtt -o out.mp4 --lang eng,fra
assert_eq "$RC" 0 "mux mp4: exit ($ERR)"
probe() { # FILE: one line per subtitle stream: codec language default
    ffprobe -v error -select_streams s -show_entries \
        stream=codec_name:stream_tags=language:stream_disposition=default \
        -of csv=p=0 "$1" | tr '\n' ' '
}
assert_eq "$(probe out.mp4)" "mov_text,1,eng mov_text,0,fra " "mux mp4: codecs, default, languages"
# (ffmpeg's SRT encoder ends the lines inside a cue with CRLF)
extract() { ffmpeg -nostdin -v error -i "$1" -map "0:s:$2" -f srt - | tr -d '\r' > "$3"; }
extract out.mp4 0 x_en.srt
extract out.mp4 1 x_fr.srt
check; cmp -s x_en.srt en_lf.srt || fail "mux mp4: track 1 as SRT differs: $(diff x_en.srt en_lf.srt)"
"$VIDPIPE" subtitles convert fr.vtt -o fr.srt -y >/dev/null
check; cmp -s x_fr.srt fr.srt || fail "mux mp4: track 2 as SRT differs: $(diff x_fr.srt fr.srt)"
packets() { ffmpeg -nostdin -v error -i "$1" -map 0:v -map 0:a -c copy -f framemd5 - | grep -v '^#'; }
packets "$clip" > in.md5
packets out.mp4 > mp4.md5
check; [ -s in.md5 ] && cmp -s in.md5 mp4.md5 || fail "mux mp4: video/audio packets differ from the input's"

# ---- mux: Matroska, SRT and ASS tracks --------------------------------------------------
run "$VIDPIPE" subtitles mux "$clip" en.ass fr.vtt -o out.mkv --lang eng,fra --json
assert_eq "$RC" 0 "mux mkv: exit ($ERR)"
assert_contains "$OUT" '"language": "fra"' "mux --json: languages"
assert_eq "$(probe out.mkv)" "ass,1,eng subrip,0,fra " "mux mkv: codecs, default, languages"
packets out.mkv > mkv.md5
# Matroska cannot hold times below 0: the AAC priming of the input (its first audio packet
# at -23 ms) moves every track, subtitles included, that much later, as `ffmpeg -c copy`
# does; the cues stay where they were against the video.
vstart() { ffprobe -v error -select_streams v:0 -show_entries stream=start_time -of csv=p=0 "$1"; }
off=$(awk -v a="$(vstart out.mkv)" -v b="$(vstart "$clip")" 'BEGIN { printf "%.3f", a - b }')
"$VIDPIPE" subtitles shift en_lf.srt --by "$off" -o k_en_expect.srt >/dev/null
"$VIDPIPE" subtitles shift fr.srt --by "$off" -o k_fr_expect.srt >/dev/null
extract out.mkv 0 k_en.srt
extract out.mkv 1 k_fr.srt
check; cmp -s k_en.srt k_en_expect.srt || fail "mux mkv: ASS track as SRT differs (offset $off): $(diff k_en.srt k_en_expect.srt)"
check; cmp -s k_fr.srt k_fr_expect.srt || fail "mux mkv: SRT track differs (offset $off): $(diff k_fr.srt k_fr_expect.srt)"
# Matroska counts milliseconds and interleaves on its own: each stream's packets' bytes, in
# order, not their stamps, are compared
bytes() { awk -F', *' '{ print $1, $5, $6 }' "$1" | sort -s -k1,1; }
bytes in.md5 > in.bytes
bytes mkv.md5 > mkv.bytes
check; [ -s in.bytes ] && cmp -s in.bytes mkv.bytes || fail "mux mkv: video/audio packets differ from the input's"

# ---- mux: refusals ------------------------------------------------------------------------
run "$VIDPIPE" subtitles mux "$clip" en.srt -o out.mp4
assert_eq "$RC" 3 "mux over an existing output: exit"
assert_contains "$ERR" "out.mp4: already exists" "mux over an existing output: message"
run "$VIDPIPE" subtitles mux "$clip" bad.srt -o bad.mkv
assert_eq "$RC" 2 "mux a malformed srt: exit"
assert_eq "$ERR" "vidpipe: bad.srt:6: end time 00:00:01,000 is before start 00:00:03,000" \
    "mux a malformed srt: the line"
run "$VIDPIPE" subtitles mux "$clip" en.srt -o l.mkv --lang english
assert_eq "$RC" 3 "mux a bad language: exit"
assert_contains "$ERR" "is not three letters of ISO 639-2" "mux a bad language: message"
run "$VIDPIPE" subtitles mux "$clip" en.srt fr.vtt -o l.mkv --lang eng
assert_eq "$RC" 3 "mux fewer languages than files: exit"
run "$VIDPIPE" subtitles mux en.srt en.srt -o notmedia.mkv
assert_eq "$RC" 2 "mux a subtitle file as the video: exit"
assert_eq "$ERR" "vidpipe: en.srt: has no audio or video streams" "mux a subtitle file as the video: message"
run "$VIDPIPE" subtitles mux "$clip" en.srt -o out.webm
assert_eq "$RC" 3 "mux into webm: exit"
check; [ -z "$(ls -A | grep vptmp)" ] || fail "a temporary file was left: $(ls -A)"

run "$VIDPIPE" subtitles frobnicate
assert_eq "$RC" 3 "unknown subcommand: exit"
run "$VIDPIPE" subtitles --help
assert_contains "$OUT" "  convert " "subtitles --help lists convert"
finish
