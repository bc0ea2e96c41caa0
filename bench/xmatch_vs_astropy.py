#!/usr/bin/python3
"""Cross-match of N x N random sky positions within R arcsec: astrofm against
astropy's SkyCoord.match_to_catalog_sky + separation cut, in one run.

Usage: /usr/bin/python3 bench/xmatch_vs_astropy.py [N=1000000] [RADIUS=1.0]
Prints both timings, both pair counts and the ratio. Run from the repository
root after ./scripts/build.sh.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from astropy.coordinates import SkyCoord
import astropy.units as u

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
radius = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
rng = np.random.default_rng(42)
# Uniform on the sphere; B is A jittered by up to 2" for half the objects plus
# random positions, so about a quarter of A has a partner within 1".
ra_a = rng.uniform(0, 360, n); dec_a = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
half = n // 2
jit = 2.0 / 3600
ra_b = np.concatenate([ra_a[:half] + rng.uniform(-jit, jit, half) / np.cos(np.radians(dec_a[:half])), rng.uniform(0, 360, n - half)]) % 360
dec_b = np.clip(np.concatenate([dec_a[:half] + rng.uniform(-jit, jit, half), np.degrees(np.arcsin(rng.uniform(-1, 1, n - half)))]), -90, 90)

with tempfile.TemporaryDirectory() as tmp:
    np.stack([ra_a, dec_a], 1).astype("<f8").tofile(f"{tmp}/a.bin")
    np.stack([ra_b, dec_b], 1).astype("<f8").tofile(f"{tmp}/b.bin")
    out = subprocess.run(["build/bench/astrofm_bench_xmatch", f"{tmp}/a.bin", f"{tmp}/b.bin", str(radius)],
                         check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)

t0 = time.perf_counter()
ca = SkyCoord(ra_a * u.deg, dec_a * u.deg)
cb = SkyCoord(ra_b * u.deg, dec_b * u.deg)
idx, sep, _ = ca.match_to_catalog_sky(cb)
pairs = int((sep.arcsec <= radius).sum())
t_astropy = time.perf_counter() - t0

print(json.dumps({"n": n, "radius_arcsec": radius, "astrofm_threads": os.cpu_count(), "astropy_threads": 1,
                  "astrofm_seconds": ours["seconds"], "astrofm_pairs": ours["pairs"],
                  "astropy_seconds": t_astropy, "astropy_pairs": pairs,
                  "speedup": t_astropy / ours["seconds"]}, indent=1))
