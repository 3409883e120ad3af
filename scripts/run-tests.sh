#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds and runs the whole test suite in each build directory given (the second one with
# AddressSanitizer + UndefinedBehaviorSanitizer), then prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
normal=${1:-build}
asan=${2:-}
jobs=$(nproc 2>/dev/null || echo 2)
status=0

run_suite() {
    dir=$1; shift
    extra=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
    fi
    ninja -C "$dir" >/dev/null || ninja -C "$dir" || return 1
    # shellcheck disable=SC2086
    meson test -C "$dir" --print-errorlogs --num-processes "$jobs" --timeout-multiplier 3 \
        $extra || return 1
}

run_suite "$normal" "" --buildtype=debugoptimized || status=1
if [ -n "$asan" ]; then
    # halt_on_error makes UBSan findings fail the test instead of scrolling past.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
    # The scaleout suite (tests/scaleout/so_*: processes killed, stopped, a database
    # restarted, 200 jobs across 5 processes) runs one test at a time for 2.5 minutes and
    # judges the protocol between processes; the same server and worker code runs under the
    # sanitizers in the serve suite (serve_crash, worker_cli, serve_s3_presigned ...).
    # Suite once runs in the normal build only: the judges' self-tests (hls.js, VLC and the
    # Python judges against streams FFmpeg makes: none of vidpipe's code), the real-time
    # minute of live_channels_e2e (its server runs under the sanitizers in
    # live_channels_hls), cli_transcribe (pocketsphinx's time; the transcriber runs under
    # them in transcriber, cli_subtitles_auto and cli_run) and cli_batch_hls_chromium
    # (Chromium's time; the packager runs under them in cli_batch_hls). `make test` stays
    # near 15 minutes on 2 cores.
    run_suite "$asan" "--no-suite scaleout --no-suite once" --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fno-sanitize-recover=all || status=1
fi

python3 - "$normal" $asan <<'PY'
import json, sys, os
passed = failed = skipped = 0
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        failed += 1
        continue
    for line in open(log):
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
[ $? -eq 0 ] || status=1
exit $status
