#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# run_with_pg.sh PROGRAM [ARGS...]: run PROGRAM against a PostgreSQL cluster of its own
# (tests/pg/pg_lib.sh), stopped and removed afterwards whatever PROGRAM's fate. PROGRAM gets
#   VP_TEST_STORE  the server's URI without a database ("postgresql://vidpipe@127.0.0.1:PORT")
#   VP_TEST_DB     a fresh database on it ("$VP_TEST_STORE/vidpipe_test")
#   VP_PG_LIB, VP_PG_DIR   to restart the server mid-test: "$VP_PG_LIB restart $VP_PG_DIR"
# Exit: PROGRAM's status; 77 (skip) when PostgreSQL cannot be installed.
set -u

lib=$(cd "$(dirname "$0")" && pwd)/pg_lib.sh
dir=$(mktemp -d /tmp/vp_pg.XXXXXX) || exit 1
chmod 755 "$dir"
cleanup() {
    sh "$lib" stop "$dir" || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

uri=$(sh "$lib" start "$dir")
rc=$?
[ $rc = 0 ] || exit $rc
echo "run_with_pg: server at $uri ($dir)" >&2

psql -X -q "$uri/postgres" -c "CREATE DATABASE vidpipe_test" || exit 1

VP_TEST_STORE=$uri VP_TEST_DB=$uri/vidpipe_test VP_PG_LIB=$lib VP_PG_DIR=$dir
export VP_TEST_STORE VP_TEST_DB VP_PG_LIB VP_PG_DIR
"$@"
rc=$?
exit $rc
