#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The job service across processes (issue 15, "Scale"), in one run, on a throw-away
# PostgreSQL cluster (tests/pg/pg_lib.sh, default settings: synchronous_commit on) and s3rver
# behind the signature-checking proxy (tests/scaleout/so_s3.py, no faults):
#  1. The queue: claims + completes per second with JOBS (10,000) empty jobs at 1, 4 and 16
#     threads (bench/serve_queue.c), on PostgreSQL and on SQLite, and the transactions (round
#     trips) a job costs PostgreSQL (pg_stat_database). Medians of RUNS runs.
#  2. End to end: N (12) clips (640x360 30 fps, SECONDS_EACH (4) s, H.264 + AAC) uploaded to an
#     API node (`vidpipe serve --workers 0`), then 1 and 2 worker processes of one thread
#     each started and timed until every job is completed: videos per minute. Medians of
#     RUNS runs, a fresh database and bucket prefix each.
#  3. A job's overhead beyond its media work: the median job time the workers log ("completed
#     in X s": fetch of the original, probe, proxy + thumbnail, stores, the database) less
#     the median time of `vidpipe proxy` on the same clip from local disk (the same
#     vp_proxy_make); the database transactions and S3 requests per job of part 2 (from
#     pg_stat_database while only the workers use the database, and the proxy's counters).
# The load average is printed (the machine may be shared).
#
# Environment: BUILD (build), VIDPIPE, QUEUE, JOBS (10000), THREADS ("1 4 16"), RUNS (3),
# N (12), SECONDS_EACH (4), PROCS ("1 2"), LEASE (30), BENCH_WORK (/tmp/vidpipe-bench-scaleout),
# SKIP_QUEUE (set: parts 2 and 3 only)
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${BUILD:-build}
VIDPIPE=${VIDPIPE:-$PWD/$BUILD/tools/vidpipe}
QUEUE=${QUEUE:-$PWD/$BUILD/bench/serve_queue}
JOBS=${JOBS:-10000}
THREADS=${THREADS:-1 4 16}
RUNS=${RUNS:-3}
N=${N:-12}
SECONDS_EACH=${SECONDS_EACH:-4}
PROCS=${PROCS:-1 2}
LEASE=${LEASE:-30}
WORK=${BENCH_WORK:-/tmp/vidpipe-bench-scaleout}

[ -x "$VIDPIPE" ] || { echo "bench/scaleout.sh: $VIDPIPE not built (make build)" >&2; exit 1; }
[ -x "$QUEUE" ] || { echo "bench/scaleout.sh: $QUEUE not built" >&2; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK/pg" "$WORK/s3env" "$WORK/media"
chmod 755 "$WORK" "$WORK/pg"
PIDS=""
S3_DAEMON=""
cleanup() {
    for pid in $PIDS; do kill -KILL "$pid" 2>/dev/null || true; done
    [ -n "$S3_DAEMON" ] && kill -TERM "$S3_DAEMON" 2>/dev/null && wait "$S3_DAEMON" || true
    sh tests/pg/pg_lib.sh stop "$WORK/pg" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load0=$(cut -d' ' -f1-3 /proc/loadavg)
URI=$(sh tests/pg/pg_lib.sh start "$WORK/pg")
psql -X -q "$URI/postgres" -c "CREATE DATABASE bench"
DB=$URI/bench
sql() { psql -X -A -t -q "$DB" -c "$1"; }

# ---- 1. the queue ---------------------------------------------------------------------
: > "$WORK/queue.json"
run=1
[ -n "${SKIP_QUEUE:-}" ] && run=$((RUNS + 1))
while [ $run -le "$RUNS" ]; do
    echo "bench/scaleout.sh: queue, run $run of $RUNS" >&2
    "$QUEUE" --store "$DB" "$WORK" "$JOBS" $THREADS >> "$WORK/queue.json"
    "$QUEUE" "$WORK" "$JOBS" $THREADS >> "$WORK/queue.json"
    run=$((run + 1))
done

# ---- 2. end to end ---------------------------------------------------------------------
i=1
while [ $i -le "$N" ]; do
    ffmpeg -nostdin -v error -y -f lavfi \
        -i "testsrc2=s=640x360:r=30:d=$SECONDS_EACH,hue=h=$((i * 17)),noise=alls=8:allf=t" \
        -f lavfi -i "sine=f=$((300 + 20 * i)):d=$SECONDS_EACH" -c:v libx264 -preset ultrafast \
        -g 60 -b:v 2000k -pix_fmt yuv420p -c:a aac -b:a 96k "$WORK/media/clip$i.mp4"
    i=$((i + 1))
done
python3 tests/scaleout/so_s3.py serve "$WORK/s3env" 2> "$WORK/s3env.log" &
S3_DAEMON=$!
for _ in $(seq 600); do
    [ -f "$WORK/s3env/s3.env" ] && break
    kill -0 "$S3_DAEMON" 2>/dev/null || { cat "$WORK/s3env.log" >&2; exit 1; }
    sleep 0.1
done
. "$WORK/s3env/s3.env"
AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
s3_requests() {
    curl -s "$S3_ENDPOINT/__ctl/stats" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])'
}
xacts() {
    sleep 1
    sql "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
}

