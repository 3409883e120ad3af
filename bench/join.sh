#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Personalized-video joins, per trio (intro 300 s + clip 20 s + outro 20 s, 720x1260 24 fps
# H.264 + AAC), side by side in one run:
#   cat              the three files into one: the byte-copy floor (not a valid MP4)
#   cat + fsync      the same, flushed to disk as vidpipe flushes each output
#   seed             the script vidpipe replaces: 3 mp4->ts remuxes + concat demuxer,
#                    one trio at a time (/work/shared/seeds/000_*)
#   ffmpeg concat    ffmpeg -f concat -c copy, one trio at a time
#   mkvmerge         mkvmerge a + b + c (MKV, if installed; MP4Box/gpac is not packaged in
#                    Debian bookworm, so it is not compared)
#   vidpipe -j 1/2   vidpipe batch over all trios
# Each method joins TRIOS trios, REPS times; the table shows the median seconds per trio
# and ratios vs cat and vs the seed script, and the fastest run (the least disturbed one on
# a shared machine; the load average is printed too).
#
# Then, on filesystems that share extents (an XFS image made with reflink=1 and a btrfs
# image, each on a loop device; needs root, skipped otherwise): cat, a byte copy (cat | cat:
# Debian's cat itself shares the intro's blocks there), the seed script and vidpipe batch
# there, time per trio and disk used per output (statfs before and after,
# synced): vidpipe joins RL_TRIOS trios (default 100), cat and the seed RL_PEER_TRIOS
# (default 10: each of their outputs is a whole copy). The personal clips there are copies
# (not clones) of the TRIOS distinct clips, cycled.
#
# Environment: BUILD (build dir, default build), VIDPIPE (the CLI), TRIOS (default 8),
# REPS (default 5), BENCH_CACHE (generated media, default /tmp/vidpipe-bench-cache/join),
# BENCH_WORK (scratch, default /tmp/vidpipe-bench-join), RL_TRIOS, RL_PEER_TRIOS, RL_REPS
# (default 3), ROWS (default "disk reflink": which tables to make).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VIDPIPE=${VIDPIPE:-$BUILD/tools/vidpipe}
TRIOS=${TRIOS:-8}
REPS=${REPS:-5}
CACHE=${BENCH_CACHE:-/tmp/vidpipe-bench-cache/join}
WORK=${BENCH_WORK:-/tmp/vidpipe-bench-join}
RL_TRIOS=${RL_TRIOS:-100}
RL_PEER_TRIOS=${RL_PEER_TRIOS:-10}
RL_REPS=${RL_REPS:-3}
ROWS=${ROWS:-disk reflink}

[ -x "$VIDPIPE" ] || { echo "bench/join.sh: $VIDPIPE not built (make build)" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "bench/join.sh: ffmpeg is not installed" >&2; exit 1; }

# ---- media, generated once ------------------------------------------------------------
# Realistic rates: ~2.5 Mb/s video with B-frames, a keyframe every 2 s, AAC 128 kb/s stereo.
gen() { # out seconds tone hue
    [ -s "$1" ] && return 0
    echo "bench/join.sh: generating $1 (${2} s, once)" >&2
    ffmpeg -nostdin -v error -y \
        -f lavfi -i "testsrc2=s=720x1260:r=24:d=$2,hue=h=$4,noise=alls=12:allf=t" \
        -f lavfi -i "sine=f=$3:r=48000:d=$2" -ac 2 \
        -c:v libx264 -preset ultrafast -bf 2 -g 48 -b:v 2500k -maxrate 3000k -bufsize 6000k \
        -pix_fmt yuv420p -c:a aac -b:a 128k -movflags +faststart "$1.tmp.mp4"
    mv "$1.tmp.mp4" "$1"
}
mkdir -p "$CACHE/personal"
gen "$CACHE/intro.mp4" 300 440 0
gen "$CACHE/outro.mp4" 20 660 90
i=1
while [ $i -le "$TRIOS" ]; do
    gen "$CACHE/personal/clip$(printf %02d $i).mp4" 20 $((500 + 40 * i)) $((20 * i))
    i=$((i + 1))
done
# Only the trios of this run in the folder vidpipe batch reads.
rm -rf "$WORK"
mkdir -p "$WORK/personal"
i=1
while [ $i -le "$TRIOS" ]; do
    ln -s "$CACHE/personal/clip$(printf %02d $i).mp4" "$WORK/personal/"
    i=$((i + 1))
