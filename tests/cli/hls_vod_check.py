#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hls_vod_check.py OUT NAME [--frames N] [--discontinuities D]: checks one personalized
HLS playlist, OUT/NAME.m3u8, and the CMAF files it lists; prints a JSON summary.

* RFC 8216 syntax and rules through tests/live/hls_playlist_check.py (as a VOD playlist:
  EXTINF rounded <= TARGETDURATION, tags, order), plus what that live validator does not
  cover: EXT-X-ENDLIST and PLAYLIST-TYPE VOD present, EXT-X-VERSION >= 6 with EXT-X-MAP
  (RFC 8216 7), an EXT-X-MAP before the first segment, every init segment an ftyp + moov
  with mvex and one trex per trak, every media segment moof (mfhd sequence numbers
  increasing within a folder, traf with tfhd + tfdt + trun whose data lies in the mdat that
  follows), its first video sample a sync sample.
* Timestamps: within a discontinuity sequence each segment's video starts where the
  previous one's presentation ended (a gap of at most one AAC frame, 21.4 ms, never an
  overlap) and its audio exactly where the previous one's audio ended (no sample missing or
  doubled); each EXTINF equals the media it covers within 1 ms; at the discontinuity the
  audio before it ends with its video.
* --frames: the video samples of all segments; --discontinuities: the EXT-X-DISCONTINUITY
  tags. Exit 0 clean, 1 with one line per fault."""
import argparse
import json
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "live"))
sys.dont_write_bytecode = True
import hls_playlist_check  # noqa: E402


def boxes(data, off=0, end=None):
    end = len(data) if end is None else end
    while off + 8 <= end:
        size, typ = struct.unpack(">I4s", data[off:off + 8])
        hdr = 8
        if size == 1:
            size = struct.unpack(">Q", data[off + 8:off + 16])[0]
            hdr = 16
        if size < hdr or off + size > end:
            raise ValueError("box %r at %d overruns its parent" % (typ, off))
        yield typ.decode("latin-1"), off, off + hdr, off + size
        off += size


def child(data, start, end, typ):
    return [(s, e) for t, _, s, e in boxes(data, start, end) if t == typ]


def parse_init(data):
    top = {t: (s, e) for t, _, s, e in boxes(data)}
    if "ftyp" not in top or "moov" not in top:
        raise ValueError("not ftyp + moov")
    ms, me = top["moov"]
    traks = child(data, ms, me, "trak")
    mvex = child(data, ms, me, "mvex")
    if not mvex:
        raise ValueError("no mvex (not a fragmented MP4 init segment)")
    trex = child(data, *mvex[0], "trex")
    if len(trex) != len(traks):
        raise ValueError("%d trak, %d trex" % (len(traks), len(trex)))
    tracks = {}
    for ts, te in traks:
        tk = child(data, ts, te, "tkhd")[0]
        ver = data[tk[0]]
        tid = struct.unpack(">I", data[tk[0] + (20 if ver else 12):][:4])[0]
        md = child(data, ts, te, "mdia")[0]
        mh = child(data, *md, "mdhd")[0]
        ver = data[mh[0]]
        scale = struct.unpack(">I", data[mh[0] + (20 if ver else 12):][:4])[0]
        hd = child(data, *md, "hdlr")[0]
        kind = data[hd[0] + 8:hd[0] + 12].decode("latin-1")
        tracks[tid] = (kind, scale)
    return tracks


def parse_segment(data, tracks, frames=None):
    """{kind: (first decode time, [(duration, size, flags, cts)])} in track timescale; with
    @frames (a list), the audio samples' bytes are appended to it."""
    out = {}
    top = list(boxes(data))
    moofs = [b for b in top if b[0] == "moof"]
    if not moofs or top[0][0] not in ("moof", "styp"):
        raise ValueError("does not start with moof")
    seq = None
    for i, (t, bs, s, e) in enumerate(top):
        if t != "moof":
            continue
        if i + 1 >= len(top) or top[i + 1][0] != "mdat":
            raise ValueError("moof without the mdat after it")
        mdat_s, mdat_e = top[i + 1][2], top[i + 1][3]
        seq = struct.unpack(">I", data[child(data, s, e, "mfhd")[0][0] + 4:][:4])[0]
        for ts, te in child(data, s, e, "traf"):
            th = child(data, ts, te, "tfhd")[0]
            flags = struct.unpack(">I", data[th[0]:th[0] + 4])[0] & 0xffffff
            tid = struct.unpack(">I", data[th[0] + 4:th[0] + 8])[0]
            if tid not in tracks:
                raise ValueError("traf of track %d, not in the init segment" % tid)
            if not flags & 0x020000:
                raise ValueError("tfhd without default-base-is-moof")
            td = child(data, ts, te, "tfdt")[0]
            ver = data[td[0]]
            base = struct.unpack(">Q" if ver else ">I", data[td[0] + 4:td[0] + (12 if ver else 8)])[0]
            samples = []
            for rs, re_ in child(data, ts, te, "trun"):
                vf = struct.unpack(">I", data[rs:rs + 4])[0]
                ver, fl = vf >> 24, vf & 0xffffff
                n = struct.unpack(">I", data[rs + 4:rs + 8])[0]
                p = rs + 8
                doff = 0
                if fl & 1:
                    doff = struct.unpack(">i", data[p:p + 4])[0]
                    p += 4
                if fl & 4:
                    p += 4
                pos = bs + doff
                for _ in range(n):
                    dur = size = sflags = cts = 0
                    if fl & 0x100:
                        dur = struct.unpack(">I", data[p:p + 4])[0]
                        p += 4
                    if fl & 0x200:
                        size = struct.unpack(">I", data[p:p + 4])[0]
                        p += 4
                    if fl & 0x400:
                        sflags = struct.unpack(">I", data[p:p + 4])[0]
                        p += 4
                    if fl & 0x800:
                        cts = struct.unpack(">i" if ver else ">I", data[p:p + 4])[0]
                        p += 4
                    if pos < mdat_s or pos + size > mdat_e:
                        raise ValueError("sample data outside the mdat")
                    if frames is not None and tracks[tid][0] == "soun":
                        frames.append(data[pos:pos + size])
                    pos += size
                    samples.append((dur, size, sflags, cts))
            kind, scale = tracks[tid]
            out[kind] = (base, samples, scale)
    return out, seq


