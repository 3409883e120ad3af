#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile MP4 files for the join path, rebuilt from a good one.

    hostile_mp4.py OUTDIR [--small]

Makes OUTDIR/good.mp4 with ffmpeg (lavfi: 1 s of 64x64 25 fps H.264 with B-frames, AAC
48 kHz stereo), then one file per case below: the good file with one field of its video
track changed, every box size around it kept consistent. Prints the names made, one per
line. The cases are the ones fuzzing found (issue 10; docs/join.md, "Hostile input").
--small makes them from 0.3 s at a low rate (about 3 KB each): the fuzz targets' seeds in
fuzz/corpus/ were made so.
"""
import os
import struct
import subprocess
import sys

CONTAINERS = {b'moov', b'trak', b'mdia', b'minf', b'stbl', b'edts', b'dinf', b'udta'}


class Box:
    def __init__(self, typ, payload=b'', children=None):
        self.typ = typ
        self.payload = payload
        self.children = children

    def child(self, typ):
        for c in self.children:
            if c.typ == typ:
                return c
        return None

    def path(self, *types):
        b = self
        for t in types:
            b = b.child(t)
            if b is None:
                return None
        return b


def parse(data, pos=0, end=None):
    end = len(data) if end is None else end
    boxes = []
    while pos + 8 <= end:
        size, typ = struct.unpack('>I4s', data[pos:pos + 8])
        hdr = 8
        if size == 1:
            size = struct.unpack('>Q', data[pos + 8:pos + 16])[0]
            hdr = 16
        elif size == 0:
            size = end - pos
        if size < hdr or pos + size > end:
            raise ValueError('malformed box %r at %d' % (typ, pos))
        if typ in CONTAINERS:
            boxes.append(Box(typ, children=parse(data, pos + hdr, pos + size)))
        else:
            boxes.append(Box(typ, data[pos + hdr:pos + size]))
        pos += size
    return boxes


def serialize(boxes):
    out = []
    for b in boxes:
        body = serialize(b.children) if b.children is not None else b.payload
        if len(body) + 8 > 0xffffffff:
            out.append(struct.pack('>I4sQ', 1, b.typ, len(body) + 16) + body)
        else:
            out.append(struct.pack('>I4s', len(body) + 8, b.typ) + body)
    return b''.join(out)


def track(top, handler):
    moov = next(b for b in top if b.typ == b'moov')
    for trak in moov.children:
        if trak.typ != b'trak':
            continue
        hdlr = trak.path(b'mdia', b'hdlr')
        if hdlr is not None and hdlr.payload[8:12] == handler:
            return trak
    raise ValueError('no %r track' % handler)


def stbl(trak):
    return trak.path(b'mdia', b'minf', b'stbl')


def full_box(version, flags=0):
    return struct.pack('>I', (version << 24) | flags)


# ---- tables -----------------------------------------------------------------------------

def read_pairs(box, signed=False):
    n = struct.unpack('>I', box.payload[4:8])[0]
    fmt = '>Ii' if signed else '>II'
    return [struct.unpack(fmt, box.payload[8 + 8 * i:16 + 8 * i]) for i in range(n)]


def write_pairs(box, pairs, signed=False, version=None):
    fmt = '>Ii' if signed else '>II'
    head = box.payload[:4] if version is None else full_box(version)
    box.payload = head + struct.pack('>I', len(pairs)) + b''.join(
        struct.pack(fmt, *p) for p in pairs)


def write_elst(trak, entries):
    """entries: (duration, media_time) in 64 bits (elst version 1)."""
    edts = trak.child(b'edts')
    if edts is None:
        edts = Box(b'edts', children=[])
        trak.children.insert(1, edts)
    body = full_box(1) + struct.pack('>I', len(entries)) + b''.join(
        struct.pack('>Qq', d, m) + struct.pack('>hh', 1, 0) for d, m in entries)
    edts.children = [Box(b'elst', body)]


# ---- H.264 SPS ---------------------------------------------------------------------------

def unescape(nal):
    out, zeros = bytearray(), 0
    for x in nal:
        if zeros >= 2 and x == 3:
            zeros = 0
            continue
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


def escape(rbsp):
    out, zeros = bytearray(), 0
    for x in rbsp:
        if zeros >= 2 and x <= 3:
            out.append(3)
            zeros = 0
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


class Bits:
    def __init__(self, data):
        self.bits = ''.join('{:08b}'.format(x) for x in data)
        self.pos = 0

    def u(self, n):
        v = int(self.bits[self.pos:self.pos + n] or '0', 2)
        self.pos += n
        return v

    def ue(self):
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self):
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def ue_bits(v):
    b = '{:b}'.format(v + 1)
    return '0' * (len(b) - 1) + b


def sps_with_crop(nal, crop):
    """The SPS NAL unit @nal with frame cropping set to crop = (left, right, top, bottom)."""
    r = Bits(unescape(nal[1:]))
    profile = r.u(8)
    r.u(16)
    r.ue()
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        if r.ue() == 3:
            r.u(1)
        r.ue()
        r.ue()
        r.u(1)
        if r.u(1):
            raise ValueError('SPS with scaling matrices: not handled here')
    r.ue()
    poc = r.ue()
    if poc == 0:
        r.ue()
    elif poc == 1:
        r.u(1)
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()
    r.u(1)
    r.ue()
    r.ue()
    if not r.u(1):
        r.u(1)
    r.u(1)
    head = r.bits[:r.pos]
    if r.u(1):
        for _ in range(4):
            r.ue()
    tail = r.bits[r.pos:].rstrip('0')[:-1]  # without rbsp_stop_one_bit and alignment
    bits = head + '1' + ''.join(ue_bits(c) for c in crop) + tail + '1'
    bits += '0' * (-len(bits) % 8)
    rbsp = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    return nal[:1] + escape(rbsp)


def set_crop(top, crop):
    stsd = stbl(track(top, b'vide')).child(b'stsd')
    entry = parse(stsd.payload, 8)[0]          # avc1
    kids = parse(entry.payload, 78)
    avcc = next(k for k in kids if k.typ == b'avcC')
    p = avcc.payload
    n = struct.unpack('>H', p[6:8])[0]
    sps = sps_with_crop(p[8:8 + n], crop)
    avcc.payload = p[:6] + struct.pack('>H', len(sps)) + sps + p[8 + n:]
    entry.payload = entry.payload[:78] + serialize(kids)
    stsd.payload = stsd.payload[:8] + serialize([entry])


# ---- the cases ----------------------------------------------------------------------------

def ctts_offset(top, offset, at):
    """One video sample's composition offset set to @offset (the sample @at of n)."""
    ctts = stbl(track(top, b'vide')).child(b'ctts')
    pairs = read_pairs(ctts, signed=True)
    out, k = [], 0
    for cnt, off in pairs:
        for _ in range(cnt):
            out.append([1, offset if k == at else off])
            k += 1
    write_pairs(ctts, [tuple(p) for p in out], signed=True)


