#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The job service (issue 14, "Tests and speed"), in one run:
#  1. N short 1080p30 H.264 + AAC uploads (SECONDS_EACH s each) processed end to end:
#       seed     the upload service vidpipe replaces (/work/shared/seeds/004_*): per video
#                ffprobe (metadata) + ffmpeg proxy (scale=-2:480, fps=10, libx264 preset
#                medium crf 28, yuv420p, aac 64k, +faststart) + ffmpeg thumbnail (320 px at
#                5 s, -q:v 2), three processes, plus the copy of the original into storage;
#                a queue of WORKERS at a time (xargs -P), the files already on local disk
#       vidpipe  `vidpipe serve --workers WORKERS`: each file uploaded over HTTP (POST
#                /api/v1/videos), the jobs polled until all are completed
#     videos per minute (first upload to last job finished), medians of RUNS runs, as a
#     ratio. Every output of the first run is checked (480 lines, 10 fps, frames).
#  2. API latency: p50/p99 of GET /api/v1/jobs/{id} under CLIENTS (200) concurrent polling
#     clients on keep-alive connections (bench/serve_bench.py: threads in 2 processes) for
#     LAT_SECONDS (20) s, against the server of the last run (its N jobs completed).
#  3. The queue's own overhead: claims + completes per second with JOBS (10,000) empty jobs
#     on the SQLite store (bench/serve_queue.c, 1 and 2 threads); the peer, when Debian's
#     python3-celery and redis-server are installed: Celery 5 + Redis with as many empty
#     tasks and a prefork worker of 2 processes (Celery's defaults), and with the seed's
#     acks_late + prefetch 1 on SEED_CELERY_JOBS (200) tasks.
# The load average is printed (the machine is shared).
#
# Environment: BUILD (build), VIDPIPE, N (20), SECONDS_EACH (10), RUNS (3), WORKERS (the
# server's default: one per core), CLIENTS (200), LAT_SECONDS (20), JOBS (10000),
# SEED_CELERY_JOBS (200), BENCH_CACHE (/tmp/vidpipe-bench-cache/serve), BENCH_WORK
# (/tmp/vidpipe-bench-serve).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VIDPIPE=${VIDPIPE:-$BUILD/tools/vidpipe}
QUEUE=${QUEUE:-$BUILD/bench/serve_queue}
N=${N:-20}
SECONDS_EACH=${SECONDS_EACH:-10}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-$(nproc)}
CLIENTS=${CLIENTS:-200}
LAT_SECONDS=${LAT_SECONDS:-20}
JOBS=${JOBS:-10000}
SEED_CELERY_JOBS=${SEED_CELERY_JOBS:-200}
CACHE=${BENCH_CACHE:-/tmp/vidpipe-bench-cache/serve}/1080p-${SECONDS_EACH}s
WORK=${BENCH_WORK:-/tmp/vidpipe-bench-serve}
# Debian's python3 (celery, redis); a python3 earlier on PATH may not have them
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=python3

[ -x "$VIDPIPE" ] || { echo "bench/serve.sh: $VIDPIPE not built (make build)" >&2; exit 1; }
[ -x "$QUEUE" ] || { echo "bench/serve.sh: $QUEUE not built" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "bench/serve.sh: ffmpeg is not installed" >&2; exit 1; }

# ---- media, generated once: ~8 Mb/s H.264 (keyframe every 2 s) with moving noise (a flat
# test pattern costs a decoder and encoder far less than real pictures), AAC 128k stereo ---
mkdir -p "$CACHE"
i=1
while [ $i -le "$N" ]; do
    f=$CACHE/up$(printf %03d $i).mp4
    if [ ! -s "$f" ]; then
        echo "bench/serve.sh: generating $f (once)" >&2
        ffmpeg -nostdin -v error -y \
            -f lavfi -i "testsrc2=s=1920x1080:r=30:d=$SECONDS_EACH,hue=h=$((i * 17)),noise=alls=8:allf=t" \
            -f lavfi -i "sine=f=$((300 + 20 * i)):r=48000:d=$SECONDS_EACH" -ac 2 \
            -c:v libx264 -preset ultrafast -g 60 -b:v 8000k -maxrate 10000k -bufsize 16000k \
            -pix_fmt yuv420p -c:a aac -b:a 128k "$f.tmp.mp4"
        mv "$f.tmp.mp4" "$f"
    fi
    i=$((i + 1))
done
FILES=$(ls "$CACHE"/up*.mp4 | head -n "$N")
rm -rf "$WORK"
mkdir -p "$WORK"
cat $FILES > /dev/null   # warm the page cache

