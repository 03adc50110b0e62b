#!/usr/bin/python3
"""edt_peer.py MASK.raw W H - times scipy.ndimage.distance_transform_edt on
the same mask the C benchmark used (raw bytes, non-zero = feature), best of
N, and prints `edt_scipy_ms=<t>`.  The distance is to the nearest feature
pixel, as orf_edt computes it, so the input is the inverted mask."""
import sys, time
import numpy as np
from scipy import ndimage

path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mask = np.fromfile(path, dtype=np.uint8).reshape(h, w)
background = mask == 0  # distance_transform_edt measures to the nearest zero
best = float("inf")
for _ in range(7):
    t = time.perf_counter()
    ndimage.distance_transform_edt(background)
    best = min(best, time.perf_counter() - t)
print(f"edt_scipy_ms={best * 1e3:.2f}")
