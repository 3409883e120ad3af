# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the CLI tests. Needs VIDPIPE (the CLI) and VP_MEDIA (a media cache shared by
# the tests of one build) in the environment, as tests/meson.build sets them.
set -u
T_FAILS=0
T_CHECKS=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vptest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$VP_MEDIA"

fail() { echo "FAIL: $*" >&2; T_FAILS=$((T_FAILS + 1)); }
check() { T_CHECKS=$((T_CHECKS + 1)); }

assert_eq() { # actual expected what
    check
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}
assert_contains() { # haystack needle what
    check
    case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in: $1" ;; esac
}
assert_not_contains() {
    check
    case "$1" in *"$2"*) fail "$3: '$2' unexpectedly in: $1" ;; esac
}
assert_near() { # actual expected tolerance what
    check
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }' \
        || fail "$4: expected $2 +- $3, got $1"
}

# run CMD...: sets RC, OUT (stdout) and ERR (stderr).
run() {
    "$@" >"$WORK/.out" 2>"$WORK/.err"
    RC=$?
    OUT=$(cat "$WORK/.out")
    ERR=$(cat "$WORK/.err")
}

# media NAME FFMPEG_ARGS...: prints the path of $VP_MEDIA/NAME, generating it once with
# `ffmpeg FFMPEG_ARGS NAME` (cached across the tests of a build; safe in parallel).
# sigint_ok CMD... &: run CMD in the background with SIGINT at its default (sh starts a
# background job with SIGINT ignored, which vidpipe, as every program, then leaves ignored).
# It execs, so $! is CMD's pid: only for background jobs.
sigint_ok() {
    exec python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

media() {
    name=$1; shift
    path="$VP_MEDIA/$name"
    if [ ! -s "$path" ]; then
        (
            flock 9
            if [ ! -s "$path" ]; then
                tmp="$VP_MEDIA/.tmp$$-$name"
                ffmpeg -nostdin -v error -y "$@" "$tmp" && mv "$tmp" "$path"
            fi
        ) 9>"$VP_MEDIA/.lock-$name"
    fi
    echo "$path"
}

# The toolbox tests' shared sources (one definition per cached name, as media() keeps
# whichever definition made the file first): 6 s of picture and tone, 3 s of picture
# alone, 2 s of tone alone.
toolbox_av() {
    media tb_av.mp4 -f lavfi -i testsrc2=s=320x240:r=30:d=6 -f lavfi -i sine=f=440:d=6 \
        -c:v libx264 -preset fast -pix_fmt yuv420p -c:a aac -b:a 96k
}
toolbox_video() {
    media tb_v.mp4 -f lavfi -i testsrc2=s=320x240:r=30:d=3 -c:v libx264 -preset fast \
        -pix_fmt yuv420p
}
toolbox_audio() { media tb_a.m4a -f lavfi -i sine=f=440:d=2 -c:a aac; }

# top_boxes FILE: the MP4's top-level box types, in file order ("ftyp moov mdat").
top_boxes() {
    python3 - "$1" <<'PY'
import struct, sys
f = open(sys.argv[1], 'rb'); out = []
while True:
    h = f.read(8)
    if len(h) < 8: break
    size, typ = struct.unpack('>I4s', h)
    if size == 1: size = struct.unpack('>Q', f.read(8))[0]; f.seek(size - 16, 1)
    else: f.seek(size - 8, 1)
    out.append(typ.decode())
print(' '.join(out))
PY
}

# box_paths FILE: every box of an MP4/MOV, one path a line ("moov/trak/mdia/minf/stbl/stsd/
# mp4a@v1/wave/esds"), down into the sample entries; sound entries carry their version.
box_paths() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
CONT = {'moov', 'trak', 'mdia', 'minf', 'stbl', 'edts', 'dinf', 'udta', 'wave'}
def walk(off, end, path, ctx):
    while off + 8 <= end:
        size, typ = struct.unpack('>I4s', d[off:off + 8])
        hdr = 8
        if size == 1:
            size, hdr = struct.unpack('>Q', d[off + 8:off + 16])[0], 16
        elif size == 0:
            size = end - off
        if size < hdr or off + size > end:
            print(path + '/?')
            return
        t = ''.join(chr(c) if 32 < c < 127 else '.' for c in typ)  # QuickTime: '\xa9too'
        p, q = off + hdr, off + size
        name = path + '/' + t if path else t
        if path.endswith('/stsd'):
            kids = {'vide': 78, 'soun': 28}.get(ctx.get('handler'))
            if ctx.get('handler') == 'soun':
                ver = struct.unpack('>H', d[p + 8:p + 10])[0]
                name += '@v%d' % ver
                if ctx['stsd_version'] == 0:  # QuickTime sound description layouts
                    kids = {1: 44, 2: 64}.get(ver, 28)
            print(name)
            if kids:
                walk(p + kids, q, name, ctx)
        else:
            print(name)
            if t == 'hdlr' and path.endswith('mdia'):
                ctx['handler'] = d[p + 8:p + 12].decode('latin1')
            if t == 'stsd':
                ctx['stsd_version'] = d[p]
                walk(p + 8, q, name, ctx)
            elif t in CONT:
                walk(p, q, name, ctx)
        off += size
walk(0, len(d), '', {})
PY
}

# corrupt_stretch SRC DST FROM TO: DST is SRC with the video packets between FROM and TO
# seconds damaged (every 7th byte of each flipped, headers left alone).
corrupt_stretch() {
    python3 - "$@" <<'PY'
import sys, subprocess
src, dst, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
data = bytearray(open(src, 'rb').read())
out = subprocess.run(['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries',
                      'packet=pts_time,pos,size', '-of', 'csv=p=0', src],
                     capture_output=True, text=True).stdout.split()
for line in out:
    t, size, pos = line.split(',')[:3]
    if t0 <= float(t) < t1:
        pos, size = int(pos), int(size)
        for i in range(pos + 8, pos + size - 4, 7):
            data[i] ^= 0x5a
open(dst, 'wb').write(data)
PY
}

# assert_seeks OUT WHAT: a viewer who seeks to any keyframe of OUT, or into the middle of any
# GOP, sees the pictures a sequential decode gives, and FFmpeg logs no error on the way
# (tests/cli/seek_check.c: every seek from a fresh open, as `ffmpeg -ss T -i OUT` does).
assert_seeks() {
    check
    seek_report=$("$VP_SEEK_CHECK" "$1" 2>&1) || fail "$2: seeking into it: $seek_report"
}

# avcc_count FILE: how many avcC boxes (one per video sample entry) the moov of FILE holds
# (a vidpipe output: moov before mdat)
avcc_count() {
    python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); print(d[:d.find(b"mdat")].count(b"avcC"))' "$1"
}

finish() {
    echo "$T_CHECKS checks, $T_FAILS failed"
    [ "$T_FAILS" -eq 0 ]
}
# No vidpipe temporary file (.NAME.vptmp-*) under DIR.
no_temps() { # dir what
    assert_eq "$(find "$1" -name '.*vptmp*' | wc -l)" 0 "$2: temporary files left"
}
