#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Ctrl-C (SIGINT) and SIGTERM in the middle of every command that writes files: the command
# dies of the signal (exit status 130 / 143), says so in one line, and leaves no temporary
# file and no output it did not finish. encode-raw finishes its recording on the first
# SIGINT (a playable file of the frames fed); batch finishes the items in progress.
. "$VP_SRCDIR/tests/cli/lib.sh"

long=$(media sig_640x360_60s.mp4 -f lavfi -i testsrc2=s=640x360:r=30:d=60 \
       -f lavfi -i sine=d=60 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest)
small=$(media sig_320x240_2s.mp4 -f lavfi -i testsrc2=s=320x240:r=30:d=2 \
        -f lavfi -i sine=d=2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest)
tone=$(media sig_tone_60s.m4a -f lavfi -i sine=f=300:d=60 -c:a aac)

temps() { find "$1" -name '.*vptmp*' | tr '\n' ' '; }

# start WHEN DIR CMD...: runs CMD in the background (pid in $pid) and returns once it is
# surely mid-run and frozen (SIGSTOP): WHEN is "temp" (its temporary file exists in DIR) or
# "now" (0.1 s after its signal handlers are in place, for commands that write only at the
# end). $state is T if it was caught
# running, Z if it had already ended.
start() {
    when=$1 dir=$2
    shift 2
    sigint_ok "$@" >"$WORK/sig.out" 2>"$WORK/sig.err" &
    pid=$!
    i=0
    if [ "$when" = temp ]; then
        while [ -z "$(temps "$dir")" ] && [ $i -lt 1500 ] && kill -0 $pid 2>/dev/null; do
            sleep 0.01
            i=$((i + 1))
        done
    else
        # Its handlers installed (SigCgt has SIGINT, 0x2, and SIGTERM, 0x4000), it is at work.
        while [ $i -lt 1500 ] && kill -0 $pid 2>/dev/null &&
              [ $(( 0x$(sed -n 's/^SigCgt:\t*//p' /proc/$pid/status) & 0x4002 )) -ne $((0x4002)) ]
        do
            sleep 0.01
            i=$((i + 1))
        done
        sleep 0.1
    fi
    kill -STOP $pid 2>/dev/null
    state=
    while [ "$state" != T ] && [ "$state" != Z ] && [ -e /proc/$pid/stat ]; do
        state=$(cut -d' ' -f3 /proc/$pid/stat)
    done
}

# interrupt SIG WHEN NAME CMD... (CMD writes into $d, created empty): signals CMD mid-run
# and checks the outcome of an abandoned run.
interrupt() {
    sig=$1 when=$2 name=$3
    shift 3
    start "$when" "$d" "$@"
    kill -"$sig" $pid
    kill -CONT $pid
    wait $pid
    rc=$?
    check
    [ "$state" = T ] || fail "$name $sig: had ended before the signal"
    assert_eq $rc "$([ "$sig" = INT ] && echo 130 || echo 143)" "$name $sig: exit status"
    assert_eq "$(cat "$WORK/sig.err")" \
        "vidpipe: $name: interrupted by SIG$sig; no partial output left" "$name $sig: one line"
    assert_eq "$(temps "$d")" "" "$name $sig: no temporary file"
}

printf '{"presets": [{"name": "small", "base": "youtube", "width": 320, "height": 180}]}' \
    >"$WORK/presets.json"
for sig in INT TERM; do
    d=$WORK/proxy-$sig && mkdir "$d"
    interrupt $sig temp proxy "$VIDPIPE" proxy "$long" -o "$d/p.mp4" --thumb "$d/p.jpg" \
        --meta "$d/p.json"
    assert_eq "$(ls -A "$d")" "" "proxy $sig: no output"

    d=$WORK/export-$sig && mkdir "$d"
    interrupt $sig temp export "$VIDPIPE" export "$long" --presets "$WORK/presets.json" \
        --preset instagram,twitter,small -o "$d"
    assert_eq "$(ls -A "$d")" "" "export $sig: no output"

    d=$WORK/loudnorm-$sig && mkdir "$d"
    interrupt $sig temp loudnorm "$VIDPIPE" loudnorm "$long" -o "$d/l.mp4"
    assert_eq "$(ls -A "$d")" "" "loudnorm $sig: no output"

    d=$WORK/replace-$sig && mkdir "$d"
    interrupt $sig temp replace-audio "$VIDPIPE" replace-audio "$long" "$tone" -o "$d/r.mp4"
    assert_eq "$(ls -A "$d")" "" "replace-audio $sig: no output"

    d=$WORK/cleanup-$sig && mkdir "$d"
    interrupt $sig temp cleanup "$VIDPIPE" cleanup --eq 0,1.1,1 "$long" -o "$d/c.mp4"
    assert_eq "$(ls -A "$d")" "" "cleanup $sig: no output"

    d=$WORK/thumb-$sig && mkdir "$d"
    interrupt $sig now thumb "$VIDPIPE" thumb "$long" --grid 4x3 -o "$d/t.jpg"
    assert_eq "$(ls -A "$d")" "" "thumb $sig: no output"

    d=$WORK/qc-$sig && mkdir "$d"
    interrupt $sig now qc "$VIDPIPE" qc "$long" --html "$d/q.html"
    assert_eq "$(ls -A "$d")" "" "qc $sig: no report"

    d=$WORK/join-$sig && mkdir "$d"
    interrupt $sig temp join "$VIDPIPE" join --conform -o "$d/j.mp4" "$small" "$long"
    assert_eq "$(ls -A "$d")" "" "join $sig: no output"
