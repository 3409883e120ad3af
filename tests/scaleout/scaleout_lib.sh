# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the scale-out tests (tests/scaleout/so_*.sh, issue 15: "Faults the tests must
# show survived"), sourced after tests/cli/lib.sh (WORK, the assertions, media()). A test
# runs the distributed service on one machine, each part a real process on loopback with
# folders of its own under $WORK, stopped by its PID:
#   - PostgreSQL: a throw-away cluster (tests/pg/pg_lib.sh), database "vidpipe" (DB);
#   - S3: s3rver behind tests/s3/s3_proxy.py (every request's SigV4 signature checked by the
#     'aws4' npm package; faults switched at run time with so_faults), by so_s3.py (STORAGE);
#   - API nodes: `vidpipe serve --workers 0 --db $DB --storage $STORAGE` (so_api);
#   - workers: `vidpipe worker` when this build has it, else `vidpipe serve --workers N`
#     (the same worker threads) (so_worker).
# Each process has a NAME: its PID in $WORK/NAME.pid, its stderr in $WORK/NAME.log (a
# restart appends), an API node's base URL in $WORK/NAME.base.
# Exit 77 (skip) only when PostgreSQL or s3rver cannot be installed.

SO_DIR="$VP_SRCDIR/tests/scaleout"
PG_LIB="$VP_SRCDIR/tests/pg/pg_lib.sh"
CLIENT="$VP_SRCDIR/tests/serve/serve_client.py"
LEASE=${LEASE:-3}
BUCKET=vidpipe-test
PREFIX=so
S3_DAEMON=""
PG_UP=0