# start NAME WORKERS STORAGE: vidpipe serve (or `vidpipe worker`) in the background
start() {
    mkdir -p "$WORK/$1.data" "$WORK/$1.tmp"
    if [ "$2" != 0 ] && "$VIDPIPE" worker --help > /dev/null 2>&1; then
        "$VIDPIPE" worker --db "$DB" --storage "$3" --workers "$2" --lease "$LEASE" \
            --tmp "$WORK/$1.tmp" > /dev/null 2>> "$WORK/$1.log" &
    else
        "$VIDPIPE" serve --data "$WORK/$1.data" --tmp "$WORK/$1.tmp" --listen 127.0.0.1:0 \
            --json --workers "$2" --lease "$LEASE" --db "$DB" --storage "$3" \
            > "$WORK/$1.out" 2>> "$WORK/$1.log" &
    fi
    eval "PID_$1=$!"
    PIDS="$PIDS $!"
}
stop() {
    eval "stop_pid=\$PID_$1"
    kill -TERM "$stop_pid"
    wait "$stop_pid" || echo "bench/scaleout.sh: $1 exited $?" >&2
}
listen_port() {
    for _ in $(seq 300); do
        port=$(grep '"event": *"listening"' "$WORK/$1.out" 2>/dev/null |
            sed -n 's/.*"port": *\([0-9]*\).*/\1/p' | head -1)
        [ -n "$port" ] && { echo "$port"; return 0; }
        sleep 0.1
    done
    cat "$WORK/$1.log" >&2
    return 1
}

: > "$WORK/e2e.txt"
: > "$WORK/jobtimes.txt"
run=1
while [ $run -le "$RUNS" ]; do
    for procs in $PROCS; do
        echo "bench/scaleout.sh: end to end, $procs worker process(es), run $run of $RUNS" >&2
        sql "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public"
        storage="s3://vidpipe-test/e2e-$procs-$run?endpoint=$S3_ENDPOINT"
        if "$VIDPIPE" serve --help 2>&1 | grep -q -- '--migrate'; then
            "$VIDPIPE" serve --migrate --data "$WORK/migrate" --db "$DB" --storage "$storage" \
                > /dev/null
        fi
        start api 0 "$storage"
        base=http://127.0.0.1:$(listen_port api)
        for f in "$WORK"/media/clip*.mp4; do
            curl -s -f -o /dev/null --max-time 120 -X POST --data-binary "@$f" \
                -H 'Content-Type: application/octet-stream' \
                "$base/api/v1/videos?filename=$(basename "$f")"
        done
        # only the workers talk to the database from here on
        stop api
        x0=$(xacts)
        r0=$(s3_requests)
        t0=$(date +%s.%N)
        k=1
        while [ $k -le "$procs" ]; do
            start "w$k" 1 "$storage"
            k=$((k + 1))
        done
        # watched in the workers' logs, not the database: only the workers query it
        while [ "$(cat "$WORK"/w*.log | grep -c ' completed in ')" -lt "$N" ]; do
            sleep 0.1
        done
        t1=$(date +%s.%N)
        k=1
        while [ $k -le "$procs" ]; do
            stop "w$k"
            sed -n 's/.*completed in \([0-9.]*\) s by.*/\1/p' "$WORK/w$k.log" \
                >> "$WORK/jobtimes.txt"
            rm -f "$WORK/w$k.log"
            k=$((k + 1))
        done
        x1=$(xacts)
        r1=$(s3_requests)
        [ "$(sql "SELECT count(*) FROM jobs WHERE attempts <> 1 OR status <> 'completed'")" = 0 ] ||
            echo "bench/scaleout.sh: a job needed a second attempt" >&2
        # the first xacts() read is 2 transactions: psql's connection start (the server looks
        # its database up in one) and the query
        echo "$procs $(echo "$t0 $t1" | awk '{ print $2 - $1 }') $((x1 - x0 - 2)) $((r1 - r0))" \
            >> "$WORK/e2e.txt"
    done
    run=$((run + 1))
