#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A strict validator of live HLS media playlists (RFC 8216), over a series of snapshots.

One playlist can only be checked for syntax; what live players trip on is how it changes.
Given the successive versions a client saw, this checks each one (tags, values, order,
EXTINF rounded <= EXT-X-TARGETDURATION, dates never going backwards and agreeing with the
durations) and each change against RFC 8216 6.2.2: TARGETDURATION and VERSION constant,
segments only removed from the front (MEDIA-SEQUENCE counting them) and appended at the end,
a segment's URI, duration, date, discontinuity tag and discontinuity sequence number never
changing while it is listed, EXT-X-DISCONTINUITY-SEQUENCE incremented exactly by the
discontinuity tags that left, three target durations kept listed whenever one is removed,
no EXT-X-ENDLIST while live.

Usage:
  hls_playlist_check.py [options] SNAPSHOT.m3u8... | DIR   (a folder: its *.m3u8, by name)
  hls_playlist_check.py [options] --url URL --count N --interval S   (poll a live server)
  hls_playlist_check.py --self-test                        (the judge's own test)
Options: --uri-format 'seg/{seq}.ts' (each URI is this with its media sequence number),
  --uri-regex RE, --require-pdt (every segment dated), --pdt-tolerance SECONDS (0.002),
  --allow-gaps (snapshots may skip segments), --lenient-dates (accept FFmpeg's "+0000"
  offsets), --fetch (with --url: GET each new segment,
  check 200 and whole TS packets).
Exit 0 when clean; otherwise 1 with one line per fault: "NAME: line L: reason".

As a module: check_series([(name, text), ...], **options) returns the list of faults.
"""
import argparse
import datetime
import glob
import os
import re
import sys
import time
import urllib.parse
import urllib.request

MEDIA_TAGS = {
    # basic / segment tags
    "EXTINF", "EXT-X-BYTERANGE", "EXT-X-DISCONTINUITY", "EXT-X-KEY", "EXT-X-MAP",
    "EXT-X-PROGRAM-DATE-TIME", "EXT-X-DATERANGE", "EXT-X-GAP", "EXT-X-BITRATE",
    # media playlist tags
    "EXT-X-VERSION", "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-ENDLIST", "EXT-X-PLAYLIST-TYPE",
    "EXT-X-I-FRAMES-ONLY", "EXT-X-INDEPENDENT-SEGMENTS", "EXT-X-START",
}
MASTER_TAGS = {"EXT-X-MEDIA", "EXT-X-STREAM-INF", "EXT-X-I-FRAME-STREAM-INF",
               "EXT-X-SESSION-DATA", "EXT-X-SESSION-KEY"}
ONCE_TAGS = {"EXT-X-VERSION", "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE",
             "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-PLAYLIST-TYPE", "EXT-X-I-FRAMES-ONLY",
             "EXT-X-INDEPENDENT-SEGMENTS", "EXT-X-START", "EXT-X-ENDLIST"}
DEC_INT = re.compile(r"^(0|[1-9][0-9]{0,19})$")
DEC_FLOAT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
# RFC 3339 / ISO 8601 with a time zone, as 4.3.2.6 requires
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)$")


class Segment:
    __slots__ = ("msn", "uri", "duration", "duration_text", "discont", "pdt", "pdt_own",
                 "dsn", "line")

    def key(self):
        return (self.uri, self.duration_text, self.discont, self.pdt, self.dsn)


class Playlist:
    def __init__(self, name):
        self.name = name
        self.version = 1
        self.target = None
        self.msn = 0
        self.dsn = 0
        self.has_dsn = False
        self.endlist = False
        self.type = None
        self.segments = []

    def duration(self):
        return sum(s.duration for s in self.segments)


def hls_round(x):
    """RFC 8216 4.3.3.1 rounds to the nearest integer (half up)."""
    return int(x + 0.5)


def parse_date(text):
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    m = re.search(r"([+-]\d{2})(\d{2})?$", text)
    if m and ":" not in text[m.start():]:
        text = text[:m.start()] + m.group(1) + ":" + (m.group(2) or "00")
    d = datetime.datetime.fromisoformat(text)
    return d.timestamp()


def parse(name, text, errors, opts):
    """One snapshot: syntax and the rules that hold within one playlist."""
    def err(line, msg):
        errors.append(f"{name}: line {line}: {msg}")

    pl = Playlist(name)
    lines = text.split("\n")
    if text and not text.endswith("\n"):
        err(len(lines), "no newline at the end of the last line")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0].rstrip("\r") != "#EXTM3U":
        err(1, "the first line is not #EXTM3U (RFC 8216 4.3.1.1)")
        return pl
    seen = {}
    pending = {}
    last_dated = None        # the last segment with a date (its own or derived)
    dsn = None
    float_extinf = False
    for no, raw in enumerate(lines[1:], start=2):
        line = raw
        if line.endswith("\r"):
            err(no, "CR line ending")
            line = line[:-1]
        if line != line.strip():
            err(no, "leading or trailing whitespace")
            line = line.strip()
        if not line:
            continue
        if not line.startswith("#"):
            # a segment URI
            if "EXTINF" not in pending:
                err(no, f"URI {line!r} without #EXTINF before it (RFC 8216 4.3.2.1)")
                pending.clear()
                continue
            s = Segment()
            s.msn = pl.msn + len(pl.segments)
            s.uri = line
            s.duration_text, s.duration = pending["EXTINF"]
            s.discont = "EXT-X-DISCONTINUITY" in pending
            s.line = no
            if dsn is None:
                dsn = pl.dsn
            if s.discont:
                dsn += 1
            s.dsn = dsn
            prev = pl.segments[-1] if pl.segments else None
            if "EXT-X-PROGRAM-DATE-TIME" in pending:
                s.pdt = pending["EXT-X-PROGRAM-DATE-TIME"]
                s.pdt_own = True
            elif prev is not None and prev.pdt is not None and not s.discont:
                # 4.3.2.6: later segments' dates follow from the durations
                s.pdt = prev.pdt + prev.duration
                s.pdt_own = False
            else:
                s.pdt = None
                s.pdt_own = False
            if opts.require_pdt and not s.pdt_own:
                err(no, f"segment {s.msn} has no EXT-X-PROGRAM-DATE-TIME")
            if s.pdt is not None and last_dated is not None:
                if s.pdt < last_dated.pdt:
                    err(no, f"EXT-X-PROGRAM-DATE-TIME goes backwards: segment {s.msn} is "
                            f"{last_dated.pdt - s.pdt:.3f} s before segment {last_dated.msn}")
                elif last_dated is prev:
                    gap = s.pdt - (prev.pdt + prev.duration)
                    if not s.discont and abs(gap) > opts.pdt_tolerance:
                        err(no, f"EXT-X-PROGRAM-DATE-TIME of segment {s.msn} is {gap:+.3f} s "
                                f"from segment {prev.msn}'s date + EXTINF")
                    elif s.discont and gap < -opts.pdt_tolerance:
                        err(no, f"EXT-X-PROGRAM-DATE-TIME of segment {s.msn} overlaps segment "
                                f"{prev.msn} by {-gap:.3f} s")
            if s.pdt is not None:
                last_dated = s
            if opts.uri_format is not None:
                want = opts.uri_format.format(seq=s.msn)
                if s.uri != want:
                    err(no, f"segment {s.msn}'s URI is {s.uri!r}, expected {want!r}")
            if opts.uri_regex is not None and not re.fullmatch(opts.uri_regex, s.uri):
                err(no, f"URI {s.uri!r} does not match {opts.uri_regex!r}")
            pl.segments.append(s)
            pending.clear()
            continue
        if not line.startswith("#EXT"):
            continue         # a comment
        tag, _, value = line[1:].partition(":")
        has_value = ":" in line
        if tag in MASTER_TAGS:
            err(no, f"#{tag} is a master playlist tag (RFC 8216 4.1)")
            continue
        if tag not in MEDIA_TAGS:
            err(no, f"unknown tag #{tag}")
            continue
        if tag in ONCE_TAGS:
            if tag in seen:
                err(no, f"#{tag} appears twice (first at line {seen[tag]})")
            seen[tag] = no
            if tag != "EXT-X-ENDLIST" and pl.segments:
                err(no, f"#{tag} after the first segment (RFC 8216 4.3.3)")
        if pl.endlist and tag != "EXT-X-ENDLIST":
            err(no, f"#{tag} after #EXT-X-ENDLIST")
        if tag == "EXT-X-VERSION":
            if not DEC_INT.match(value):
                err(no, f"#EXT-X-VERSION:{value}: not a decimal-integer")
            else:
                pl.version = int(value)
        elif tag == "EXT-X-TARGETDURATION":
            if not DEC_INT.match(value):
                err(no, f"#EXT-X-TARGETDURATION:{value}: not a decimal-integer (4.3.3.1)")
            else:
                pl.target = int(value)
        elif tag == "EXT-X-MEDIA-SEQUENCE":
            if not DEC_INT.match(value):
                err(no, f"#EXT-X-MEDIA-SEQUENCE:{value}: not a decimal-integer")
            else:
                pl.msn = int(value)
        elif tag == "EXT-X-DISCONTINUITY-SEQUENCE":
            if not DEC_INT.match(value):
                err(no, f"#EXT-X-DISCONTINUITY-SEQUENCE:{value}: not a decimal-integer")
            else:
                pl.dsn = int(value)
                pl.has_dsn = True
            if dsn is not None or "EXT-X-DISCONTINUITY" in pending:
                err(no, "#EXT-X-DISCONTINUITY-SEQUENCE after an #EXT-X-DISCONTINUITY "
                        "(RFC 8216 4.3.3.3)")
        elif tag == "EXTINF":
            dur, _, _title = value.partition(",")
            if not has_value or "," not in value:
                err(no, f"#EXTINF:{value}: needs '<duration>,[<title>]'")
            if not DEC_FLOAT.match(dur):
                err(no, f"#EXTINF:{value}: duration is not a decimal number")
                continue
            if "." in dur:
                float_extinf = True
            if "EXTINF" in pending:
                err(no, "two #EXTINF for one segment")
            pending["EXTINF"] = (dur, float(dur))
        elif tag == "EXT-X-PROGRAM-DATE-TIME":
            if not DATE.match(value):
                err(no, f"#EXT-X-PROGRAM-DATE-TIME:{value}: not an ISO 8601 date with a "
                        "time zone (4.3.2.6)")
                continue
            if not opts.lenient_dates and not re.search(r"(Z|[+-]\d{2}:\d{2})$", value):
                # FFmpeg writes "+0000": ISO 8601's basic-format offset after an
                # extended-format time; RFC 3339 (and strict parsers) want "+00:00"
                err(no, f"#EXT-X-PROGRAM-DATE-TIME:{value}: time zone offset not written "
                        "as Z or +hh:mm (mixes ISO 8601 basic and extended formats)")
            try:
                pending[tag] = parse_date(value)
            except ValueError:
                err(no, f"#EXT-X-PROGRAM-DATE-TIME:{value}: not a valid date")
        elif tag == "EXT-X-DISCONTINUITY":
            if has_value:
                err(no, "#EXT-X-DISCONTINUITY takes no value")
            pending[tag] = True
        elif tag == "EXT-X-ENDLIST":
            pl.endlist = True
        elif tag == "EXT-X-PLAYLIST-TYPE":
            if value not in ("EVENT", "VOD"):
                err(no, f"#EXT-X-PLAYLIST-TYPE:{value}: must be EVENT or VOD")
            pl.type = value
        elif tag in ("EXT-X-INDEPENDENT-SEGMENTS", "EXT-X-I-FRAMES-ONLY", "EXT-X-GAP"):
            if has_value:
                err(no, f"#{tag} takes no value")
            if tag == "EXT-X-GAP":
                pending[tag] = True
        else:
            pending[tag] = value
    if pending:
        err(len(lines), "tags after the last segment's URI apply to no segment")
    if pl.target is None:
        err(1, "no #EXT-X-TARGETDURATION (required, RFC 8216 4.3.3.1)")
    if float_extinf and pl.version < 3:
        err(1, f"decimal EXTINF durations need EXT-X-VERSION 3 or more, not {pl.version}")
    if pl.target is not None:
        for s in pl.segments:
            if hls_round(s.duration) > pl.target:
                err(s.line - 1, f"segment {s.msn}: EXTINF {s.duration_text} rounds above "
                                f"EXT-X-TARGETDURATION {pl.target} (RFC 8216 4.3.3.1)")
    if opts.live and pl.endlist:
        err(seen.get("EXT-X-ENDLIST", 1), "#EXT-X-ENDLIST in a live playlist")
    if opts.live and pl.type == "VOD":
        err(seen.get("EXT-X-PLAYLIST-TYPE", 1), "PLAYLIST-TYPE VOD in a live playlist")
    if opts.live and not pl.segments:
        err(1, "a live playlist without segments")
    return pl


def compare(a, b, errors, opts):
    """Rules between two successive snapshots (RFC 8216 6.2.1, 6.2.2, 6.3.2)."""
    def err(msg):
        errors.append(f"{b.name}: after {a.name}: {msg}")

    if a.target != b.target:
        err(f"EXT-X-TARGETDURATION changed from {a.target} to {b.target} (RFC 8216 6.2.2)")
    if a.version != b.version:
        err(f"EXT-X-VERSION changed from {a.version} to {b.version}")
    if b.msn < a.msn:
        err(f"EXT-X-MEDIA-SEQUENCE went back from {a.msn} to {b.msn}")
        return
    if a.type == "EVENT" and b.msn != a.msn:
        err("segments removed from an EVENT playlist")
    a_by = {s.msn: s for s in a.segments}
    a_last = a.msn + len(a.segments) - 1
    b_last = b.msn + len(b.segments) - 1
    if b_last < a_last:
        err(f"the last segment went back from {a_last} to {b_last}: segments may only be "
            "appended")
    if b.msn > a_last + 1 and not opts.allow_gaps:
        err(f"segments {a_last + 1}..{b.msn - 1} were never listed in a snapshot (a gap: "
            "take snapshots more often, or --allow-gaps)")
    for s in b.segments:
        old = a_by.get(s.msn)
        if old is None:
            continue
        for field, x, y in (("URI", old.uri, s.uri), ("EXTINF", old.duration_text,
                                                        s.duration_text)):
            if x != y:
                err(f"segment {s.msn}'s {field} changed from {x!r} to {y!r}")
        if old.discont != s.discont:
            how = "appeared" if s.discont else "vanished"
            err(f"segment {s.msn}'s EXT-X-DISCONTINUITY tag {how} while it is listed "
                "(RFC 8216 6.2.2: tags leave with their segment)")
        if old.dsn != s.dsn:
            err(f"segment {s.msn}'s discontinuity sequence number changed from {old.dsn} to "
                f"{s.dsn}: EXT-X-DISCONTINUITY-SEQUENCE {b.dsn} should count the "
                f"{sum(1 for x in a.segments if x.msn < b.msn and x.discont)} discontinuity "
                f"tag(s) that left since (RFC 8216 6.2.2)")
        if old.pdt is not None and s.pdt is not None and abs(old.pdt - s.pdt) > 1e-6:
            err(f"segment {s.msn}'s EXT-X-PROGRAM-DATE-TIME changed by {s.pdt - old.pdt:+.3f} s")
    # with no overlap, the first new segment continues the old numbering
    if b.msn == a_last + 1 and a.segments and b.segments:
        want = a.segments[-1].dsn + (1 if b.segments[0].discont else 0)
        if b.segments[0].dsn != want:
            err(f"segment {b.msn}'s discontinuity sequence number is {b.segments[0].dsn}, "
                f"{want} after segment {a_last} (RFC 8216 6.2.2)")
        p, s = a.segments[-1], b.segments[0]
        if p.pdt is not None and s.pdt is not None and s.pdt < p.pdt:
            err(f"EXT-X-PROGRAM-DATE-TIME goes backwards from segment {p.msn} to {s.msn}")
    if b.msn > a.msn and b.target is not None and b.duration() < 3 * b.target - 1e-9:
        err(f"segments were removed leaving {b.duration():.3f} s listed, less than three "
            f"target durations ({3 * b.target} s, RFC 8216 6.2.2)")


class Options:
    def __init__(self, uri_format=None, uri_regex=None, require_pdt=False, pdt_tolerance=0.002,
                 allow_gaps=False, live=True, lenient_dates=False):
        self.uri_format = uri_format
        self.uri_regex = uri_regex
        self.require_pdt = require_pdt
        self.pdt_tolerance = pdt_tolerance
        self.allow_gaps = allow_gaps
        self.live = live
        self.lenient_dates = lenient_dates


def check_series(snapshots, **kw):
    """snapshots: [(name, text), ...] in the order a client saw them. Returns faults."""
    opts = Options(**kw)
    errors = []
    prev = None
    for name, text in snapshots:
        pl = parse(name, text, errors, opts)
        if prev is not None:
            compare(prev, pl, errors, opts)
        prev = pl
    return errors


# ---- the judge's own test: known-good series pass, known-bad ones fail for their reason ----

def _pl(msn, dsn, segs, target=6, head_extra="", version=3, with_dsn=True):
    """segs: [(seq, duration, discont, pdt seconds or None)]"""
    out = ["#EXTM3U", f"#EXT-X-VERSION:{version}", f"#EXT-X-TARGETDURATION:{target}",
           f"#EXT-X-MEDIA-SEQUENCE:{msn}"]
    if with_dsn:
        out.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{dsn}")
    out.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if head_extra:
        out.append(head_extra)
    for seq, dur, disc, pdt in segs:
        if disc:
            out.append("#EXT-X-DISCONTINUITY")
        if pdt is not None:
            t = datetime.datetime.fromtimestamp(1767225600 + pdt, datetime.timezone.utc)
            out.append("#EXT-X-PROGRAM-DATE-TIME:" + t.strftime("%Y-%m-%dT%H:%M:%S.")
                       + f"{t.microsecond // 1000:03d}Z")
        out.append(f"#EXTINF:{dur:.3f},")
        out.append(f"seg/{seq}.ts")
    return "\n".join(out) + "\n"


def _series(segments, window, first_disc_counted=True, pdt=True, ffmpeg_style=False):
    """Snapshots of a correct server (or of FFmpeg 5.1's way: no DISCONTINUITY-SEQUENCE)."""
    starts = [0.0]
    for _, d, _ in segments:
        starts.append(starts[-1] + d)
    snaps = []
    for n in range(3, len(segments) + 1):
        first = max(0, n - window)
        dsn = sum(1 for s in segments[:first] if s[2])
        segs = [(i, segments[i][1], segments[i][2], starts[i] if pdt else None)
                for i in range(first, n)]
        snaps.append((f"snap{n}", _pl(first, dsn, segs, with_dsn=not ffmpeg_style)))
    return snaps


def self_test():
    failures = []

    def expect(label, snaps, want, **kw):
        errs = check_series(snaps, **kw)
        hit = [e for e in errs if want in e] if want else errs
        if want and not hit:
            failures.append(f"{label}: expected a fault containing {want!r}, got {errs}")
        if not want and errs:
            failures.append(f"{label}: expected no fault, got {errs}")

    segs = [(i, 6.0 if i % 5 else 4.0, i in (4, 9, 10)) for i in range(16)]
    good = _series(segs, 4)
    expect("good series", good, None, require_pdt=True, uri_format="seg/{seq}.ts")
    # FFmpeg 5.1's hls muxer writes no EXT-X-DISCONTINUITY-SEQUENCE: once a tag slides out
    # the segments after it change number
    expect("ffmpeg-style discontinuity sequence", _series(segs, 4, ffmpeg_style=True),
           "discontinuity sequence number changed")
    # a DISCONTINUITY-SEQUENCE that counts a tag as soon as its segment is the first listed
    # (the tag still there): that segment's number moves
    early, dropped = [], []
    for name, text in good:
        first = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text).group(1))
        d = sum(1 for s in segs[:first + 1] if s[2])
        text = re.sub(r"DISCONTINUITY-SEQUENCE:\d+", f"DISCONTINUITY-SEQUENCE:{d}", text)
        early.append((name, text))
        # ... or drops the tag from the front while its segment stays (6.2.2 lets tags
        # leave only with their segment)
        dropped.append((name, text.replace("INDEPENDENT-SEGMENTS\n#EXT-X-DISCONTINUITY\n",
                                           "INDEPENDENT-SEGMENTS\n")))
    expect("discontinuity counted early", early, "discontinuity sequence number changed")
    expect("front tag dropped", dropped, "EXT-X-DISCONTINUITY tag vanished")
    # PDT going backwards within a playlist
    expect("pdt backwards", [("a", _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, 6), (2, 6, 0, 5)]))],
           "goes backwards")
    # PDT not matching the durations
    expect("pdt drift", [("a", _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, 6.1), (2, 6, 0, 12.1)]))],
           "from segment 0's date + EXTINF")
    # dates derived from the durations (4.3.2.6), then one that disagrees with them
    expect("derived dates", [("a", _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, None), (2, 6, 0, None)]))],
           None)
    expect("derived dates, then off", [("a", _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, None),
                                                        (2, 6, 0, 11)]))],
           "is -1.000 s from segment 1's date + EXTINF")
    # a segment's date rewritten between reloads (dated from the wall clock at each write)
    a = _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, 6), (2, 6, 0, 12)])
    b = _pl(0, 0, [(0, 6, 0, -1), (1, 6, 0, 5), (2, 6, 0, 11), (3, 6, 0, 17)])
    expect("pdt rewritten", [("a", a), ("b", b)], "PROGRAM-DATE-TIME changed")
    # EXTINF above target after rounding (6.5 rounds to 7), and 6.499 is fine
    expect("extinf over", [("a", _pl(0, 0, [(0, 6.5, 0, 0), (1, 6, 0, 6.5), (2, 6, 0, 12.5)]))],
           "rounds above EXT-X-TARGETDURATION")
    expect("extinf 6.499", [("a", _pl(0, 0, [(0, 6.499, 0, 0), (1, 6, 0, 6.499),
                                             (2, 6, 0, 12.499)]))], None)
    # target changing
    expect("target change", [("a", _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, 6), (2, 6, 0, 12)])),
                             ("b", _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, 6), (2, 6, 0, 12),
                                              (3, 6, 0, 18)], target=7))],
           "TARGETDURATION changed")
    # media sequence not counting the removed segments
    expect("msn wrong", [("a", _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, 6), (2, 6, 0, 12),
                                          (3, 6, 0, 18)])),
                         ("b", _pl(0, 0, [(1, 6, 0, 6), (2, 6, 0, 12), (3, 6, 0, 18),
                                          (4, 6, 0, 24)]))], "URI changed")
    # removal leaving less than three target durations
    expect("too short", [("a", _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, 6), (2, 6, 0, 12)])),
                         ("b", _pl(1, 0, [(1, 6, 0, 6), (2, 6, 0, 12), (3, 2, 0, 18)]))],
           "less than three target durations")
    # ENDLIST while live, and syntax
    expect("endlist", [("a", _pl(0, 0, [(0, 6, 0, 0), (1, 6, 0, 6)]) + "#EXT-X-ENDLIST\n")],
           "ENDLIST in a live playlist")
    expect("no extm3u", [("a", "#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\na.ts\n")], "#EXTM3U")
    expect("float in v2", [("a", _pl(0, 0, [(0, 5.5, 0, 0)], version=2))], "VERSION 3")
    expect("unknown tag", [("a", _pl(0, 0, [(0, 6, 0, 0)], head_extra="#EXT-X-FOO:1"))],
           "unknown tag")
    expect("uri", [("a", _pl(0, 0, [(0, 6, 0, 0)]).replace("seg/0.ts", "seg/7.ts"))],
           "expected 'seg/0.ts'", uri_format="seg/{seq}.ts")
    expect("no pdt", [("a", _pl(0, 0, [(0, 6, 0, None)]))], "no EXT-X-PROGRAM-DATE-TIME",
           require_pdt=True)
    expect("bad date", [("a", _pl(0, 0, [(0, 6, 0, 0)]).replace("Z\n", "\n"))],
           "time zone")
    ffdate = _pl(0, 0, [(0, 6, 0, 0)]).replace(".000Z", ".000+0000")
    expect("ffmpeg date offset", [("a", ffdate)], "not written as Z or +hh:mm")
    expect("ffmpeg date offset, lenient", [("a", ffdate)], None, lenient_dates=True)
    expect("gap", [good[0], good[5]], "never listed")
    expect("gap allowed", [good[0], good[5]], None, allow_gaps=True)
    expect("dsn after tag", [("a", "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-DISCONTINUITY\n"
                                   "#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXTINF:6,\na.ts\n")],
           "after an #EXT-X-DISCONTINUITY")
    for f in failures:
        print("self-test:", f, file=sys.stderr)
    print(f"self-test: {len(failures)} failure(s)")
    return 1 if failures else 0


