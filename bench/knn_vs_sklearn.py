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

import numpy as np
from sklearn.neighbors import KNeighborsRegressor

from synthetic import Embeddings, write_mmu

n_train, n_test, d = (int(a) for a in (sys.argv[1:4] + ["100000", "10000", "256"][len(sys.argv) - 1:]))
A = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../build/tools/astrofm/astrofm")
gen = Embeddings(d)


def draw(n):
    x = gen.draw(n)
    return x, np.sin(x[:, 0]) + 0.1 * x[:, 1] ** 2


xtr, ytr = draw(n_train)
xte, yte = draw(n_test)
with tempfile.TemporaryDirectory() as tmp:
    write_mmu(f"{tmp}/train", xtr, "tr", {"y": ytr})
    write_mmu(f"{tmp}/test", xte, "te", {"y": yte})
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
