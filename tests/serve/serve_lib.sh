# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the end-to-end tests of `vidpipe serve` (tests/serve/serve_*.sh), sourced after
# tests/cli/lib.sh (WORK, the assertions, media()). A test starts a real server on a free
# loopback port with a data folder of its own, drives it over HTTP with curl and
# tests/serve/serve_client.py, and stops it by its PID.

SERVE_DIR="$VP_SRCDIR/tests/serve"
CLIENT="$SERVE_DIR/serve_client.py"
DATA="$WORK/data"
SERVE_TMP="$WORK/tmp"
SERVER=""
BASE=""
SERVE_RUN=0
mkdir -p "$DATA" "$SERVE_TMP"

# serve_start [OPTIONS...]: `vidpipe serve --data $DATA --listen 127.0.0.1:0 --json --tmp
# $SERVE_TMP OPTIONS`; waits (20 s at most) for its {"event":"listening", "port": N} line on
# standard output. Sets SERVER (pid), BASE (http://127.0.0.1:PORT) and SERVE_OUT/SERVE_LOG
# (its stdout and stderr, one pair per start). Returns 1, with the log shown, when it does
# not listen.
serve_start() {
    SERVE_RUN=$((SERVE_RUN + 1))
    SERVE_OUT="$WORK/serve$SERVE_RUN.out"
    SERVE_LOG="$WORK/serve$SERVE_RUN.log"
    "$VIDPIPE" serve --data "$DATA" --listen 127.0.0.1:0 --json --tmp "$SERVE_TMP" "$@" \
        > "$SERVE_OUT" 2> "$SERVE_LOG" &
    SERVER=$!
    for i in $(seq 200); do
        port=$(python3 - "$SERVE_OUT" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if isinstance(e, dict) and e.get("event") == "listening" and isinstance(e.get("port"), int):
        print(e["port"])
        break
PY
)
        if [ -n "$port" ]; then
            BASE="http://127.0.0.1:$port"
            return 0
        fi
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.1
    done
    echo "--- vidpipe serve did not listen; stdout:"
    cat "$SERVE_OUT"
    echo "--- stderr:"
    cat "$SERVE_LOG"
    kill -KILL "$SERVER" 2>/dev/null
    wait "$SERVER" 2>/dev/null
    SERVER=""
    return 1
}

# serve_start_or_die [OPTIONS...]: serve_start, else the test fails at once
serve_start_or_die() {
    serve_start "$@" && return 0
    fail "vidpipe serve $* did not print its listening line within 20 s"
    finish
    exit 1
}

# serve_stop: SIGTERM to the server; waits up to ${1:-30} s. Sets SERVE_RC to its exit code
# (124 when it was still running then and had to be killed).
serve_stop() {
    [ -n "$SERVER" ] || return 0
    kill -TERM "$SERVER" 2>/dev/null
    n=$((${1:-30} * 10))
    while [ "$n" -gt 0 ] && kill -0 "$SERVER" 2>/dev/null; do
        sleep 0.1
        n=$((n - 1))
    done
    if kill -0 "$SERVER" 2>/dev/null; then
        kill -KILL "$SERVER"
        wait "$SERVER" 2>/dev/null
        SERVE_RC=124
    else
        wait "$SERVER"
        SERVE_RC=$?
    fi
    SERVER=""
}

# serve_kill9: kill -9 of the server (a crash), reaped
serve_kill9() {
    kill -KILL "$SERVER"
    wait "$SERVER" 2>/dev/null
    SERVER=""
}

# Whatever happens, no server outlives its test.
serve_cleanup() {
    [ -n "$SERVER" ] && kill -KILL "$SERVER" 2>/dev/null
    [ -n "${SERVE_EXTRA_PIDS:-}" ] && kill -KILL $SERVE_EXTRA_PIDS 2>/dev/null
    rm -rf "$WORK"
}
trap serve_cleanup EXIT

