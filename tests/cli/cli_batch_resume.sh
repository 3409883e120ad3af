#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe batch after kill -9: no file under a final name is partial, and a rerun finishes
# the rest and removes the interrupted run's temporary files. Then: peak memory is flat
# from 20 to 400 outputs.
. "$VP_SRCDIR/tests/cli/lib.sh"
. "$VP_SRCDIR/tests/cli/batch_media.sh"

count_outputs() { find "$1" -maxdepth 1 -name 'c*.mp4' | wc -l; }
# wait_outputs DIR N PID: until DIR holds N outputs, PID has ended, or 30 s have passed.
wait_outputs() {
    tries=0
    while [ "$(count_outputs "$1" 2>/dev/null || echo 0)" -lt "$2" ] &&
          kill -0 "$3" 2>/dev/null && [ $tries -lt 3000 ]; do
        sleep 0.01
        tries=$((tries + 1))
    done
}

# ---- kill -9 in the middle, then rerun ----------------------------------------------------
N=40
P=$WORK/personal
O=$WORK/out
mkdir -p "$P"
i=1
while [ $i -le $N ]; do
    if [ $((i % 2)) = 0 ]; then ln "$CLIP_A" "$P/c$i.mp4"; else ln "$CLIP_B" "$P/c$i.mp4"; fi
    i=$((i + 1))
done
"$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$O" -j 2 \
    >"$WORK/killed.out" 2>&1 &
pid=$!
wait_outputs "$O" 3 $pid
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
after_kill=$(count_outputs "$O")
temps=$(find "$O" -name '.*vptmp*' | wc -l)
echo "after kill -9: $after_kill of $N outputs, $temps temporary files"
[ "$after_kill" -lt $N ] || echo "note: the batch ended before the kill; resume is still checked"
# Whatever has a final name is complete.
for f in "$O"/c*.mp4; do
    [ -e "$f" ] || continue
    assert_output "$f" $FRAMES "after kill: $(basename "$f")"
done
# The report of the killed run has whole lines only, one per finished item.
check
python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' \
    "$O/vidpipe-report.jsonl" || fail "after kill: the report has a partial line"
# (an output renamed into place just before the kill may miss its line: at most one per
# worker)
done_lines=$(grep -c '"status":"done"' "$O/vidpipe-report.jsonl")
check
[ "$done_lines" -le "$after_kill" ] && [ "$done_lines" -ge $((after_kill - 2)) ] ||
    fail "after kill: $done_lines report lines for $after_kill complete outputs"
# As if the kill had hit during a write: a partial temporary file of one of this batch's
# outputs (removed by the rerun) and one that is not this batch's (left alone).
head -c 3000 "$CLIP_A" > "$O/.c$N.mp4.vptmp-Kx9a2Q"
head -c 3000 "$CLIP_A" > "$O/.someone-else.mp4.vptmp-Zz0000"
run "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$O" -j 2 --json
assert_eq "$RC" 0 "rerun: exit code ($ERR)"
assert_eq "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin);
print(d["done"] + d["skipped"], d["skipped"], d["failed"], d["stale_removed"] >= 1)')" \
    "$N $after_kill 0 True" "rerun: done + skipped, skipped = complete before, stale removed"
assert_eq "$(count_outputs "$O")" $N "rerun: every output"
for f in "$O"/c*.mp4; do
    assert_output "$f" $FRAMES "rerun: $(basename "$f")"
done
assert_eq "$(find "$O" -name '.*vptmp*' | tr '\n' ' ')" "$O/.someone-else.mp4.vptmp-Zz0000 " \
    "rerun: only the other batch's temporary file is left"
assert_eq "$(grep -c 'temporary file of an interrupted run' "$O/vidpipe-batch.log")" \
    "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stale_removed"])')" \
    "rerun: the log names each removed temporary file"

# ---- Ctrl-C: the items in progress finish, the rest are not started ---------------------
# (SIGINT now, as a person's Ctrl-C: SIGTERM abandons the items in progress too, which
# cli_signals.sh checks. A background job of sh ignores SIGINT: sigint_ok undoes that.)
O2=$WORK/out-term
sigint_ok "$VIDPIPE" batch --intro "$INTRO" --outro "$OUTRO" --personal "$P" --out "$O2" -j 2 \
    >"$WORK/term.out" 2>"$WORK/term.err" &
pid=$!
wait_outputs "$O2" 3 $pid
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
n=$(count_outputs "$O2")
echo "after SIGINT: exit status $rc, $n of $N outputs"
no_temps "$O2" "SIGINT: items in progress finished"
for f in "$O2"/c*.mp4; do
    assert_output "$f" $FRAMES "after SIGINT: $(basename "$f")"
done
if [ $rc -eq 0 ]; then
    echo "note: the batch ended before SIGINT"
else
    assert_eq $rc 130 "SIGINT: dies of the signal"
    assert_contains "$(cat "$WORK/term.out")" "not started (interrupted)" "SIGINT: summary"
    assert_contains "$(cat "$WORK/term.err")" "batch: finishing what is in progress" \
        "SIGINT: says what it does"
    assert_eq "$(grep -c 'interrupted by SIGINT' "$WORK/term.err")" 1 "SIGINT: one line"
    assert_contains "$(cat "$O2/vidpipe-batch.log")" "batch cancelled: $n done, 0 skipped" \
        "SIGINT: log"
    assert_eq "$(wc -l < "$O2/vidpipe-report.jsonl")" "$n" "SIGINT: report lines"
fi

# ---- memory is flat from 20 to 400 outputs -----------------------------------------------
if ldd "$VIDPIPE" | grep -q libasan; then
    echo "memory check skipped under AddressSanitizer (its quarantine grows)"
elif [ ! -x /usr/bin/time ]; then
    echo "memory check skipped: /usr/bin/time is not installed"
else
    for n in 20 400; do
        mkdir -p "$WORK/m$n"
        i=1
        while [ $i -le $n ]; do ln "$CLIP_A" "$WORK/m$n/c$i.mp4"; i=$((i + 1)); done
        /usr/bin/time -f %M -o "$WORK/rss$n" "$VIDPIPE" batch --intro "$INTRO" \
            --outro "$OUTRO" --personal "$WORK/m$n" --out "$WORK/mo$n" -j 1 >/dev/null 2>&1
        assert_eq "$(count_outputs "$WORK/mo$n")" $n "memory: $n outputs"
    done
    rss20=$(cat "$WORK/rss20")
    rss400=$(cat "$WORK/rss400")
    echo "max RSS: $rss20 kB for 20 outputs, $rss400 kB for 400"
    # One worker: two threads' malloc arenas peak at different moments from run to run on a
    # busy machine (seen: +2.7 MB with -j 2). Anything kept per item (a result, an index)
    # of 10 kB or more would still add 4 MB over 380 more items.
    check
    [ $((rss400 - rss20)) -lt 4096 ] ||
        fail "memory: max RSS grew from $rss20 kB (20 outputs) to $rss400 kB (400)"
fi

finish
