# SPDX-License-Identifier: LGPL-2.1-or-later
# The judges of a channel's MPEG-TS, shared by tests/live/judges_selftest.sh (which shows each
# one fails on a broken stream) and tests/live/channels_e2e.sh (sourced after
# tests/cli/lib.sh). Each sets JUDGE_OUT to what it saw and returns non-zero on a fault.

LIVE_DIR="$VP_SRCDIR/tests/live"
# numpy is Debian's (python3-numpy); a python3 earlier on PATH may not have it
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=python3

# judge_ts_check FILE [ts_check.py options]: TR 101 290 style check (tests/live/ts_check.py)
judge_ts_check() {
    JUDGE_OUT=$(python3 "$LIVE_DIR/ts_check.py" "$@")
}

# judge_tsreport FILE: Debian tstools' `tsreport -b` reports no CC error, no DTS going back,
# no PCR going back and no gap between PCRs over 0.1 s. tsreport always exits 0: its
# faults are the lines starting with "###" or "!!!".
judge_tsreport() {
    JUDGE_OUT=$(tsreport -b "$1" 2>&1)
    faults=$(echo "$JUDGE_OUT" | grep -E '^ *(###|!!!)')
    gaps=$(echo "$JUDGE_OUT" | sed -n 's/.*Bad (>.1s) gaps: \([0-9]*\).*/\1/p')
    if [ -n "$faults" ] || [ "${gaps:-x}" != 0 ]; then
        JUDGE_OUT="$faults
bad PCR gaps: ${gaps:-no PCR summary}"
        return 1
    fi
    JUDGE_OUT=$(echo "$JUDGE_OUT" | grep -E 'PCRs found|DTS-last DTS|CC: first')
}

# judge_ffmpeg FILE: FFmpeg decodes every frame without a warning.
judge_ffmpeg() {
    JUDGE_OUT=$(ffmpeg -nostdin -v warning -i "$1" -f null - 2>&1)
    [ -z "$JUDGE_OUT" ]
}

# VLC refuses to run as root: as root, run it as nobody with a home of its own. Its log
# lines get the seconds since the start in front (VLC's own have no time), so the judge can
# tell start-up from steady playback. A 3 s network cache, as IPTV players use, absorbs the
# join burst of a live channel.
VLC_BAD='discontinuity|late picture|picture is too late|is called too late|Could not convert timestamp|Timestamp conversion failed|decoder error|decode_slice_header error|buffer deadlock|PCR.*(reset|jump)'
vlc_stamp() {
    python3 -u -c 'import sys, time
t0 = time.monotonic()
for line in sys.stdin:
    sys.stdout.write("%.3f %s" % (time.monotonic() - t0, line))'
}
vlc_as_user() { # LOG TIMEOUT ARGS...
    log=$1 limit=$2
    shift 2
    vhome="$WORK/vlc-home"
    mkdir -p "$vhome"
    if [ "$(id -u)" = 0 ]; then
        chown 65534 "$vhome"
        HOME=$vhome timeout "$limit" setpriv --reuid=65534 --regid=65534 --clear-groups \
            cvlc -vv --no-video-title-show --vout=dummy --aout=dummy --intf=dummy \
            --no-interact --network-caching=3000 "$@" 2>&1 | vlc_stamp > "$log"
    else
        HOME=$vhome timeout "$limit" cvlc -vv --no-video-title-show --vout=dummy --aout=dummy \
            --intf=dummy --no-interact --network-caching=3000 "$@" 2>&1 | vlc_stamp > "$log"
    fi
}