so_cleanup() {
    for f in "$WORK"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill -CONT "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    if [ -n "$S3_DAEMON" ]; then
        kill -TERM "$S3_DAEMON" 2>/dev/null
        wait "$S3_DAEMON" 2>/dev/null
    fi
    [ "$PG_UP" = 1 ] && sh "$PG_LIB" stop "$WORK/pg" >/dev/null 2>&1
    if [ "$T_FAILS" != 0 ] && [ -n "${VP_KEEP:-}" ]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap so_cleanup EXIT
trap 'exit 130' INT TERM

# so_pg_start: a PostgreSQL cluster in $WORK/pg and its database "vidpipe"; sets DB, PG_URI
so_pg_start() {
    mkdir -p "$WORK/pg"
    chmod 755 "$WORK" "$WORK/pg"
    PG_URI=$(sh "$PG_LIB" start "$WORK/pg")
    rc=$?
    [ $rc = 77 ] && exit 77
    [ $rc = 0 ] || { echo "FAIL: PostgreSQL did not start"; exit 1; }
    PG_UP=1
    psql -X -q "$PG_URI/postgres" -c "CREATE DATABASE vidpipe" || exit 1
    DB="$PG_URI/vidpipe"
}

# so_pg_restart: stop the server (fast: every client connection is cut) and start it again
so_pg_restart() { sh "$PG_LIB" restart "$WORK/pg"; }

# sql QUERY: the rows as psql -A -t prints them ('|' between columns)
sql() { psql -X -A -t -q "$DB" -c "$1"; }

# so_s3_start: s3rver + the checking proxy; sets S3_ENDPOINT, S3_PORT, STORAGE and the AWS_*
# variables (s3rver's account)
so_s3_start() {
    mkdir -p "$WORK/s3env"
    python3 "$SO_DIR/so_s3.py" serve "$WORK/s3env" 2> "$WORK/s3env.log" &
    S3_DAEMON=$!
    for _ in $(seq 600); do
        [ -f "$WORK/s3env/s3.env" ] && break
        if ! kill -0 "$S3_DAEMON" 2>/dev/null; then
            wait "$S3_DAEMON"
            rc=$?
            S3_DAEMON=""
            [ $rc = 77 ] && { cat "$WORK/s3env.log"; exit 77; }
            echo "FAIL: the S3 server did not start:"
            cat "$WORK/s3env.log"
            exit 1
        fi
        sleep 0.1
    done
    . "$WORK/s3env/s3.env"
    STORAGE="s3://$BUCKET/$PREFIX?endpoint=$S3_ENDPOINT&backoff_ms=20&timeout=10"
    AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
    unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_PROFILE
}

# so_faults KEY=N...: the proxy's faults (s3_proxy.py: every503, drop_get, drop_put, ...)
so_faults() {
    q=$(echo "$*" | tr ' ' '&')
    curl -s -f "$S3_ENDPOINT/__ctl/faults?$q" > /dev/null || fail "cannot set the faults $q"
}
# so_s3_stats: the proxy's counters (JSON)
so_s3_stats() { curl -s -f "$S3_ENDPOINT/__ctl/stats"; }
# so_keys [SUBPREFIX]: every key in the bucket under $PREFIX/SUBPREFIX, sorted, straight from
# s3rver
so_keys() { python3 "$SO_DIR/so_s3.py" list "$S3_PORT" "$PREFIX/${1:-}" | sort; }

# so_migrate: the schema, made by the build's own migration when it has `serve --migrate`
# (else every process migrates at start)
so_migrate() {
    if "$VIDPIPE" serve --help 2>&1 | grep -q -- '--migrate'; then
        mkdir -p "$WORK/migrate"
        "$VIDPIPE" serve --migrate --data "$WORK/migrate" --db "$DB" --storage "$STORAGE" \
            > /dev/null 2>> "$WORK/migrate.log" || { fail "serve --migrate failed"; \
            cat "$WORK/migrate.log"; exit 1; }
    fi
}

# so_wait_listen NAME: the port of NAME's {"event":"listening"} line into $WORK/NAME.base
so_wait_listen() {
    for _ in $(seq 300); do
        port=$(grep '"event": *"listening"' "$WORK/$1.out" |
            sed -n 's/.*"port": *\([0-9]*\).*/\1/p' | head -1)
        if [ -n "$port" ]; then
            echo "http://127.0.0.1:$port" > "$WORK/$1.base"
            return 0
        fi
        kill -0 "$(cat "$WORK/$1.pid")" 2>/dev/null || break
        sleep 0.1
    done
    fail "$1 did not listen: $(tail -5 "$WORK/$1.log")"
    return 1
}

# so_api NAME: start an API node (no workers)
so_api() {
    mkdir -p "$WORK/$1.data" "$WORK/$1.tmp"
    "$VIDPIPE" serve --data "$WORK/$1.data" --tmp "$WORK/$1.tmp" --listen 127.0.0.1:0 --json \
        --workers 0 --lease "$LEASE" --db "$DB" --storage "$STORAGE" \
        > "$WORK/$1.out" 2>> "$WORK/$1.log" &
    echo $! > "$WORK/$1.pid"
    so_wait_listen "$1"
}
so_base() { cat "$WORK/$1.base"; }
so_pid() { cat "$WORK/$1.pid"; }

# so_worker NAME [THREADS]: start a worker process (1 thread by default) with its scratch in
# $WORK/NAME.tmp (the same folder on a restart of NAME)
so_worker() {
    mkdir -p "$WORK/$1.data" "$WORK/$1.tmp"
    if "$VIDPIPE" worker --help > /dev/null 2>&1; then
        "$VIDPIPE" worker --db "$DB" --storage "$STORAGE" --workers "${2:-1}" \
            --lease "$LEASE" --tmp "$WORK/$1.tmp" > "$WORK/$1.out" 2>> "$WORK/$1.log" &
        echo $! > "$WORK/$1.pid"
        sleep 0.3
        kill -0 "$(cat "$WORK/$1.pid")" 2>/dev/null ||
            { fail "worker $1 exited at start: $(tail -5 "$WORK/$1.log")"; return 1; }
    else
        "$VIDPIPE" serve --data "$WORK/$1.data" --tmp "$WORK/$1.tmp" --listen 127.0.0.1:0 \
            --json --workers "${2:-1}" --lease "$LEASE" --db "$DB" --storage "$STORAGE" \
            > "$WORK/$1.out" 2>> "$WORK/$1.log" &
        echo $! > "$WORK/$1.pid"
        so_wait_listen "$1"
    fi
}

# so_stop NAME: SIGTERM, up to 30 s, then SIGKILL; SO_RC is its exit code (124: killed)
so_stop() {
    pid=$(cat "$WORK/$1.pid" 2>/dev/null) || return 0
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
    n=300
    while [ $n -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
        sleep 0.1
        n=$((n - 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        SO_RC=124
    else
        wait "$pid"
        SO_RC=$?
    fi
    rm -f "$WORK/$1.pid"
}
# so_kill9 NAME: kill -9, reaped
so_kill9() {
    pid=$(cat "$WORK/$1.pid")
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    rm -f "$WORK/$1.pid"
}

# so_upload NAME FILE FILENAME: a whole upload to API node NAME; sets VID and JOB
so_upload() {
    body=$(curl -s --max-time 60 -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary "@$2" "$(so_base "$1")/api/v1/videos?filename=$3")
    VID=$(printf '%s' "$body" | python3 -c 'import json, sys
try: print(json.load(sys.stdin)["video_id"])
except Exception: print("")')
    JOB=$(printf '%s' "$body" | python3 -c 'import json, sys
try: print(json.load(sys.stdin)["job_id"])
except Exception: print("")')
    [ -n "$JOB" ] || { fail "upload of $3 to $1: $body"; return 1; }
}

# so_job_field JOB COLUMN: one column of the job's row (jobs table)
so_job_field() { sql "SELECT $2 FROM jobs WHERE id = $1"; }

# so_wait_sql QUERY WANT SECONDS: poll until QUERY prints WANT; 1 at the timeout
so_wait_sql() {
    n=$(($3 * 5))
    while [ $n -gt 0 ]; do
        [ "$(sql "$1" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.2
        n=$((n - 1))
    done
    return 1
}

# so_worker_of JOB: the NAME of the process whose worker holds JOB (jobs.worker is
# HOST:PID:wN), or ""
so_worker_of() {
    wpid=$(so_job_field "$1" worker | cut -d: -f2)
    for f in "$WORK"/*.pid; do
        [ -f "$f" ] && [ "$(cat "$f")" = "$wpid" ] && { basename "$f" .pid; return; }
    done
}

# so_verify [ARGS]: tests/scaleout/so_verify.py against $DB and the bucket (see there)
so_verify() {
    python3 "$SO_DIR/so_verify.py" --db "$DB" --s3-port "$S3_PORT" --bucket "$BUCKET" \
        --prefix "$PREFIX" "$@" > "$WORK/verify.out" 2>&1
    r=$?
    cat "$WORK/verify.out"
    check
    [ $r = 0 ] || fail "so_verify $*: see above"
}

# no_sanitizer_reports: no ASan/UBSan/LSan report in any vidpipe log of this test
no_sanitizer_reports() {
    check
    if cat "$WORK"/*.log 2>/dev/null |
            grep -qE 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:'; then
        fail "sanitizer report in a log"
        grep -E -A20 'Sanitizer|runtime error' "$WORK"/*.log | head -60
    fi
}

# tiny clips, made once per build: 160x120, 2 s, H.264 + AAC (about 30 kB)
so_tiny() {
    media so_tiny.mp4 -f lavfi -i testsrc2=s=160x120:r=25:d=2 -f lavfi -i sine=f=440:d=2 \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 48k
}
# two S3 parts (5 MiB each at most): 160x120 noise at 12 Mb/s, 6 s, about 8 MiB
so_big() {
    media so_big8m.mp4 -f lavfi -i "testsrc2=s=160x120:r=25:d=6,noise=alls=100:allf=t" \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -b:v 12M -maxrate 12M -bufsize 4M
}
# a job of a few seconds (kill -9, SIGSTOP mid-job): 320x240 noise, 30 s
so_long() {
    media so_long30.mp4 -f lavfi -i "testsrc2=s=320x240:r=30:d=30,noise=alls=10:allf=t" \
        -f lavfi -i sine=f=440:d=30 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -crf 30 \
        -c:a aac -b:a 64k
}