def video_samples(top):
    stsz = stbl(track(top, b'vide')).child(b'stsz')
    return struct.unpack('>I', stsz.payload[8:12])[0]


def long_all_frames(top):
    stts = stbl(track(top, b'vide')).child(b'stts')
    first = read_pairs(stts)[0][1]
    write_pairs(stts, [(1, first), (video_samples(top) - 1, 0xffffffff)])


def co64_wrap(top):
    st = stbl(track(top, b'vide'))
    stco = st.child(b'stco')
    n = struct.unpack('>I', stco.payload[4:8])[0]
    offs = list(struct.unpack('>%dI' % n, stco.payload[8:8 + 4 * n]))
    offs[-1] = 0x7fffffffffffff00   # + the sample's size wraps past INT64_MAX
    stco.typ = b'co64'
    stco.payload = stco.payload[:8] + struct.pack('>%dQ' % n, *offs)


def stsz_64mi(top):
    stsz = stbl(track(top, b'vide')).child(b'stsz')
    stsz.payload = stsz.payload[:4] + struct.pack('>II', 1, 64 << 20)


CASES = {
    # SPS cropping that overflows int in the width / height arithmetic
    'sps_crop_width_overflow': lambda t: set_crop(t, (1073741835, 0, 0, 0)),
    'sps_crop_height_overflow': lambda t: set_crop(t, (0, 0, 2147483672, 59)),
    # one frame presented 2.9 hours after the others: hours of silence to fill
    'ctts_offset_hours_of_silence': lambda t: ctts_offset(t, 0x08000000, 3),
    'ctts_huge_offset': lambda t: ctts_offset(t, 0x7fffffff, 5),
    'ctts_huge_negative_offset': lambda t: ctts_offset(t, -0x80000000, 5),
    # stts deltas of 2^32-1: 93 hours a frame
    'long_all_frames': long_all_frames,
    # the last chunk offset near INT64_MAX
    'co64_wrap': co64_wrap,
    # empty edits of 2^62 ticks each: their sum overflows
    'elst_dwell_overflow': lambda t: write_elst(track(t, b'vide'),
                                                [(1 << 62, -1)] * 3 + [(0, 0)]),
    # a media edit starting at INT64_MAX / far before the media
    'elst_media_time_max': lambda t: write_elst(track(t, b'vide'), [(0, (1 << 63) - 1)]),
    'elst_media_time_min': lambda t: write_elst(track(t, b'vide'), [(0, -(1 << 62))]),
    # 64 Mi samples of one byte each, claimed by 20 bytes of stsz
    'stsz_64Mi_samples': stsz_64mi,
}


def make_good(path, small):
    seconds, crf, abr = (0.3, '40', '24k') if small else (1, '23', '64k')
    subprocess.run(
        ['ffmpeg', '-nostdin', '-v', 'error', '-y',
         '-f', 'lavfi', '-i', 'testsrc2=s=64x64:r=25:d=%g' % seconds,
         '-f', 'lavfi', '-i', 'sine=f=440:sample_rate=48000:d=%g' % seconds,
         '-ac', '2', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '12', '-crf', crf,
         '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', abr, '-map_metadata', '-1',
         '-fflags', '+bitexact'] + (['-bsf:v', 'filter_units=remove_types=6'] if small else [])
        + [path], check=True)


def main():
    args = sys.argv[1:]
    small = '--small' in args
    args = [a for a in args if a != '--small']
    if len(args) != 1:
        sys.exit(__doc__)
    outdir = args[0]
    os.makedirs(outdir, exist_ok=True)
    good = os.path.join(outdir, 'good.mp4')
    make_good(good, small)
    data = open(good, 'rb').read()
    types = [b.typ for b in parse(data)]
    # Box sizes change in the moov only: with the moov after the media data (ffmpeg's
    # default), no chunk offset moves.
    if types.index(b'moov') < types.index(b'mdat'):
        sys.exit('hostile_mp4.py: %s has its moov first' % good)
    print('good.mp4')
    for name, patch in CASES.items():
        top = parse(data)
        patch(top)
        with open(os.path.join(outdir, name + '.mp4'), 'wb') as f:
            f.write(serialize(top))
        print(name + '.mp4')


if __name__ == '__main__':
    main()