done

# ---- batch: Ctrl-C finishes the item in progress, SIGTERM abandons it -------------------
for sig in INT TERM; do
    d=$WORK/batch-$sig && mkdir "$d"
    printf 'one.mp4,%s,%s\ntwo.mp4,%s,%s\n' "$small" "$long" "$small" "$long" >"$WORK/m.csv"
    start temp "$d" "$VIDPIPE" batch --manifest "$WORK/m.csv" --conform -j 1 --out "$d" \
        --log "$WORK/b-$sig.log" --report "$WORK/b-$sig.jsonl"
    kill -$sig $pid
    kill -CONT $pid
    wait $pid
    rc=$?
    check
    [ "$state" = T ] || fail "batch $sig: had ended before the signal"
    assert_eq "$(temps "$d")" "" "batch $sig: no temporary file"
    assert_eq "$(grep -c 'interrupted by SIG' "$WORK/sig.err")" 1 "batch $sig: one line"
    if [ $sig = INT ]; then
        assert_eq $rc 130 "batch INT: exit status"
        assert_contains "$(cat "$WORK/sig.err")" "batch: finishing what is in progress" \
            "batch INT: says it finishes"
        assert_eq "$(ls -A "$d")" "one.mp4" "batch INT: the item in progress finished"
        assert_eq "$(ffprobe -v error -count_frames -select_streams v \
            -show_entries stream=nb_read_frames -of csv=p=0 "$d/one.mp4")" 1860 \
            "batch INT: the finished item is whole"
    else
        assert_eq $rc 143 "batch TERM: exit status"
        assert_eq "$(ls -A "$d")" "" "batch TERM: the item in progress abandoned"
    fi
done

# ---- encode-raw: a recorder keeps what it recorded ----------------------------------------
# Frames come through a FIFO held open, so the command waits for more when signalled.
raw=$(media sig_160x120_40.raw -f lavfi -i testsrc2=s=160x120:r=25 -frames:v 40 \
      -pix_fmt yuv420p -f rawvideo)
for sig in INT TERM; do
    d=$WORK/raw-$sig && mkdir "$d"
    rm -f "$WORK/fifo" && mkfifo "$WORK/fifo"
    sigint_ok "$VIDPIPE" encode-raw -s 160x120 --pix-fmt yuv420p -r 25 --preset ultrafast \
        -i "$WORK/fifo" "$d/rec.mp4" >"$WORK/sig.out" 2>"$WORK/sig.err" &
    pid=$!
    exec 3>"$WORK/fifo"
    cat "$raw" >&3
    i=0
    while [ -z "$(temps "$d")" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
    sleep 0.3
    kill -$sig $pid
    wait $pid
    rc=$?
    exec 3>&-
    check
    assert_eq "$(temps "$d")" "" "encode-raw $sig: no temporary file"
    case $sig in
    INT)
        assert_eq $rc 130 "encode-raw INT: exit status"
        n=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames \
            -of csv=p=0 "$d/rec.mp4")
        echo "encode-raw: 40 frames fed, $n recorded"
        check
        [ "$n" -ge 1 ] && [ "$n" -le 40 ] || fail "encode-raw INT: $n frames, fed 40"
        assert_eq "$(ffmpeg -nostdin -v error -i "$d/rec.mp4" -f null - 2>&1)" "" \
            "encode-raw INT: decodes without an error"
        assert_eq "$(cat "$WORK/sig.err" | grep -c interrupted)" 1 "encode-raw INT: one line"
        assert_contains "$(cat "$WORK/sig.err")" \
            "encode-raw: interrupted by SIGINT; $d/rec.mp4 holds the $n frames recorded" \
            "encode-raw INT: says what it kept" ;;
    TERM)
        assert_eq $rc 143 "encode-raw TERM: exit status"
        assert_eq "$(ls -A "$d")" "" "encode-raw TERM: the recording abandoned"
        assert_eq "$(cat "$WORK/sig.err")" "vidpipe: encode-raw: interrupted by SIGTERM; the \
recording was abandoned, nothing written" "encode-raw TERM: one line" ;;
    esac
done

# A second Ctrl-C while the file is being finished abandons it at once: 200 frames of noise
# queued for "veryslow" on one thread take seconds to flush.
noise=$(media sig_noise_320x240_200.raw -f lavfi -i testsrc2=s=320x240:r=25 \
        -vf noise=alls=100:allf=t+u -frames:v 200 -pix_fmt yuv420p -f rawvideo)
