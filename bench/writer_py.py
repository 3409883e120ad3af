#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python side of bench/writer.sh: vidpipe.VideoWriter or cv2.VideoWriter on frames
loaded into memory first. Prints "MODE fps p50_us p99_us full_pct cpu_ms" like bench_writer.

    writer_py.py vidpipe|cv2 RAW_BGR24 WIDTH HEIGHT FRAMES PRESET OUT
"""
import os
import resource
import sys
import time

import numpy as np


def main():
    mode, raw, w, h, frames, preset, out = sys.argv[1:8]
    w, h, frames = int(w), int(h), int(frames)
    data = np.fromfile(raw, np.uint8).reshape(-1, h, w, 3)
    k = len(data)
    period = max(1, 2 * (k - 1))
    seq = [(i % period if i % period < k else period - i % period) for i in range(frames)]
    lat, full = [], 0
    def cpu():
        a = resource.getrusage(resource.RUSAGE_SELF)
        b = resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    if mode == "vidpipe":
        sys.path.insert(0, os.environ.get("VIDPIPE_PYTHONPATH", ""))
        import vidpipe
    else:
        import cv2
    c0 = cpu()
    t0 = time.perf_counter()
    if mode == "vidpipe":
        wr = vidpipe.VideoWriter(out, "avc1", 30, (w, h), preset=preset, hw="none",
                                 blocking=False)
        if not wr.isOpened():
            sys.exit("writer_py: " + wr.error)
        for i in seq:
            a = time.perf_counter()
            if wr.write(data[i]):
                lat.append(time.perf_counter() - a)
            else:
                full += 1
                wr.write(data[i], block=True)
        wr.release()
    elif mode == "cv2":
        wr = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*"avc1"), 30, (w, h))
        if not wr.isOpened():
            sys.exit("writer_py: cv2 cannot open an avc1 writer")
        for i in seq:
            a = time.perf_counter()
            wr.write(data[i])
            lat.append(time.perf_counter() - a)
        wr.release()
    else:
        sys.exit("writer_py: unknown mode " + mode)
    t1 = time.perf_counter()
    c1 = cpu()
    lat.sort()

    def pct(p):
        return lat[int(p * (len(lat) - 1) + 0.5)] * 1e6 if lat else 0

    print("%s %.1f %.0f %.0f %.1f %.2f" % (mode, frames / (t1 - t0), pct(0.5), pct(0.99),
                                           100.0 * full / frames, (c1 - c0) * 1e3 / frames))


if __name__ == "__main__":
    main()