def adts(frame, rate, channels):
    """@frame (raw AAC-LC) with an ADTS header, so FFmpeg decodes the frames as one stream."""
    rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025,
             8000, 7350]
    n = len(frame) + 7
    sfi = rates.index(rate)
    h = bytes([0xff, 0xf1, (1 << 6) | (sfi << 2) | (channels >> 2),
               ((channels & 3) << 6) | (n >> 11), (n >> 3) & 0xff, ((n & 7) << 5) | 0x1f, 0xfc])
    return h + frame


def mp4a_format(init):
    """(sample rate, channels) of the AudioSpecificConfig in an init segment's esds (the
    mp4a entry's own channel count is the template's 2, ISO/IEC 14496-12)."""
    i = init.find(b"esds")
    if i < 4:
        raise ValueError("no esds")
    p, end = i + 8, i - 4 + struct.unpack(">I", init[i - 4:i])[0]

    def desc(p):
        tag, n = init[p], 0
        p += 1
        for _ in range(4):
            b = init[p]
            p += 1
            n = n << 7 | (b & 0x7f)
            if not b & 0x80:
                break
        return tag, p, n
    tag, p, n = desc(p)                 # ES_Descriptor
    if tag != 3:
        raise ValueError("esds without ES_Descriptor")
    flags = init[p + 2]
    p += 3 + (2 if flags & 0x80 else 0) + (2 if flags & 0x20 else 0)
    if flags & 0x40:
        p += 1 + init[p]
    tag, p, n = desc(p)                 # DecoderConfigDescriptor
    if tag != 4:
        raise ValueError("esds without DecoderConfigDescriptor")
    tag, p, n = desc(p + 13)            # DecoderSpecificInfo: the AudioSpecificConfig
    if tag != 5 or p + 2 > end:
        raise ValueError("esds without AudioSpecificConfig")
    asc = init[p] << 8 | init[p + 1]
    rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025,
             8000, 7350]
    return rates[(asc >> 7) & 15], (asc >> 3) & 15