# api METHOD PATH [CURL ARGS...]: the reply's body in $WORK/body (BODY), its status in
# STATUS, its headers in $WORK/head. AUTH (a token) is sent as a Bearer header when set.
api() {
    m=$1 p=$2
    shift 2
    if [ -n "${AUTH:-}" ]; then
        set -- -H "Authorization: Bearer $AUTH" "$@"
    fi
    STATUS=$(curl -s -X "$m" -D "$WORK/head" -o "$WORK/body" -w '%{http_code}' --max-time 30 \
        "$@" "$BASE$p")
    BODY=$(cat "$WORK/body")
}

# jq_ JSON EXPR: EXPR (Python, with the parsed JSON as `j`) printed; "" when JSON does not
# parse. Strings print bare, other values as JSON (null, true, 3, 2.5, [..]).
jq_() {
    printf '%s' "$1" | python3 -c 'import json, sys
try:
    j = json.load(sys.stdin)
    v = eval(sys.argv[1])
except Exception as e:
    print("<%s: %s>" % (type(e).__name__, e))
    sys.exit()
print(v if isinstance(v, str) else json.dumps(v))' "$2"
}

# assert_status WANT WHAT: the last api call answered WANT; an error status must come with
# the JSON error {"error": {"status": WANT, "message": "..."}} (a non-empty message).
assert_status() {
    assert_eq "$STATUS" "$1" "$2: HTTP status (body: $(printf '%s' "$BODY" | head -c 300))"
    case "$1" in
        2*) ;;
        *) assert_json_error "$1" "$2" ;;
    esac
}
assert_json_error() { # STATUS WHAT
    check
    r=$(printf '%s' "$BODY" | python3 -c 'import json, sys
want = int(sys.argv[1])
try:
    j = json.load(sys.stdin)
except ValueError:
    print("not JSON"); sys.exit()
e = j.get("error") if isinstance(j, dict) else None
if not isinstance(e, dict):
    print("no error object"); sys.exit()
if e.get("status") != want:
    print("error.status is %r" % (e.get("status"),)); sys.exit()
m = e.get("message")
if not isinstance(m, str) or not m.strip() or "\n" in m:
    print("error.message is %r (want one non-empty line)" % (m,)); sys.exit()
print("ok")' "$1")
    [ "$r" = ok ] || fail "$2: JSON error: $r: $(printf '%s' "$BODY" | head -c 300)"
    ctype=$(tr -d '\r' < "$WORK/head" | grep -i '^content-type:' | tail -1)
    assert_contains "$(echo "$ctype" | tr 'A-Z' 'a-z')" "application/json" "$2: Content-Type"
}

# client ARGS...: tests/serve/serve_client.py against $BASE (with AUTH); stdout in OUT,
# stderr in ERR, exit code in RC
client() {
    run python3 "$CLIENT" --base "$BASE" ${AUTH:+--token "$AUTH"} "$@"
}

# wait_job JOB [terminal|running|STATE] [SECONDS]: polls until the job reaches it; JOB_JSON
# is the job's last JSON; returns non-zero on timeout.
wait_job() {
    client wait "$1" --until "${2:-terminal}" --timeout "${3:-40}"
    JOB_JSON=$OUT
    [ "$RC" = 0 ]
}

# upload_whole FILE NAME [QUERY]: POST /api/v1/videos?filename=NAME[&QUERY] with curl
# --data-binary, as a curl user would. Sets STATUS, BODY, WVID and WJOB (the answer's ids).
upload_whole() {
    q="filename=$2"
    [ -n "${3:-}" ] && q="$q&$3"
    api POST "/api/v1/videos?$q" --data-binary "@$1" -H 'Content-Type: application/octet-stream'
    WVID=$(jq_ "$BODY" 'j["video_id"]')
    WJOB=$(jq_ "$BODY" 'j["job_id"]')
}

# ---- media (made once per build under $VP_MEDIA, shared by the serve tests) -------------
# 6 s, 320x240 30 fps H.264 + AAC, fast start, ~3.7 MB (four 1 MiB parts); noise keeps the
# bit rate up
serve_av() {
    media serve_av.mp4 -f lavfi -i "testsrc2=s=320x240:r=30:d=6,noise=alls=20:allf=t" \
        -f lavfi -i sine=f=440:d=6 -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
        -b:v 4500k -c:a aac -b:a 96k -movflags +faststart
}
# 2 s of picture and tone, small (whole uploads, pagination)
serve_small() {
    media serve_small.mp4 -f lavfi -i testsrc2=s=320x240:r=30:d=2 -f lavfi -i sine=f=660:d=2 \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 64k
}
# 3 s of picture alone
serve_noaudio() {
    media serve_noaudio.mp4 -f lavfi -i testsrc=s=320x240:r=25:d=3 -c:v libx264 \
        -preset ultrafast -pix_fmt yuv420p
}
# a QuickTime .mov, 3 s, H.264 + AAC
serve_mov() {
    media serve_clip.mov -f lavfi -i smptebars=s=320x240:r=24:d=3 -f lavfi -i sine=f=330:d=3 \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -f mov
}
# 40 s, 320x240 with noise: a job of several seconds (kill -9, drain, cancel, dashboard)
serve_long() {
    media serve_long40.mp4 -f lavfi -i "testsrc2=s=320x240:r=30:d=40,noise=alls=10:allf=t" \
        -f lavfi -i sine=f=440:d=40 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -crf 30 \
        -c:a aac -b:a 64k
}
# a text file named like a video
serve_text() {
    p="$VP_MEDIA/serve_text.mp4"
    [ -s "$p" ] || { seq 1 20000 | sed 's/^/line of plain text /' > "$p.$$" && mv "$p.$$" "$p"; }
    echo "$p"
}
# the first half of a fast-start MP4: its moov is whole (it decodes for a while), its mdat
# is cut
serve_truncated() {
    p="$VP_MEDIA/serve_truncated.mp4"
    if [ ! -s "$p" ]; then
        src=$(serve_av)
        head -c $(($(stat -c %s "$src") / 2)) "$src" > "$p.$$" && mv "$p.$$" "$p"
    fi
    echo "$p"
}

# no_sanitizer_reports: no ASan/UBSan/LSan report in any server log of this test
no_sanitizer_reports() {
    check
    if grep -qE 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:' "$WORK"/serve*.log; then
        fail "sanitizer report in a server's log"
        grep -E -A20 'Sanitizer|runtime error' "$WORK"/serve*.log | head -60
    fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

# objects_check WHAT: every file under $DATA/objects is a stored file the API serves (the
# original, proxy or thumbnail of a listed video, byte for byte), and no other file is
# there (no temporary, no half-written or orphaned object). Downloads each video's media.
objects_check() {
    check
    r=$(python3 "$CLIENT" --base "$BASE" ${AUTH:+--token "$AUTH"} objects-check "$DATA/objects" \
        2>&1) || fail "$1: files under DATA/objects that the API does not serve: $r"
}

# no_temp_files WHAT: no request body left in $DATA/staging, and nothing under $DATA named
# like a temporary (a dot file, *.tmp*, *.part*, *~), the SQLite database and its WAL aside
no_temp_files() {
    assert_eq "$(find "$DATA/staging" -type f 2>/dev/null | head -5)" "" "$1: DATA/staging empty"
    check
    t=$(find "$DATA" -type f \( -name '.*' -o -name '*.tmp*' -o -name '*tmp' -o -name '*.part' \
        -o -name '*~' -o -name '*.partial' \) ! -name '*.db' ! -name '*.db-wal' ! -name '*.db-shm' \
        2>/dev/null)
    [ -z "$t" ] || fail "$1: temporary files under DATA: $t"
}

# probe FILE: ffprobe's streams of FILE as compact lines (codec_type, codec_name, width,
# height, r_frame_rate)
probe() {
    ffprobe -v error -show_entries stream=codec_type,codec_name,width,height,r_frame_rate \
        -of compact=p=0:nk=0 "$1" 2>&1
}
# probe_field FILE STREAM_SELECTOR ENTRY: one value, e.g. probe_field f.mp4 v:0 height
probe_field() {
    ffprobe -v error -select_streams "$2" -show_entries "stream=$3" -of csv=p=0 "$1" 2>/dev/null |
        head -1
}