# ---- polling a live server ----

def poll(url, count, interval, fetch, errors):
    snaps = []
    fetched = set()
    for i in range(count):
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                text = r.read().decode("utf-8")
        except Exception as e:   # noqa: BLE001 -- one line naming the request
            errors.append(f"{url}: poll {i}: {e}")
            break
        snaps.append((f"{url}#{i}", text))
        if fetch:
            for line in text.split("\n"):
                if line and not line.startswith("#") and line not in fetched:
                    fetched.add(line)
                    seg_url = urllib.parse.urljoin(url, line)
                    try:
                        with urllib.request.urlopen(seg_url, timeout=10) as r:
                            data = r.read()
                        if not data or len(data) % 188 or data[0] != 0x47:
                            errors.append(f"{seg_url}: {len(data)} bytes, not whole TS packets")
                    except Exception as e:  # noqa: BLE001
                        errors.append(f"{seg_url}: {e}")
        if i + 1 < count:
            time.sleep(interval)
    return snaps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="*")
    ap.add_argument("--uri-format")
    ap.add_argument("--uri-regex")
    ap.add_argument("--require-pdt", action="store_true")
    ap.add_argument("--pdt-tolerance", type=float, default=0.002)
    ap.add_argument("--allow-gaps", action="store_true")
    ap.add_argument("--lenient-dates", action="store_true",
                    help="accept +hhmm time zone offsets (FFmpeg's)")
    ap.add_argument("--url")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--fetch", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    errors = []
    if a.url:
        snaps = poll(a.url, a.count, a.interval, a.fetch, errors)
    else:
        files = []
        for p in a.inputs:
            files += sorted(glob.glob(os.path.join(p, "*.m3u8"))) if os.path.isdir(p) else [p]
        if not files:
            ap.error("no snapshots given")
        snaps = []
        for f in files:
            with open(f, encoding="utf-8") as fh:
                snaps.append((f, fh.read()))
    errors += check_series(snaps, uri_format=a.uri_format, uri_regex=a.uri_regex,
                           require_pdt=a.require_pdt, pdt_tolerance=a.pdt_tolerance,
                           allow_gaps=a.allow_gaps, lenient_dates=a.lenient_dates)
    for e in errors:
        print(e)
    nseg = len({(s[0], ln) for s in snaps for ln in s[1].split("\n") if ln and ln[0] != "#"})
    print(f"{len(snaps)} snapshot(s), {nseg} segment entries: "
          f"{'OK' if not errors else str(len(errors)) + ' fault(s)'}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