# The seed's three processes for one video (its ffmpeg_service.py commands), run by xargs.
cat > "$WORK/seed_one.sh" <<'EOF'
#!/bin/sh
set -e
in=$1 out=$2
base=$(basename "$in" .mp4)
mkdir -p "$out/originals" "$out/proxy" "$out/thumbnails" "$out/meta"
cp "$in" "$out/originals/$base.mp4"
ffprobe -v quiet -print_format json -show_format -show_streams "$in" > "$out/meta/$base.json"
ffmpeg -nostdin -v error -y -i "$in" -vf scale=-2:480,fps=10 -c:v libx264 -preset medium \
    -crf 28 -pix_fmt yuv420p -c:a aac -b:a 64k -movflags +faststart "$out/proxy/$base.mp4"
ffmpeg -nostdin -v error -y -ss 5 -i "$in" -vf scale=320:-1 -frames:v 1 -q:v 2 \
    "$out/thumbnails/$base.jpg"
EOF
chmod +x "$WORK/seed_one.sh"

now() { date +%s.%N; }
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill -KILL "$SERVER" 2>/dev/null; true; }
trap cleanup EXIT

# serve_up DATA: start vidpipe serve on a free loopback port; sets SERVER and BASE
serve_up() {
    "$VIDPIPE" serve --data "$1" --listen 127.0.0.1:0 --json --workers "$WORKERS" \
        --tmp "$WORK/tmp" > "$WORK/serve.out" 2> "$WORK/serve.log" &
    SERVER=$!
    BASE=""
    for _ in $(seq 200); do
        port=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if isinstance(e, dict) and e.get("event") == "listening":
        print(e["port"])
        break' "$WORK/serve.out")
        [ -n "$port" ] && { BASE="http://127.0.0.1:$port"; return 0; }
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/serve.log" >&2
    echo "bench/serve.sh: vidpipe serve did not start" >&2
    exit 1
}
serve_down() {
    kill -TERM "$SERVER"
    wait "$SERVER" || { echo "bench/serve.sh: vidpipe serve exited $?" >&2; }
    SERVER=""
}

m_seed() { # OUT
    mkdir -p "$WORK/tmp"
    printf '%s\n' $FILES | xargs -P "$WORKERS" -I{} "$WORK/seed_one.sh" {} "$1"
}
m_vidpipe() { # OUT (the DATA folder); leaves the server up when KEEP=1
    mkdir -p "$WORK/tmp"
    serve_up "$1"
    python3 bench/serve_bench.py throughput "$BASE" $FILES > "$WORK/throughput.json"
    [ "${KEEP:-0}" = 1 ] || serve_down
}

