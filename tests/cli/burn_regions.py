# SPDX-License-Identifier: LGPL-2.1-or-later
# Where a burned video differs from its source: decodes both (luma, ffmpeg, every decoded
# frame as it is: none duplicated or dropped) and prints, for frame N of each: the mean
# absolute difference of the top half and of the bottom half, the number of pixels that
# differ by more than 40 in each half, and the rows where such pixels are (first-last; "-"
# for none).
#   burn_regions.py SOURCE BURNED N [N...]
import subprocess
import sys

import numpy as np


def luma(path, w=320, h=240):
    raw = subprocess.run(['ffmpeg', '-nostdin', '-v', 'error', '-i', path, '-map', '0:v:0',
                          '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'gray',
                          '-'],
                         check=True, stdout=subprocess.PIPE).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w).astype(np.int16)


src, out = luma(sys.argv[1]), luma(sys.argv[2])
if src.shape != out.shape:
    sys.exit('frames differ: %s vs %s' % (src.shape, out.shape))
half = src.shape[1] // 2
for n in map(int, sys.argv[3:]):
    d = np.abs(out[n] - src[n])
    rows = np.nonzero((d > 40).any(axis=1))[0]
    span = '%d-%d' % (rows[0], rows[-1]) if len(rows) else '-'
    print('frame %d top %.2f %d bottom %.2f %d rows %s' % (
        n, d[:half].mean(), (d[:half] > 40).sum(), d[half:].mean(), (d[half:] > 40).sum(),
        span))