d=$WORK/raw-twice && mkdir "$d"
rm -f "$WORK/fifo" && mkfifo "$WORK/fifo"
sigint_ok "$VIDPIPE" encode-raw -s 320x240 --pix-fmt yuv420p -r 25 --preset veryslow \
    --threads 1 --queue 256 -i "$WORK/fifo" "$d/rec.mp4" >"$WORK/sig.out" 2>"$WORK/sig.err" &
pid=$!
exec 3>"$WORK/fifo"
cat "$noise" >&3        # returns once the command has read all but a pipe's worth
sleep 0.2
kill -INT $pid
sleep 0.5
kill -0 $pid 2>/dev/null || fail "encode-raw twice: the flush ended within 0.5 s; not a test"
t0=$(date +%s%N)
kill -INT $pid
wait $pid
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
exec 3>&-
echo "encode-raw: second SIGINT 0.5 s into the final flush: exit after $ms ms"
check
assert_eq $rc 130 "encode-raw twice: exit status"
[ $ms -lt 1500 ] || fail "encode-raw twice: the flush went on for $ms ms after the second SIGINT"
assert_eq "$(ls -A "$d")" "" "encode-raw twice: nothing left"
assert_eq "$(cat "$WORK/sig.err")" "$(printf '\n%s\n%s' \
    "vidpipe: encode-raw: finishing what is in progress (Ctrl-C again to abandon it)" \
    "vidpipe: encode-raw: interrupted by SIGINT; the recording was abandoned, nothing written")" \
    "encode-raw twice: says so, once"

# A producer that never writes: Ctrl-C and SIGTERM end the wait for frames, whether the
# FIFO was never opened by a writer (the open waits), opened and left silent (the read
# waits, with the writer's threads running), or standard input.
handlers_in() {  # PID: until its SIGINT and SIGTERM handlers are in place (3 s at most)
    i=0
    while [ $i -lt 300 ] && kill -0 "$1" 2>/dev/null &&
          [ $(( 0x$(sed -n 's/^SigCgt:\t*//p' /proc/"$1"/status) & 0x4002 )) -ne $((0x4002)) ]
    do
        sleep 0.01
        i=$((i + 1))
    done
}
ends_within_3s() {  # PID NAME: $rc, or a failure (and SIGKILL) if it is still waiting
    i=0
    while [ $i -lt 300 ] && kill -0 "$1" 2>/dev/null; do sleep 0.01; i=$((i + 1)); done
    if kill -0 "$1" 2>/dev/null; then
        fail "$2: still waiting for frames 3 s after the signal"
        kill -9 "$1"
    fi
    wait "$1"
    rc=$?
}
for how in never-opened:INT never-opened:TERM silent:INT silent:TERM stdin:INT stdin:TERM; do
    sig=${how#*:} how=${how%:*}
    d=$WORK/raw-$how-$sig && mkdir "$d"
    rm -f "$WORK/fifo" && mkfifo "$WORK/fifo"
    case $how in
    never-opened)
        sigint_ok "$VIDPIPE" encode-raw -s 160x120 --pix-fmt yuv420p -i "$WORK/fifo" \
            "$d/rec.mp4" >"$WORK/sig.out" 2>"$WORK/sig.err" &
        pid=$! ;;
    silent)
        sigint_ok "$VIDPIPE" encode-raw -s 160x120 --pix-fmt yuv420p -i "$WORK/fifo" \
            "$d/rec.mp4" >"$WORK/sig.out" 2>"$WORK/sig.err" &
        pid=$!
        exec 3>"$WORK/fifo" ;;
    stdin)
        exec 3<>"$WORK/fifo"    # a writer that never writes, held by this shell
        sigint_ok "$VIDPIPE" encode-raw -s 160x120 --pix-fmt yuv420p "$d/rec.mp4" \
            <"$WORK/fifo" >"$WORK/sig.out" 2>"$WORK/sig.err" &
        pid=$! ;;
    esac
    handlers_in $pid
    # Past open: the writer's temporary file is there (not for a FIFO never opened).
    i=0
    while [ $how != never-opened ] && [ -z "$(temps "$d")" ] && [ $i -lt 300 ]; do
        sleep 0.01
        i=$((i + 1))
    done
    sleep 0.2
    kill -$sig $pid
    ends_within_3s $pid "encode-raw $how $sig"
    exec 3>&-
    check
    if [ $sig = INT ]; then
        assert_eq $rc 130 "encode-raw $how INT: exit status"
        assert_eq "$(cat "$WORK/sig.err")" "$(printf '\n%s\n%s' \
            "vidpipe: encode-raw: finishing what is in progress (Ctrl-C again to abandon it)" \
            "vidpipe: encode-raw: interrupted by SIGINT; no frame was recorded")" \
            "encode-raw $how INT: says so"
    else
        assert_eq $rc 143 "encode-raw $how TERM: exit status"
        assert_eq "$(cat "$WORK/sig.err")" \
            "vidpipe: encode-raw: interrupted by SIGTERM; no frame was recorded" \
            "encode-raw $how TERM: says so"
    fi
    assert_eq "$(ls -A "$d")" "" "encode-raw $how $sig: nothing left"
done
finish
