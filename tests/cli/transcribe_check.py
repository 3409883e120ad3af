#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What tests/cli/cli_transcribe.sh checks on a transcription.

  transcribe_check.py wer REF_TEXT HYP_TEXT MAX      word error rate of HYP against REF;
                                                     exit 1 when above MAX
  transcribe_check.py text SUBS                      the captions' words, one line
  transcribe_check.py rules SUBS CHARS LINES SPEECH  the caption rules, and each cue against
                                                     the speech: SPEECH is "1.0-5.4,7.0-10.8"
                                                     (seconds); every cue overlaps one
                                                     interval, every interval has a cue
"""
import re
import sys


def words(text):
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def wer(ref, hyp):
    """(substitutions + deletions + insertions) / reference words: Levenshtein on words."""
    r, h = words(ref), words(hyp)
    row = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, row = row, [i] + [0] * len(h)
        for j in range(1, len(h) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return row[len(h)] / max(1, len(r))


def clock(s):
    parts = s.replace(",", ".").split(":")
    v = 0.0
    for p in parts:
        v = v * 60 + float(p)
    return v


def cues(path):
    """(start, end, [lines]) of an SRT or WebVTT file."""
    out = []
    blocks = re.split(r"\n\s*\n", open(path, encoding="utf-8").read().strip())
    for b in blocks:
        lines = b.split("\n")
        for k, line in enumerate(lines):
            if "-->" in line:
                a, z = line.split("-->")
                out.append((clock(a.strip()), clock(z.strip().split()[0]), lines[k + 1:]))
                break
    return out


def main():
    mode = sys.argv[1]
    if mode == "wer":
        ref = open(sys.argv[2], encoding="utf-8").read()
        hyp = open(sys.argv[3], encoding="utf-8").read()
        w = wer(ref, hyp)
        print("%.3f" % w)
        return 0 if w <= float(sys.argv[4]) else 1
    if mode == "text":
        print(" ".join(" ".join(c[2]) for c in cues(sys.argv[2])))
        return 0
    if mode == "rules":
        cs = cues(sys.argv[2])
        chars, nlines = int(sys.argv[3]), int(sys.argv[4])
        speech = [tuple(map(float, iv.split("-"))) for iv in sys.argv[5].split(",") if iv]
        bad = []
        for i, (a, z, lines) in enumerate(cs):
            name = "cue %d (%.3f-%.3f)" % (i + 1, a, z)
            if not lines or len(lines) > nlines:
                bad.append("%s has %d lines, at most %d" % (name, len(lines), nlines))
            for line in lines:
                if len(line) > chars:
                    bad.append("%s: line '%s' is %d characters, at most %d"
                               % (name, line, len(line), chars))
            if not 1.0 - 1e-6 <= z - a <= 7.0 + 1e-6:
                bad.append("%s lasts %.3f s, not 1 to 7" % (name, z - a))
            if i and a < cs[i - 1][1] - 1e-6:
                bad.append("%s starts before cue %d ends (%.3f)" % (name, i, cs[i - 1][1]))
            if speech and not any(a < e and z > s for s, e in speech):
                bad.append("%s overlaps no speech (%s)" % (name, sys.argv[5]))
        for s, e in speech:
            if not any(a < e and z > s for a, z, _ in cs):
                bad.append("speech %.1f-%.1f has no cue" % (s, e))
        for b in bad:
            print(b)
        return 1 if bad else 0
    print("unknown mode " + mode, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
