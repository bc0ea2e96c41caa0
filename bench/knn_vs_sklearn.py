#!/usr/bin/python3
"""kNN regression on frozen features: astrofm against scikit-learn, one run.

Usage: /usr/bin/python3 bench/knn_vs_sklearn.py [N_TRAIN] [N_TEST] [DIM]   (default 100000 10000 256)
Clustered features with a low intrinsic dimension (as embeddings are) and a
smooth target, written as two MMU datasets; `astrofm probe knn` (k = 5,
uniform, brute force, both threads) against sklearn KNeighborsRegressor
(algorithm="brute", n_jobs=2). Times cover fit + predict in memory on both
sides (astrofm reports its own, without file reading); predictions are
compared element by element.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
from sklearn.neighbors import KNeighborsRegressor

n_train, n_test, d = (int(a) for a in (sys.argv[1:4] + ["100000", "10000", "256"][len(sys.argv) - 1:]))
A = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../build/tools/astrofm/astrofm")
rng = np.random.default_rng(0)
centres = rng.normal(0, 1, (200, d)).astype(np.float32)
proj = rng.normal(0, 0.3, (200, 16, d)).astype(np.float32)


def draw(n):
    c = rng.integers(0, 200, n)
    z = rng.normal(0, 1, (n, 16)).astype(np.float32)
    x = centres[c] + np.einsum("nk,nkd->nd", z, proj[c]) + rng.normal(0, 0.05, (n, d)).astype(np.float32)
    y = np.sin(x[:, 0]) + 0.1 * x[:, 1] ** 2
    return x.astype(np.float32), y


def write(root, x, y, prefix):
    f = f"{root}/emb/healpix=-1/001-of-001.hdf5"
    os.makedirs(os.path.dirname(f))
    with h5py.File(f, "w") as h:
        h["object_id"] = np.array([f"{prefix}{i}".encode() for i in range(len(y))], dtype="S16")
        h["ra"] = np.full(len(y), np.nan)
        h["dec"] = np.full(len(y), np.nan)
        h["healpix"] = np.full(len(y), -1, dtype=np.int64)
        h["embedding_image"] = x
        h["y"] = y


xtr, ytr = draw(n_train)
xte, yte = draw(n_test)
with tempfile.TemporaryDirectory() as tmp:
    write(f"{tmp}/train", xtr, ytr, "tr")
    write(f"{tmp}/test", xte, yte, "te")
    subprocess.run([A, "-q", "probe", "knn", "--train", f"{tmp}/train", "--test", f"{tmp}/test", "--target", "y", "--k", "5",
                    "--json", f"{tmp}/r.json", "--out", f"{tmp}/pred.csv"], check=True)
    r = json.load(open(f"{tmp}/r.json"))
    ours_s = r["metrics"]["fit"]["seconds"]
    ours = np.genfromtxt(f"{tmp}/pred.csv", delimiter=",", skip_header=1, usecols=4)
t0 = time.perf_counter()
theirs = KNeighborsRegressor(n_neighbors=5, algorithm="brute", n_jobs=2).fit(xtr.astype(np.float64), ytr).predict(xte.astype(np.float64))
sk_s = time.perf_counter() - t0
same = int(np.sum(np.abs(ours - theirs) <= 1e-6 * np.maximum(1, np.abs(theirs))))
print(f"kNN regression, {n_train} train x {n_test} queries x {d}-d, k = 5")
print(f"astrofm {ours_s:.2f} s, sklearn {sk_s:.2f} s: {sk_s / ours_s:.2f}x; identical predictions {same}/{n_test}")
