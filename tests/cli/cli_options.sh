#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Options that map to a library struct are read by the library's option tables: encode-raw's
# --rate and proxy's --fps accept the same spellings of a frame rate and refuse the same bad
# ones with the same words; ranges and defaults in --help are the tables'.
. "$VP_SRCDIR/tests/cli/lib.sh"

raw=$(media writer_64x48_bgr24.raw -f lavfi -i testsrc2=s=64x48:r=25 -frames:v 12 \
      -pix_fmt bgr24 -f rawvideo)
src=$(toolbox_video)
rate_of() { ffprobe -v error -select_streams v -show_entries stream=r_frame_rate -of csv=p=0 "$1"; }

for spelling in 29.97 30000/1001 ntsc; do
    name=$(echo "$spelling" | tr / _)
    run "$VIDPIPE" encode-raw -s 64x48 -r "$spelling" -i "$raw" --preset ultrafast \
        "$WORK/raw_$name.mp4"
    assert_eq "$RC" 0 "encode-raw -r $spelling: exit code"
    assert_eq "$(rate_of "$WORK/raw_$name.mp4")" "30000/1001" "encode-raw -r $spelling: rate"
    run "$VIDPIPE" proxy --fps "$spelling" --preset ultrafast -o "$WORK/proxy_$name.mp4" "$src"
    assert_eq "$RC" 0 "proxy --fps $spelling: exit code"
    assert_eq "$(rate_of "$WORK/proxy_$name.mp4")" "30000/1001" "proxy --fps $spelling: rate"
done

for bad in 30x abc 0 -5 30/0; do
    run "$VIDPIPE" encode-raw -s 64x48 -r "$bad" -i "$raw" "$WORK/bad.mp4"
    assert_eq "$RC" 3 "encode-raw -r $bad: exit code"
    raw_err=${ERR#"vidpipe: encode-raw: --rate: "}
    assert_eq "$raw_err" "'$bad' is not a frame rate (30, 29.97, 30000/1001, ntsc)" \
        "encode-raw -r $bad: message"
    run "$VIDPIPE" proxy --fps "$bad" -o "$WORK/bad.mp4" "$src"
    assert_eq "$RC" 3 "proxy --fps $bad: exit code"
    assert_eq "${ERR#"vidpipe: proxy: --fps: "}" "$raw_err" "proxy --fps $bad: same message"
done
assert_eq "$(ls "$WORK" | grep -c '^bad')" 0 "refused rates: nothing written"

# A rate in the syntax but out of the proxy's range: the one range message.
run "$VIDPIPE" proxy --fps 300 -o "$WORK/bad.mp4" "$src"
assert_eq "$RC" 3 "proxy --fps 300: exit code"
assert_eq "$ERR" "vidpipe: proxy: --fps: value 300/1 is out of range 0.001..240 frames/s" \
    "proxy --fps 300: message"
run "$VIDPIPE" encode-raw -s 64x48 --crf 52 -i "$raw" "$WORK/bad.mp4"
assert_eq "$ERR" "vidpipe: encode-raw: --crf: value 52 is out of range 0..51" "crf 52: message"

run "$VIDPIPE" loudnorm --i -80 -o "$WORK/bad.mp4" "$src"
assert_eq "$RC" 3 "loudnorm --i -80: exit code"
assert_eq "$ERR" "vidpipe: loudnorm: --i: value -80 is out of range -70..-5" \
    "loudnorm --i -80: message"

run "$VIDPIPE" cleanup --eq 0,9,1 -o "$WORK/bad.mp4" "$src"
assert_eq "$RC" 3 "cleanup --eq 0,9,1: exit code"
assert_eq "$ERR" "vidpipe: cleanup: --eq 0,9,1: contrast: value 9 is out of range 0..4" \
    "cleanup --eq 0,9,1: message"

run "$VIDPIPE" thumb --quality 40 -o "$WORK/bad.jpg" "$src"
assert_eq "$ERR" "vidpipe: thumb: --quality: value 40 is out of range 1..31" "thumb -q 40: message"
run "$VIDPIPE" replace-audio --audio-bitrate 1k -o "$WORK/bad.mp4" "$src" "$src"
bitrate_err="value 1000 is out of range 8000..512000"
assert_eq "$ERR" "vidpipe: replace-audio: --audio-bitrate: $bitrate_err" \
    "replace-audio --audio-bitrate 1k: message"

# --help shows the table's range and default.
run "$VIDPIPE" encode-raw --help
assert_contains "$OUT" "(0..51, default 23)" "encode-raw --help: crf range and default"
run "$VIDPIPE" proxy --help
assert_contains "$OUT" "(0..51, default 28)" "proxy --help: crf range and default"
run "$VIDPIPE" loudnorm --help
assert_contains "$OUT" "(-70..-5, default -16)" "loudnorm --help: --i range and default"
run "$VIDPIPE" cleanup --help
# The table's values, given as an example: --eq has no default (without it, no eq).
assert_contains "$OUT" "saturation: no default, e.g. 0.05,1.1,1.1" "cleanup --help: eq example"

# -j and --retries of every command come from the batch runner's table: one range, in the
# tables' form; the default is the table's, or the command's own (one input at a time for
# the toolbox, whose inputs are each decoded on every core).
range_of() {  # CMD OPTION: "(RANGE, default X)" of its --help line
    "$VIDPIPE" $1 --help | sed -n "s/^ *\(-., \)\{0,1\}--$2 [A-Z]* .*(\([^()]*, default [^()]*\))\$/\2/p"
}
assert_eq "$(range_of batch jobs)" "0..256, default 0" "batch -j: the table's"
assert_eq "$(range_of batch retries)" "0..100, default 2" "batch --retries: the table's"
for cmd in probe check; do
    assert_eq "$(range_of $cmd jobs)" "0..256, default 0" "$cmd -j: the batch table's"
done
for cmd in proxy thumb export qc loudnorm replace-audio cleanup; do
    assert_eq "$(range_of $cmd jobs)" "0..256, default 1" "$cmd -j: the batch table's range"
    assert_eq "$(range_of $cmd retries)" "0..100, default 2" "$cmd --retries: the table's"
done
run "$VIDPIPE" qc --retries 101 "$src"
assert_eq "$RC|$ERR" "3|vidpipe: qc: --retries: value 101 is out of range 0..100" \
    "qc --retries 101: the table's message"
run "$VIDPIPE" check -j -1 "$src"
assert_eq "$RC|$ERR" "3|vidpipe: check: --jobs: value -1 is out of range 0..256" \
    "check -j -1: the table's message"

finish