verify() { # METHOD OUT: every proxy 480 high at 10 fps with SECONDS_EACH x 10 frames
    if [ "$1" = seed ]; then
        proxies=$(ls "$2"/proxy/*.mp4)
    else
        proxies=$(find "$2/objects" -name proxy.mp4)
    fi
    n=0
    for p in $proxies; do
        got=$(ffprobe -v error -count_frames -select_streams v:0 \
            -show_entries stream=height,r_frame_rate,nb_read_frames -of csv=p=0 "$p")
        [ "$got" = "480,10/1,$((SECONDS_EACH * 10))" ] ||
            echo "bench/serve.sh: $1: $p is $got, not 480,10/1,$((SECONDS_EACH * 10))" >&2
        n=$((n + 1))
    done
    [ "$n" = "$N" ] || echo "bench/serve.sh: $1 made $n proxies of $N" >&2
    echo "$1 $n" >> "$WORK/verified.txt"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$WORK/times.txt"
: > "$WORK/verified.txt"
run=1
while [ $run -le "$RUNS" ]; do
    # alternate which method goes first
    if [ $((run % 2)) = 1 ]; then order="seed vidpipe"; else order="vidpipe seed"; fi
    for m in $order; do
        out=$WORK/out-$m
        rm -rf "$out" "$WORK/tmp"
        mkdir -p "$out"
        sync
        KEEP=0
        [ $run = "$RUNS" ] && [ $m = vidpipe ] && KEEP=1
        t0=$(now)
        "m_$m" "$out"
        t1=$(now)
        if [ $m = vidpipe ]; then
            # the server's own measure: first byte uploaded to last job finished
            s=$(python3 -c 'import json, sys; j = json.load(open(sys.argv[1]))
assert j["completed"] == int(sys.argv[2]), j
print(j["seconds"])' "$WORK/throughput.json" "$N")
            echo "$m $s" >> "$WORK/times.txt"
        else
            echo "$m $(echo "$t1 $t0" | awk '{ print $1 - $2 }')" >> "$WORK/times.txt"
        fi
        [ $run = 1 ] && verify "$m" "$out"
        [ "$KEEP" = 1 ] || rm -rf "$out"
    done
    run=$((run + 1))
done

# ---- 2. API latency against the last run's server ----------------------------------------
ids=$(python3 -c 'import json, sys; print(",".join(map(str, json.load(open(sys.argv[1]))["job_ids"])))' \
    "$WORK/throughput.json")
python3 bench/serve_bench.py latency "$BASE" --jobs "$ids" --clients "$CLIENTS" \
    --seconds "$LAT_SECONDS" > "$WORK/latency.json"
serve_down
rm -rf "$WORK/out-vidpipe"

# ---- 3. the queue's own overhead ------------------------------------------------------------
"$QUEUE" "$WORK" "$JOBS" 1 2 > "$WORK/queue.json"
: > "$WORK/celery.json"
if "$PY3" -c 'import celery, redis' 2>/dev/null && command -v redis-server >/dev/null; then
    "$PY3" bench/serve_bench.py celery --jobs "$JOBS" --workers 2 --work "$WORK/celery" \
        >> "$WORK/celery.json" || echo "bench/serve.sh: the Celery run failed" >&2
    "$PY3" bench/serve_bench.py celery --jobs "$SEED_CELERY_JOBS" --workers 2 --seed-config \
        --work "$WORK/celery" >> "$WORK/celery.json" || echo "bench/serve.sh: the Celery run failed" >&2
else
    echo "bench/serve.sh: python3-celery or redis-server not installed (BENCH_PKGS): no peer" >&2
fi

load1=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$WORK" "$N" "$SECONDS_EACH" "$RUNS" "$WORKERS" "$load0" "$load1" "$(nproc)" <<'PY'
import json, statistics, sys
work, n, secs, runs, workers, load0, load1, cores = sys.argv[1:]
n = int(n)
per = {}
for line in open(work + "/times.txt"):
    m, s = line.split()
    per.setdefault(m, []).append(float(s))
verified = dict(l.split() for l in open(work + "/verified.txt"))
print(f"serve benchmark: {n} uploads of {secs} s 1080p30 H.264 + AAC, {runs} runs, "
      f"{workers} workers; {cores} cores, load average {load0} at the start, {load1} at the end")
print(f"{'method':44} {'s/batch':>8} {'videos/min':>11} {'vs seed':>8} {'best':>8}  checked")
labels = {"seed": "seed: ffprobe + ffmpeg proxy + ffmpeg thumb",
          "vidpipe": "vidpipe serve (HTTP upload to job done)"}
med = {m: statistics.median(v) for m, v in per.items()}
for m in ("seed", "vidpipe"):
    if m in med:
        vpm = n / med[m] * 60
        print(f"{labels[m]:44} {med[m]:8.2f} {vpm:11.1f} {med['seed'] / med[m]:7.2f}x "
              f"{min(per[m]):8.2f}  {verified.get(m, '-')}/{n} proxies")
lat = json.load(open(work + "/latency.json"))
print()
print(f"API latency, GET /api/v1/jobs/{{id}}: {lat['clients']} polling clients (keep-alive) for "
      f"{lat['seconds']:.0f} s: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
      f"max {lat['max_ms']} ms, {lat['per_s']} requests/s, {lat['errors']} errors")
print()
print(f"{'queue (empty jobs)':44} {'jobs':>8} {'enqueue/s':>11} {'claim+complete/s':>17}")
for line in open(work + "/queue.json"):
    q = json.loads(line)
    print(f"{'vidpipe store (SQLite), %d thread(s)' % q['threads']:44} {q['jobs']:8d} "
          f"{q['enqueue_per_s']:11.0f} {q['claim_complete_per_s']:17.0f}")
for line in open(work + "/celery.json"):
    c = json.loads(line)
    what = "Celery + Redis, acks_late, prefetch 1" if c.get("seed_config") else "Celery + Redis (defaults)"
    print(f"{what + ', %d procs' % c['workers']:44} {c['jobs']:8d} {c['enqueue_per_s']:11.0f} "
          f"{c['claim_complete_per_s'] or 0:17.0f}")
print("s/batch: median seconds for all uploads; videos/min from it; vs seed: seed's time / "
      "this one's;\nbest: the fastest run; latency measured by Python clients sharing the 2 cores")
PY
rm -rf "$WORK"