done
INTRO=$CACHE/intro.mp4
OUTRO=$CACHE/outro.mp4
cat "$INTRO" "$OUTRO" "$CACHE"/personal/*.mp4 >/dev/null   # warm the page cache

now() { date +%s.%N; }
# Each run starts one method further down the list, so no method is always first (after the
# previous run's deletions) or always last.
rotate() { # n words...: the words, rotated left n times
    n=$1; shift
    while [ "$n" -gt 0 ]; do first=$1; shift; set -- "$@" "$first"; n=$((n - 1)); done
    echo "$@"
}
clips() { ls "$WORK/personal/"; }

# ---- the methods: each joins every trio into $1 -----------------------------------------
m_cat() {
    for c in $(clips); do cat "$INTRO" "$WORK/personal/$c" "$OUTRO" > "$1/$c"; done
}
m_cat_fsync() {
    for c in $(clips); do
        cat "$INTRO" "$WORK/personal/$c" "$OUTRO" > "$1/$c"
        sync "$1/$c"
    done
}
m_copy() { # the bytes copied, as a cat that cannot share extents does (through a pipe)
    for c in $(clips); do cat "$INTRO" "$WORK/personal/$c" "$OUTRO" | cat > "$1/$c"; done
}
m_seed() {
    for c in $(clips); do
        t=$1/tmp
        mkdir -p "$t"
        n=1
        for f in "$INTRO" "$WORK/personal/$c" "$OUTRO"; do
            ffmpeg -nostdin -v error -i "$f" -c copy -bsf:v h264_mp4toannexb -f mpegts \
                "$t/intermediate_$n.ts" -y
            n=$((n + 1))
        done
        printf "file '%s'\n" "$t/intermediate_1.ts" "$t/intermediate_2.ts" \
            "$t/intermediate_3.ts" > "$t/input_list.txt"
        ffmpeg -nostdin -v error -f concat -safe 0 -fflags +genpts -i "$t/input_list.txt" \
            -c copy -bsf:a aac_adtstoasc -y "$1/$c"
        rm -f "$t"/intermediate_*.ts "$t/input_list.txt"
    done
}
m_concat() {
    for c in $(clips); do
        printf "file '%s'\n" "$INTRO" "$WORK/personal/$c" "$OUTRO" > "$1/list.txt"
        ffmpeg -nostdin -v error -f concat -safe 0 -i "$1/list.txt" -c copy -y "$1/$c"
    done
    rm -f "$1/list.txt"
}
m_mkvmerge() {
    for c in $(clips); do
        mkvmerge -q -o "$1/${c%.mp4}.mkv" "$INTRO" + "$WORK/personal/$c" + "$OUTRO" >/dev/null
    done
}
m_vidpipe1() {
    "$VIDPIPE" -q batch --intro "$INTRO" --outro "$OUTRO" --personal "$WORK/personal" \
        --out "$1" -j 1 >/dev/null
}
m_vidpipe2() {
    "$VIDPIPE" -q batch --intro "$INTRO" --outro "$OUTRO" --personal "$WORK/personal" \
        --out "$1" -j 2 >/dev/null
}
m_vidpipe1_nosync() {
    "$VIDPIPE" -q batch --intro "$INTRO" --outro "$OUTRO" --personal "$WORK/personal" \
        --out "$1" -j 1 --no-fsync >/dev/null
}
m_vidpipe2_nosync() {
    "$VIDPIPE" -q batch --intro "$INTRO" --outro "$OUTRO" --personal "$WORK/personal" \
        --out "$1" -j 2 --no-fsync >/dev/null
}

METHODS="cat cat_fsync seed concat"
command -v mkvmerge >/dev/null && METHODS="$METHODS mkvmerge" ||
    echo "bench/join.sh: mkvmerge not installed (BENCH_PKGS: mkvtoolnix); not compared" >&2
METHODS="$METHODS vidpipe1 vidpipe2 vidpipe1_nosync vidpipe2_nosync"

# Check each method's first output once: the joins must be complete (cat is not an MP4).
verify() { # method dir
    case $1 in cat|cat_fsync) return 0 ;; esac
    f=$(ls "$2" | grep -E '\.(mp4|mkv)$' | head -n 1)
    n=$(ffprobe -v error -count_packets -select_streams v:0 \
        -show_entries stream=nb_read_packets -of csv=p=0 "$2/$f")
    echo "$1 $n" >> "$WORK/frames.txt"
}

disk_rows() {
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    : > "$WORK/times.txt"
    : > "$WORK/frames.txt"
    nb_methods=$(echo $METHODS | wc -w)
    rep=1
    while [ $rep -le "$REPS" ]; do
        for m in $(rotate $(((rep - 1) % nb_methods)) $METHODS); do
            out=$WORK/out-$m
            rm -rf "$out"
            mkdir -p "$out"
            sync
            t0=$(now)
            "m_$m" "$out"
            t1=$(now)
            [ $rep -eq 1 ] && verify "$m" "$out"
            echo "$m $t0 $t1" >> "$WORK/times.txt"
            rm -rf "$out"
        done
        rep=$((rep + 1))
    done

    sizes=$(du -m "$INTRO" "$CACHE/personal/clip01.mp4" "$OUTRO" |
        awk '{ printf "%s%s MB", (NR > 1 ? " + " : ""), $1 }')
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    python3 - "$WORK/times.txt" "$WORK/frames.txt" "$TRIOS" "$REPS" "$sizes" "$METHODS" \
        "$load0" "$load1" "$(nproc)" <<'PY'
import statistics, sys
times_path, frames_path, trios, reps, sizes, methods, load0, load1, cores = sys.argv[1:]
trios, reps = int(trios), int(reps)
per = {}
for line in open(times_path):
    m, t0, t1 = line.split()
    per.setdefault(m, []).append((float(t1) - float(t0)) / trios)
frames = dict(l.split() for l in open(frames_path))
labels = {
    "cat": "cat (byte-copy floor)", "cat_fsync": "cat + fsync",
    "seed": "seed script (3 ts remux + concat)", "concat": "ffmpeg -f concat -c copy",
    "mkvmerge": "mkvmerge (MKV)", "vidpipe1": "vidpipe batch -j 1",
    "vidpipe2": "vidpipe batch -j 2",
    "vidpipe1_nosync": "vidpipe batch -j 1 --no-fsync",
    "vidpipe2_nosync": "vidpipe batch -j 2 --no-fsync",
}
med = {m: statistics.median(v) for m, v in per.items()}
print(f"join benchmark: {trios} trios x {reps} runs; trio = {sizes}, 720x1260 24 fps "
      f"H.264 + AAC; 8160 video frames per complete output")
print(f"{cores} cores, load average {load0} at the start, {load1} at the end")
print(f"{'method':36} {'s/trio':>8} {'x cat':>7} {'x cat+fsync':>12} {'vs seed':>9} "
      f"{'fastest':>8}  frames")
for m in methods.split():
    if m not in med:
        continue
    s = med[m]
    print(f"{labels[m]:36} {s:8.3f} {s / med['cat']:6.2f}x {s / med['cat_fsync']:11.2f}x "
          f"{med['seed'] / s:8.1f}x {min(per[m]):8.3f}  {frames.get(m, '-')}")
print("s/trio: median seconds per trio; x cat: median / cat's (lower is better; goal for "
      "vidpipe <= 1.2);\nvs seed: how many times faster than the seed script (goal >= 5); "
      "fastest: the best run's s/trio")
PY
}

# ---- on filesystems that share extents ------------------------------------------------
RL_MOUNTS="" RL_LOOPS=""
rl_cleanup() {
    for m in $RL_MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m"; done
    for l in $RL_LOOPS; do losetup -d "$l" 2>/dev/null; done
    RL_MOUNTS="" RL_LOOPS=""
}
trap 'rl_cleanup' EXIT
trap 'exit 1' INT TERM HUP

used_bytes() { # DIR: bytes in use on DIR's filesystem, after a sync of it
    sync -f "$1/."
    stat -f -c '%b %f %S' "$1" | awk '{ printf "%d\n", ($1 - $2) * $3 }'
}

# rl_method METHOD MNT N: join N trios of MNT/personal into MNT/out with METHOD; appends
# "fs method seconds bytes_used n" to times-rl.txt
rl_method() {
    m=$1 mnt=$2 n=$3
    rm -rf "$mnt/out" "$mnt/clips"
    mkdir -p "$mnt/out" "$mnt/clips"
    ls "$mnt/personal" | head -n "$n" | while read -r c; do ln -s "../personal/$c" "$mnt/clips/"; done
    u0=$(used_bytes "$mnt")
    t0=$(now)
    (INTRO=$mnt/intro.mp4 OUTRO=$mnt/outro.mp4 WORK=$mnt/w; mkdir -p "$WORK"
     ln -s "$mnt/clips" "$WORK/personal"; "m_$m" "$mnt/out")
    t1=$(now)
    u1=$(used_bytes "$mnt")
    rm -rf "$mnt/w"
    echo "$RL_FS $m $t0 $t1 $((u1 - u0)) $n" >> "$WORK/times-rl.txt"
    rm -rf "$mnt/out" "$mnt/clips"
    sync -f "$mnt/."
}

RL_METHODS="cat cat_fsync copy seed vidpipe1 vidpipe2"
reflink_rows() {
    if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/loop-control ] || ! command -v mkfs.xfs >/dev/null ||
       ! command -v mkfs.btrfs >/dev/null; then
        echo "bench/join.sh: reflink rows need root, loop devices, mkfs.xfs and mkfs.btrfs" \
             "(xfsprogs, btrfs-progs); skipped" >&2
        return 0
    fi
    : > "$WORK/times-rl.txt"
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    for RL_FS in xfs btrfs; do
        img=$WORK/$RL_FS.img mnt=$WORK/mnt-$RL_FS
        truncate -s 8G "$img"
        case $RL_FS in
            xfs) mkfs.xfs -q -m reflink=1 "$img" ;;
            btrfs) mkfs.btrfs -q "$img" >/dev/null ;;
        esac
        dev=$(losetup -f --show "$img")
        RL_LOOPS="$dev $RL_LOOPS"
        mkdir -p "$mnt"
        mount "$dev" "$mnt"
        RL_MOUNTS="$mnt $RL_MOUNTS"
        cp --reflink=never "$INTRO" "$mnt/intro.mp4"
        cp --reflink=never "$OUTRO" "$mnt/outro.mp4"
        mkdir -p "$mnt/personal"
        k=1
        while [ $k -le "$RL_TRIOS" ]; do
            src=$(printf "clip%02d.mp4" $(((k - 1) % TRIOS + 1)))
            cp --reflink=never "$CACHE/personal/$src" "$mnt/personal/p$(printf %03d $k).mp4"
            k=$((k + 1))
        done
        rep=1
        while [ $rep -le "$RL_REPS" ]; do
            for m in $(rotate $(((rep - 1) % 5)) $RL_METHODS); do
                case $m in vidpipe*) n=$RL_TRIOS ;; *) n=$RL_PEER_TRIOS ;; esac
                rl_method "$m" "$mnt" "$n"
            done
            rep=$((rep + 1))
        done
        rl_cleanup
        rm -f "$img"
    done
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    clip=$(stat -c %s "$CACHE"/personal/*.mp4 | awk '{ s += $1 } END { printf "%d", s / NR }')
    python3 - "$WORK/times-rl.txt" "$clip" "$load0" "$load1" <<'PY'
import statistics, sys
path, clip, load0, load1 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = {}
for line in open(path):
    fs, m, t0, t1, used, n = line.split()
    r = rows.setdefault((fs, m), {"t": [], "d": [], "n": int(n)})
    r["t"].append((float(t1) - float(t0)) / int(n))
    r["d"].append(int(used) / int(n))
labels = {"cat": "cat", "cat_fsync": "cat + fsync", "copy": "byte copy (cat | cat)",
          "seed": "seed script", "vidpipe1": "vidpipe batch -j 1",
          "vidpipe2": "vidpipe batch -j 2"}
print(f"on filesystems that share extents (loop images); clip {clip / 1e6:.1f} MB on average; "
      f"load {load0} -> {load1}")
print(f"{'fs':6} {'method':22} {'trios':>5} {'s/trio':>8} {'x cat':>7} {'x cat+fsync':>12} "
      f"{'x copy':>7} {'vs seed':>8} {'disk/output MB':>15} {'x clip':>7}")
for fs in ("xfs", "btrfs"):
    if (fs, "cat") not in rows:
        continue
    cat = statistics.median(rows[(fs, "cat")]["t"])
    catf = statistics.median(rows[(fs, "cat_fsync")]["t"])
    seed = statistics.median(rows[(fs, "seed")]["t"])
    copy = statistics.median(rows[(fs, "copy")]["t"])
    for m in ("cat", "cat_fsync", "copy", "seed", "vidpipe1", "vidpipe2"):
        r = rows[(fs, m)]
        t, d = statistics.median(r["t"]), statistics.median(r["d"])
        print(f"{fs:6} {labels[m]:22} {r['n']:5} {t:8.4f} {t / cat:6.3f}x {t / catf:11.3f}x "
              f"{t / copy:6.3f}x {seed / t:7.1f}x "
              f"{d / 1e6:15.2f} {d / clip:6.3f}x")
print("s/trio: median seconds per trio (each run synced before and after, outside the time);"
      "\ndisk/output: statfs used bytes after - before, per output (goal <= 1.1 x clip); "
      "x cat: goal <= 0.2;\nDebian's cat (coreutils 9.1) calls copy_file_range, which shares "
      "the intro's blocks here: x copy is against the bytes copied, as the goal assumed")
PY
}

for rows in $ROWS; do
    "${rows}_rows"
done
rm -rf "$WORK"
