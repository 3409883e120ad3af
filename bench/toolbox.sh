#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The toolbox's one-pass engine against the ffmpeg CLI doing the same jobs the way the
# scripts it replaces do (one process per output or per check), on a 60 s 1080p30 H.264+AAC
# source. Each case runs RUNS times (default 3), the cases interleaved so that a noisy
# neighbour hurts them alike; the table shows medians and ratios. The export row comes with
# its floor: libx264's own CPU time for the three outputs divided by the cores, which bounds
# what any tool can reach with the same encoder settings.
#
#   BUILD=build bench/toolbox.sh          (CACHE=dir keeps the generated source; default
#                                          /tmp/vidpipe-bench)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VP=$PWD/$BUILD/tools/vidpipe
RUNS=${RUNS:-3}
CACHE=${CACHE:-/tmp/vidpipe-bench}
ONLY=${ONLY:-proxy,export,qc}
mkdir -p "$CACHE"
SRC=$CACHE/src1080p30_60s.mp4
if [ ! -s "$SRC" ]; then
    echo "generating $SRC (once)..." >&2
    ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=1920x1080:r=30:d=60 \
        -f lavfi -i "sine=f=440:d=60:sample_rate=48000,aformat=channel_layouts=stereo" \
        -c:v libx264 -preset fast -b:v 8M -pix_fmt yuv420p -c:a aac -b:a 128k \
        -movflags +faststart "$CACHE/.src.mp4"
    mv "$CACHE/.src.mp4" "$SRC"
fi
OUT=$(mktemp -d "${TMPDIR:-/tmp}/vpbench.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
FF="ffmpeg -nostdin -v error -y"

now() { date +%s.%N; }
# time_cmd NAME CMD...: appends the wall time of CMD to $OUT/NAME.times
time_cmd() {
    name=$1; shift
    t0=$(now)
    "$@" >/dev/null 2>"$OUT/$name.err" || { echo "$name failed:" >&2; cat "$OUT/$name.err" >&2; exit 1; }
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >>"$OUT/$name.times"
}
median() { sort -n "$OUT/$1.times" | awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] }'; }

# ---- the cases ------------------------------------------------------------------------

decode_only() { $FF -i "$SRC" -f null -; }

vp_proxy() { rm -rf "$OUT/vp"; mkdir -p "$OUT/vp"
    "$VP" proxy "$SRC" -o "$OUT/vp/p.mp4" --thumb "$OUT/vp/t.jpg" --meta "$OUT/vp/m.json"; }
ff_proxy() { rm -rf "$OUT/ff"; mkdir -p "$OUT/ff"
    ffprobe -v error -show_format -show_streams -of json "$SRC" >"$OUT/ff/m.json"
    $FF -i "$SRC" -vf scale=-2:480 -r 10 -c:v libx264 -crf 28 -preset medium -pix_fmt yuv420p \
        -c:a aac -b:a 64k -movflags +faststart "$OUT/ff/p.mp4"
    $FF -ss 5 -i "$SRC" -frames:v 1 -vf scale=320:-2 -q:v 2 "$OUT/ff/t.jpg"; }