def check(out_dir, name, frames=None, discontinuities=None, adts_out=None):
    faults = []
    audio_frames = [] if adts_out else None
    parts, shift, a_origin, fmt = [], 0.0, None, None
    path = os.path.join(out_dir, name + ".m3u8")
    with open(path) as f:
        text = f.read()
    faults += hls_playlist_check.check_series([(name + ".m3u8", text)], live=False)
    lines = text.split("\n")
    if "#EXT-X-ENDLIST" not in lines:
        faults.append("no #EXT-X-ENDLIST in a VOD playlist")
    if "#EXT-X-PLAYLIST-TYPE:VOD" not in lines:
        faults.append("no #EXT-X-PLAYLIST-TYPE:VOD")
    ver = [int(x.split(":")[1]) for x in lines if x.startswith("#EXT-X-VERSION:")]
    segs, init, disc, extinf = [], None, False, None
    for ln in lines:
        if ln.startswith("#EXT-X-MAP:"):
            m = re.search(r'URI="([^"]+)"', ln)
            if not m:
                faults.append("EXT-X-MAP without URI: " + ln)
                continue
            init = m.group(1)
            if not ver or ver[0] < 6:
                faults.append("EXT-X-MAP needs EXT-X-VERSION 6 or more (RFC 8216 7)")
        elif ln == "#EXT-X-DISCONTINUITY":
            disc = True
        elif ln.startswith("#EXTINF:"):
            extinf = float(ln[8:].split(",")[0])
        elif ln and not ln.startswith("#"):
            if init is None:
                faults.append("segment %s has no EXT-X-MAP before it" % ln)
            segs.append({"uri": ln, "init": init, "disc": disc, "extinf": extinf})
            disc = False
    nd = sum(s["disc"] for s in segs)
    if discontinuities is not None and nd != discontinuities:
        faults.append("%d EXT-X-DISCONTINUITY, want %d" % (nd, discontinuities))
    inits, total_v, prev, last_seq = {}, 0, None, {}
    shared_bytes = personal_bytes = 0
    for i, s in enumerate(segs):
        if s["init"] is None:
            prev = None
            continue
        try:
            fn = os.path.join(out_dir, urlunquote(s["init"]))
            if s["init"] not in inits:
                with open(fn, "rb") as f:
                    inits[s["init"]] = parse_init(f.read())
            with open(os.path.join(out_dir, urlunquote(s["uri"])), "rb") as f:
                data = f.read()
            tr, seq = parse_segment(data, inits[s["init"]], audio_frames)
            if adts_out and fmt is None:
                with open(fn, "rb") as f:
                    fmt = mp4a_format(f.read())
        except (OSError, ValueError, IndexError, struct.error) as e:
            faults.append("%s: %s" % (s["uri"], e))
            prev = None
            continue
        if s["uri"].startswith("shared/"):
            shared_bytes += len(data)
        else:
            personal_bytes += len(data)
        folder = os.path.dirname(s["uri"])
        if folder in last_seq and seq <= last_seq[folder]:
            faults.append("%s: mfhd sequence %d after %d" % (s["uri"], seq, last_seq[folder]))
        last_seq[folder] = seq
        if "vide" not in tr:
            faults.append("%s: no video" % s["uri"])
            prev = None
            continue
        vb, vs, vsc = tr["vide"]
        total_v += len(vs)
        if vs and vs[0][2] & 0x00010000:
            faults.append("%s: the first video sample is not a sync sample" % s["uri"])
        v0 = vb / vsc
        dts, ends = vb, []
        for dur, _, _, cts in vs:
            ends.append((dts + cts + dur) / vsc)
            dts += dur
        v1 = max(ends) if ends else v0
        a = tr.get("soun")
        a0 = a1 = None
        if a:
            a0 = a[0] / a[2]
            a1 = (a[0] + sum(x[0] for x in a[1])) / a[2]
        # the person's timeline as a player builds it: after a discontinuity the segment's
        # video starts where the previous segment's video ended
        if s["disc"] and prev is not None:
            shift = prev["v1"] + shift - v0
        folder = os.path.dirname(s["uri"])
        if not parts or parts[-1][0] != folder:
            parts.append((folder, v0 + shift))
        if a_origin is None and a0 is not None:
            a_origin = a0 + shift
        cur = {"v0": v0, "v1": v1, "a0": a0, "a1": a1, "a0_ticks": a[0] if a else None,
               "a1_ticks": a[0] + sum(x[0] for x in a[1]) if a else None}
        if prev is not None and not s["disc"]:
            gap = v0 - prev["v1"]
            if gap < -0.0005 or gap > 1024 / 48000 + 0.0005:
                faults.append("%s: video starts %+.2f ms from the previous segment's end"
                              % (s["uri"], gap * 1000))
            if a and prev["a1_ticks"] is not None and a[0] != prev["a1_ticks"]:
                faults.append("%s: audio starts at %d, the previous segment's ends at %d"
                              % (s["uri"], a[0], prev["a1_ticks"]))
        if prev is not None and s["disc"] and prev["a1"] is not None and \
                abs(prev["a1"] - prev["v1"]) > 0.0005 and not (a and abs(a0 - v0) > 0.0005):
            faults.append("%s: before the discontinuity audio ends %+.2f ms from video"
                          % (s["uri"], (prev["a1"] - prev["v1"]) * 1000))
        nxt_start = None
        if i + 1 < len(segs) and not segs[i + 1]["disc"]:
            nxt_start = None  # checked from the next segment's side
        media = v1 - v0
        if i > 0 and not s["disc"] and prev is not None:
            media = v1 - prev["v1"]  # an EXTINF covers the gap before its video
        if s["extinf"] is not None and abs(s["extinf"] - media) > 0.001 and nxt_start is None:
            faults.append("%s: EXTINF %.6f, its media lasts %.6f" % (s["uri"], s["extinf"],
                                                                     media))
        prev = cur
    if frames is not None and total_v != frames:
        faults.append("%d video samples in the segments, want %d" % (total_v, frames))
    if adts_out and fmt:
        with open(adts_out, "wb") as f:
            for fr in audio_frames:
                f.write(adts(fr, *fmt))
    summary = {"parts": [[p, round(t - (a_origin or 0), 6)] for p, t in parts],
               "part_starts": [round(t, 6) for _, t in parts],
               "segments": len(segs), "discontinuities": nd, "video_samples": total_v,
               "inits": len(inits), "shared_bytes": shared_bytes,
               "personal_segment_bytes": personal_bytes,
               "duration": round(sum(s["extinf"] or 0 for s in segs), 6)}
    return faults, summary


def urlunquote(u):
    import urllib.parse
    return urllib.parse.unquote(u)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("name")
    ap.add_argument("--frames", type=int)
    ap.add_argument("--discontinuities", type=int)
    ap.add_argument("--adts", help="write the playlist's audio frames, in order, as ADTS "
                    "here; 'parts' then gives each part's video start in seconds from the "
                    "first audio sample (for tests/cli/join_measure.c)")
    a = ap.parse_args()
    faults, summary = check(a.out, a.name, a.frames, a.discontinuities, a.adts)
    summary["violations"] = faults
    print(json.dumps(summary, sort_keys=True))
    for f in faults:
        print("hls_vod_check: %s: %s" % (a.name, f), file=sys.stderr)
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
