#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the Debian packages vidpipe needs to build, test, demo and benchmark.
# Idempotent: asks apt-get only for what is missing, and does nothing when all is there.
set -eu

PKGS="build-essential meson ninja-build pkg-config
libavformat-dev libavcodec-dev libavfilter-dev libavutil-dev libswscale-dev libswresample-dev
ffmpeg python3 python3-numpy jq chromium curl"
# libjansson: JSON read from user files and written by every --json output
PKGS="$PKGS libjansson-dev"
# libevent (evhttp): the HTTP server of vidpipe channels
PKGS="$PKGS libevent-dev"
# libsqlite3: the job store of vidpipe serve (src/service/store_sqlite.c)
PKGS="$PKGS libsqlite3-dev"
# libpq: the job store on PostgreSQL (src/service/store_pg.c); the server for its tests
# (tests/pg/pg_lib.sh starts a throw-away cluster with initdb + pg_ctl)
PKGS="$PKGS libpq-dev postgresql"
# libmicrohttpd: the HTTP server of vidpipe serve (bodies streamed to disk, files sent by fd)
PKGS="$PKGS libmicrohttpd-dev"
# libcurl: the S3 storage of vidpipe serve (src/service/storage_s3.c)
PKGS="$PKGS libcurl4-openssl-dev"
# /usr/bin/time: peak memory of vidpipe batch in tests/cli/cli_batch_resume.sh
PKGS="$PKGS time"
# pocketsphinx: speech to captions (vidpipe subtitles transcribe) and its en-us model;
# espeak-ng speaks the known sentences of its tests (tests/cli/cli_transcribe.sh)
PKGS="$PKGS libpocketsphinx-dev pocketsphinx-en-us espeak-ng"
# xfsprogs, btrfs-progs: the XFS (reflink) and btrfs images on which joins share extents
# (tests/cli/cli_join_reflink.sh, bench/join.sh)
PKGS="$PKGS xfsprogs btrfs-progs"
# Peers the benchmarks compare with; optional for building and testing.
# tstools (tsreport) and VLC judge the channel streams in tests/live/
PKGS="$PKGS tstools vlc-bin vlc-plugin-base"
# npm fetches hls.js for the HLS tests (into ~/.cache/vidpipe-npm). A machine that has a
# Node.js of its own (NodeSource's nodejs package, or one outside dpkg) keeps it: Debian's
# npm would conflict with it.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
BENCH_PKGS="mkvtoolnix hyperfine python3-opencv bc"
# the Celery + Redis peer of bench/serve.sh (the queue overhead)
BENCH_PKGS="$BENCH_PKGS python3-celery python3-redis redis-server"
# the seed's transcription, the peer of bench/subtitles.sh: pocketsphinx_continuous
BENCH_PKGS="$BENCH_PKGS pocketsphinx"

want="$PKGS"
[ "${VIDPIPE_BENCH:-0}" = 1 ] && want="$want $BENCH_PKGS"

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
