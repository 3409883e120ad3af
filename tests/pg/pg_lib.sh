#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A throw-away PostgreSQL cluster for the tests (Debian's postgresql, initdb + pg_ctl):
#
#   pg_lib.sh start DIR     initdb in DIR/data, start it on a free loopback port (unix socket
#                           in DIR), print the server's URI "postgresql://vidpipe@127.0.0.1:PORT"
#                           (append "/DBNAME"; the database "postgres" always exists)
#   pg_lib.sh restart DIR   stop (fast: clients are cut off) and start again on the same port
#   pg_lib.sh stop DIR      stop the cluster by its own postmaster.pid (never by name)
#
# VP_PG_OPTS adds server settings at start ("-c synchronous_commit=off" for the benchmark's
# second run). The server refuses to run as root: as root the cluster belongs to a system user
# "vidpipe-pg" (made with useradd when missing). Exit 77 when PostgreSQL is not installed and
# cannot be (not root, or apt-get fails).
set -eu

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg_lib.sh start|restart|stop DIR" >&2; exit 2; }

bindir() {
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
    done
    return 1
}

if ! bin=$(bindir); then
    if [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends postgresql >/dev/null 2>&1 && bin=$(bindir); then
        :
    else
        echo "pg_lib: PostgreSQL (Debian package postgresql) is not installed and cannot be" >&2
        exit 77
    fi
fi

# as_owner CMD...: run as the cluster's owner.
if [ "$(id -u)" = 0 ]; then
    owner=vidpipe-pg
    if ! id "$owner" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$owner"
    fi
    as_owner() { runuser -u "$owner" -- "$@"; }
else
    owner=$(id -un)
    as_owner() { "$@"; }
fi

start() {
    port=$(cat "$dir/port")
    # Logs to DIR/log; -w waits until it accepts connections.
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir ${VP_PG_OPTS:-}" start \
            >/dev/null; then
        echo "pg_lib: the server in $dir did not start:" >&2
        tail -n 5 "$dir/log" >&2
        exit 1
    fi
}

case $cmd in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown "$owner" "$dir"
    # A free port now; another process could take it before the server binds, then the
    # start fails with "could not bind" in the log.
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' >"$dir/port"
    if ! as_owner "$bin/initdb" -D "$dir/data" -U vidpipe --auth=trust -E UTF8 --locale=C \
            --no-sync >"$dir/initdb.log" 2>&1; then
        echo "pg_lib: initdb failed in $dir:" >&2
        tail -n 5 "$dir/initdb.log" >&2
        exit 1
    fi
    start
    echo "postgresql://vidpipe@127.0.0.1:$(cat "$dir/port")"
    ;;
restart)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    start
    ;;
stop)
    # pg_ctl reads the postmaster's PID from DIR/data/postmaster.pid: this cluster only.
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
*)
    echo "pg_lib: unknown command $cmd" >&2
    exit 2
    ;;
esac
