#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""sig_place.py PCM GUESS A B: where media time 0 is in a capture (mono f32le, 48 kHz) of
a part that carries the join tests' known signal from T = 0 at media time 0
(tests/cli/join_measure.c's s(T)): the offset, in seconds, at which the capture over media
[A, B) matches the signal best, searched within 150 ms of GUESS, and the normalized
correlation there (1: the signal exactly). Prints both.

join_measure searches a lag within 15 ms of where a part is placed; the signal's 31.7 Hz
component repeats every 31.5 ms, so a placement more than 15 ms off (a capture clock read
against currentTime, which lags by a few render quanta) is taken for one period off. This
search is wide: on 16-sample means first (3 kHz), then sample by sample around each of
the best peaks, the highest correlation winning (all four components align only at the
true offset; the next best peak, 93 ms away, correlates 0.93)."""
import math
import struct
import sys

SR = 48000
TAU = 2 * math.pi


def sig(t):
    return (0.25 * math.sin(TAU * 440.7 * t) + 0.2 * math.sin(TAU * 97.3 * t) +
            0.15 * math.sin(TAU * 31.7 * t) + 0.1 * math.sin(TAU * 1234.5 * t))


def place(pcm, guess, a, b, search=0.150):
    """(offset, correlation): the offset (seconds) of media time 0 in @pcm, within @search
    of @guess, and the normalized correlation there (1: the signal exactly)."""
    d = 16
    n = int((b - a) * SR) // d
    exp = [sig(a + (k * d + (d - 1) / 2) / SR) for k in range(n)]
    lo = max(0, int(round((a + guess - search) * SR)))
    nb = min((len(pcm) - lo) // d, int(2 * search * SR) // d + n)
    dec = [sum(pcm[lo + j * d:lo + j * d + d]) for j in range(nb)]
    coarse = []
    for j in range(nb - n):
        c = sum(dec[j + k] * exp[k] for k in range(n))
        e = math.sqrt(sum(x * x for x in dec[j:j + n])) + 1e-12
        coarse.append(c / e)
    # the quasi-periodic signal has near peaks (0.93 of the true one at 93 ms, which
    # 16-sample means can rank first): each of the best local maxima, sample by sample
    peaks = sorted((c, j) for j, c in enumerate(coarse)
                   if 0 < j < len(coarse) - 1 and coarse[j - 1] <= c >= coarse[j + 1])[-6:]
    m = int((b - a) * SR)
    fine = [sig(a + k / SR) for k in range(m)]
    ef = math.sqrt(sum(x * x for x in fine))
    best, at = -2.0, None
    for _, j in peaks:
        for s in range(lo + j * d - d, lo + j * d + d + 1):
            if s < 0 or s + m > len(pcm):
                continue
            seg = pcm[s:s + m]
            c = sum(x * y for x, y in zip(seg, fine))
            c /= ef * (math.sqrt(sum(x * x for x in seg)) + 1e-12)
            if c > best:
                best, at = c, s
    return (None, None) if at is None else (at / SR - a, best)


def main():
    fn, guess, a, b = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    with open(fn, "rb") as f:
        raw = f.read()
    pcm = struct.unpack("<%df" % (len(raw) // 4), raw[:len(raw) // 4 * 4])
    off, corr = place(pcm, guess, a, b)
    if off is None:
        print("sig_place: %s: no capture over media %g..%g s" % (fn, a, b), file=sys.stderr)
        return 1
    print("%.6f %.5f" % (off, corr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