done

# ---- 3. the media work alone: vidpipe proxy on local files ------------------------------
: > "$WORK/local.txt"
for f in "$WORK"/media/clip*.mp4; do
    rm -f "$WORK/local.mp4" "$WORK/local.jpg" "$WORK/local.json"
    t0=$(date +%s.%N)
    "$VIDPIPE" proxy "$f" -o "$WORK/local.mp4" --thumb "$WORK/local.jpg" \
        --meta "$WORK/local.json" > /dev/null 2>&1
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{ print $2 - $1 }' >> "$WORK/local.txt"
done

load1=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$WORK" "$N" "$SECONDS_EACH" "$RUNS" "$JOBS" "$load0" "$load1" "$(nproc)" "$LEASE" <<'PY'
import json, statistics, sys
work, n, secs, runs, jobs, load0, load1, cores, lease = sys.argv[1:]
n = int(n)
med = statistics.median
print(f"scale-out benchmark: PostgreSQL 15 (pg_lib.sh, synchronous_commit on) + s3rver behind "
      f"the SigV4-checking proxy; {runs} runs; {cores} cores, load average {load0} at the "
      f"start, {load1} at the end")
print()
q = {}
for line in open(work + "/queue.json"):
    j = json.loads(line)
    q.setdefault((j["store"], j["threads"]), []).append(j)
if q:
    print(f"{'queue: ' + jobs + ' empty jobs':40} {'threads':>7} {'enqueue/s':>10} "
          f"{'claim+complete/s':>17} {'xacts/job':>10}")
for (store, t), rs in sorted(q.items(), key=lambda kv: (kv[0][0] != "postgresql", kv[0][1])):
    x = [r["xacts_per_job"] for r in rs if "xacts_per_job" in r]
    print(f"{store:40} {t:7d} {med(r['enqueue_per_s'] for r in rs):10.0f} "
          f"{med(r['claim_complete_per_s'] for r in rs):17.0f} "
          f"{(f'{med(x):.2f}' if x else '-'):>10}")
print()
e = {}
for line in open(work + "/e2e.txt"):
    p, s, x, r = line.split()
    e.setdefault(int(p), []).append((float(s), int(x), int(r)))
print(f"{'end to end: %d clips 640x360 %s s' % (n, secs):40} {'procs':>7} {'s/batch':>10} "
      f"{'videos/min':>17} {'xacts/job':>10} {'S3 req/job':>10}")
for p, rs in sorted(e.items()):
    s = med(r[0] for r in rs)
    print(f"{'worker processes (1 thread each)':40} {p:7d} {s:10.2f} {n / s * 60:17.1f} "
          f"{med(r[1] for r in rs) / n:10.2f} {med(r[2] for r in rs) / n:10.2f}")
jt = [float(l) for l in open(work + "/jobtimes.txt") if l.strip()]
lt = [float(l) for l in open(work + "/local.txt") if l.strip()]
print()
print(f"a job's overhead: median job time in the workers' logs {med(jt):.2f} s "
      f"({len(jt)} jobs), `vidpipe proxy` on the same clips from local disk {med(lt):.2f} s: "
      f"{med(jt) - med(lt):+.2f} s per job for the S3 transfers (original "
      f"~{secs} s x 2.1 Mb/s down, proxy + thumbnail up) and the database")
print("xacts/job: committed PostgreSQL transactions per job (queue: claim + complete; end to "
      "end: also the read of the video's previous result, heartbeats every "
      f"{int(lease) // 3} s, each process's watchdog and upload expiry, idle wake-ups)")
PY