# judge_vlc_log LOG: VLC decoded video without discontinuity or lateness messages. The
# first pictures after VLC's buffering (up to 1 s) may come late on a busy machine: VLC
# starts its clock before it has decoded them; those lines are shown, not counted. Later,
# one or two pictures late by less than 100 ms are VLC starved of CPU on a shared 2-core
# machine (seen only under ASan, where the server takes most of it): shown, not counted. A
# stream whose timing is wrong makes VLC late on every picture after the fault, and
# continuity or timestamp faults say "discontinuity": those always count.
judge_vlc_log() {
    JUDGE_OUT=$(python3 - "$1" "$VLC_BAD" <<'PY'
import re, sys
bad_re = re.compile(sys.argv[2], re.I)
late_re = re.compile("late picture|picture is too late", re.I)
missing_re = re.compile(r"missing (\d+)")
start, bad, startup, stray = None, {}, 0, []
for line in open(sys.argv[1], errors="replace"):
    t, _, msg = line.partition(" ")
    msg = re.sub(r"^\[[0-9a-f]+\] ", "", msg.strip())
    if start is None and "Stream buffering done" in msg:
        start = float(t)
    if bad_re.search(msg):
        if late_re.search(msg) and start is not None and float(t) < start + 1.0:
            startup += 1
            continue
        m = missing_re.search(msg)
        if late_re.search(msg) and m and int(m.group(1)) < 100:
            stray.append(msg)
            continue
        bad[msg] = bad.get(msg, 0) + 1
if len(stray) > 2:
    for m in stray:
        bad[m] = bad.get(m, 0) + 1
for m, n in list(bad.items())[:20]:
    print("%d x %s" % (n, m))
if startup:
    print("(start-up, not counted: %d late pictures within 1 s of the start)" % startup, file=sys.stderr)
if stray and len(stray) <= 2:
    print("(not counted: %d picture(s) late by < 100 ms: %s)" % (len(stray), "; ".join(stray)),
          file=sys.stderr)
PY
)
    if ! grep -q 'avcodec decoder debug: codec (h264) started' "$1"; then
        JUDGE_OUT="VLC decoded no video ($(grep -c . "$1") log lines)
$JUDGE_OUT"
        return 1
    fi
    [ -z "$JUDGE_OUT" ]
}

# judge_vlc_file FILE: VLC plays FILE to its end (real time) cleanly.
judge_vlc_file() {
    vdir="$WORK/vlc-files"
    mkdir -p "$vdir"
    chmod 755 "$WORK" "$vdir"
    cp "$1" "$vdir/"
    f="$vdir/$(basename "$1")"
    chmod 644 "$f"
    vlc_as_user "$f.vlc.log" 90 --play-and-exit "$f"
    judge_vlc_log "$f.vlc.log"
}

# ts_report_value JSON KEY: a top-level number of ts_check.py's report
ts_report_value() {
    echo "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$2"
}
ts_violations() {
    echo "$1" | python3 -c 'import json, sys; r = json.load(sys.stdin); print(" ".join(sorted(r["violations"])) or "none")'
}

# hlsjs_install: hls.js from npm into ~/.cache/vidpipe-npm (outside the tree), once
HLSJS_DIR=${HLSJS_DIR:-$HOME/.cache/vidpipe-npm}
hlsjs_install() {
    [ -s "$HLSJS_DIR/node_modules/hls.js/dist/hls.min.js" ] && return 0
    command -v npm >/dev/null 2>&1 || return 1
    mkdir -p "$HLSJS_DIR"
    (
        flock 9
        [ -s "$HLSJS_DIR/node_modules/hls.js/dist/hls.min.js" ] ||
            timeout 300 npm install --prefix "$HLSJS_DIR" --no-audit --no-fund --silent hls.js@1 \
                >/dev/null 2>&1
    ) 9>"$HLSJS_DIR/.lock"
    [ -s "$HLSJS_DIR/node_modules/hls.js/dist/hls.min.js" ]
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# media_copy: tests/live/make_media.sh's media copied into $WORK/media (M), the config's
# schedules starting now (a test rewrites it; the server caches into $WORK)
media_copy() {
    sh "$LIVE_DIR/make_media.sh" "$VP_MEDIA/live" || return 1
    M="$WORK/media"
    mkdir -p "$M"
    cp "$VP_MEDIA/live"/*.mp4 "$VP_MEDIA/live"/*.json "$M/"
    python3 - "$M/channels.json" <<'PY'
import datetime, json, sys
c = json.load(open(sys.argv[1]))
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
for ch in c["channels"]:
    ch["start"] = now
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
}

# server_start CONFIG: `vidpipe channels CONFIG` on a free loopback port, cache in
# $WORK/cache, stderr in $WORK/server.log; sets SERVER (pid) and BASE (http://HOST:PORT).
# Returns 1 when it does not say "listening on http://HOST:PORT" within 20 s.
server_start() {
    port=$(free_port)
    BASE="http://127.0.0.1:$port"
    "$VIDPIPE" channels "$1" --listen "127.0.0.1:$port" --cache "$WORK/cache" \
        2> "$WORK/server.log" &
    SERVER=$!
    for i in $(seq 200); do
        grep -q "listening on $BASE" "$WORK/server.log" && return 0
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/server.log"
    kill "$SERVER" 2>/dev/null
    return 1
}

# server_stop: SIGTERM; returns the server's exit code (124 when still running after 10 s,
# then it is killed)
server_stop() {
    kill -TERM "$SERVER"
    for i in $(seq 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER" 2>/dev/null; then
        kill -KILL "$SERVER"
        wait "$SERVER"
        return 124
    fi
    wait "$SERVER"
}

# get PATH: body in $WORK/body, HTTP status in STATUS
get() {
    STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 20 "$BASE$1")
}
