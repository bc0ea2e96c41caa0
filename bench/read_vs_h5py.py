#!/usr/bin/python3
"""Reading MMU image partitions: astrofm's streaming reader against h5py, in
one run, for uncompressed, gzip and LZF datasets of the same simulated images.

Usage: /usr/bin/python3 bench/read_vs_h5py.py [OBJECTS=4000] [WORKDIR=/tmp/astrofm-read-bench]
Builds the datasets with `astrofm simulate` (images only), then reads
image_array, image_ivar and image_mask of every object, batch by batch, with
both, and reports MB/s of decoded data and the ratio. Run from the repository
root after ./scripts/build.sh.
"""
import glob
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
work = sys.argv[2] if len(sys.argv) > 2 else "/tmp/astrofm-read-bench"
cols = ["image_array", "image_ivar", "image_mask"]
os.makedirs(work, exist_ok=True)
results = []
for comp in ("none", "gzip", "lzf"):
    d = f"{work}/{comp}"
    if not os.path.exists(d):
        subprocess.run(["build/tools/astrofm/astrofm", "-q", "simulate", "--objects", str(n), "--no-spectra",
                        "--region", "150,160,0,10", "--compression", comp, "--out", d], check=True)
    files = sorted(glob.glob(f"{d}/*/healpix=*/*.hdf5"))
    subprocess.run(["cat"] + files, stdout=subprocess.DEVNULL, check=True)  # same page-cache state for both
    best_ours = min((json.loads(subprocess.run(["build/bench/astrofm_bench_read", d] + cols, check=True,
                                                capture_output=True, text=True).stdout) for _ in range(3)),
                    key=lambda r: r["seconds"])
    times = []
    for _ in range(3):
        t0 = time.perf_counter(); nbytes = 0
        for f in files:
            with h5py.File(f, "r") as h:
                rows = h["object_id"].shape[0]
                for s in range(0, rows, 256):
                    for c in cols:
                        nbytes += h[c][s:s + 256].nbytes
        times.append(time.perf_counter() - t0)
    t_h5py = min(times)
    assert nbytes == best_ours["bytes"], (nbytes, best_ours["bytes"])
    mb = nbytes / 1e6
    results.append({"compression": comp, "MB": round(mb, 1), "astrofm_MB_per_s": round(mb / best_ours["seconds"], 1),
                    "h5py_MB_per_s": round(mb / t_h5py, 1), "ratio": round(t_h5py / best_ours["seconds"], 2)})
print(json.dumps(results, indent=1))