# The seed's platform presets, as its exporter ran them: one ffmpeg per platform.
ff_export_one() { # NAME WxH FPS PRESET CRF MAXRATE ABR
    wh=$2; w=${wh%x*}; h=${wh#*x}
    $FF -i "$SRC" -vf "scale=$w:$h:force_original_aspect_ratio=decrease,pad=$w:$h:(ow-iw)/2:(oh-ih)/2" \
        -r "$3" -c:v libx264 -preset "$4" -crf "$5" -maxrate "$6" -bufsize "$7" \
        -c:a aac -b:a "$8" "$OUT/ffx/$1.mp4"; }
ff_export() { rm -rf "$OUT/ffx"; mkdir -p "$OUT/ffx"
    ff_export_one youtube 1920x1080 30 slow 18 8M 16M 192k
    ff_export_one instagram 1080x1920 30 medium 23 5M 10M 192k
    ff_export_one tiktok 1080x1920 30 fast 23 4M 8M 192k; }
vp_export() { rm -rf "$OUT/vpx"
    "$VP" export "$SRC" --preset youtube,instagram,tiktok -o "$OUT/vpx"; }
# The floor any tool has on this machine: the CPU seconds libx264 alone spends on the three
# outputs (same settings, frames decoded and scaled by another process, packets dropped),
# spread perfectly over every core. Appends seconds to $OUT/enc_floor.times.
enc_floor_one() { # WxH PRESET CRF MAXRATE BUFSIZE
    wh=$1; w=${wh%x*}; h=${wh#*x}
    $FF -i "$SRC" -an -vf "scale=$w:$h:force_original_aspect_ratio=decrease,pad=$w:$h:(ow-iw)/2:(oh-ih)/2" \
        -r 30 -pix_fmt yuv420p -f rawvideo - |
        /usr/bin/time -f "%U %S" -a -o "$OUT/enc.cpu" $FF -f rawvideo -pix_fmt yuv420p \
            -s "$wh" -r 30 -i - -c:v libx264 -preset "$2" -crf "$3" -maxrate "$4" -bufsize "$5" \
            -f null -; }
enc_floor() { : >"$OUT/enc.cpu"
    enc_floor_one 1920x1080 slow 18 8M 16M
    enc_floor_one 1080x1920 medium 23 5M 10M
    enc_floor_one 1080x1920 fast 23 4M 8M
    awk -v n="$(nproc)" '{ s += $1 + $2 } END { print s / n }' "$OUT/enc.cpu" >>"$OUT/enc_floor.times"; }

# The seed's QC script ran one ffmpeg per check; a decode-only pass is the floor.
ff_qc() {
    $FF -i "$SRC" -f null -
    ffprobe -v error -show_entries stream=width,height:format=duration -of json "$SRC"
    $FF -i "$SRC" -vn -af ebur128=peak=true+sample -f null -
    $FF -i "$SRC" -vf blackdetect=d=0.5,freezedetect=d=2 -an -f null -
    $FF -i "$SRC" -vn -af silencedetect=d=2 -f null -; }
vp_qc() { "$VP" qc "$SRC" --json >"$OUT/qc.json" || [ $? -eq 1 ]; }

# ---- run ------------------------------------------------------------------------------

want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }
i=0
while [ $i -lt "$RUNS" ]; do
    time_cmd decode decode_only
    if want proxy; then time_cmd vp_proxy vp_proxy; time_cmd ff_proxy ff_proxy; fi
    if want export; then
        time_cmd vp_export vp_export; time_cmd ff_export ff_export; enc_floor
    fi
    if want qc; then time_cmd vp_qc vp_qc; time_cmd ff_qc ff_qc; fi
    i=$((i + 1))
done

dec=$(median decode)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo
echo "vidpipe toolbox vs the ffmpeg CLI, 60 s 1080p30 H.264+AAC, median of $RUNS runs, $(nproc) cores"
echo
printf '| %-34s | %9s | %9s | %-22s | %-20s |\n' job vidpipe "ffmpeg CLI" "speed-up vs ffmpeg CLI" "vidpipe / decode-only"
printf '|%s|%s|%s|%s|%s|\n' "------------------------------------" "-----------" "-----------" "------------------------" "----------------------"
row() { # job vpname ffname
    v=$(median "$2"); f=$(median "$3")
    printf '| %-34s | %8ss | %8ss | %-22s | %-20s |\n' "$1" "$v" "$f" "$(ratio "$f" "$v")" "$(ratio "$v" "$dec")"
}
printf '| %-34s | %9s | %8ss | %-22s | %-20s |\n' "decode only (ffmpeg -f null)" "" "$dec" "" ""
want proxy && row "proxy + thumbnail + metadata" vp_proxy ff_proxy
if want export; then
    row "export youtube,instagram,tiktok" vp_export ff_export
    fl=$(median enc_floor); f=$(median ff_export)
    printf '| %-34s | %8ss | %9s | %-22s | %-20s |\n' "  floor: x264 CPU / $(nproc) cores" "$fl" "" \
        "$(ratio "$f" "$fl") (ceiling)" ""
fi
want qc && row "QC: every check" vp_qc ff_qc
exit 0
