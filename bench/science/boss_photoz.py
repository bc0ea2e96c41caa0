#!/usr/bin/python3
"""BOSS DR10 photometric redshifts with astrofm probes, scikit-learn beside them.

Usage: /usr/bin/python3 bench/science/boss_photoz.py [SHARED_DATA] [WORKDIR]
Imports ../shared/data/boss_dr10_photoz/galaxies.csv, then for kNN (k = 5,
standardised), ridge (alpha by 5-fold CV) and the MLP head (64, 64) fits on
all training labels and on 200 (5 random draws) and scores the held-out 20%
(astrofm's fixed split by a hash of object_id). Features: the five
magnitudes and the four adjacent colours. scikit-learn runs the same models
on the same split: KNeighborsRegressor, RidgeCV, MLPRegressor(early_stopping).
"""
import csv
import json
import os
import subprocess
import sys

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from mmu_read import read_columns

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "../.."))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "../shared/data")
work = sys.argv[2] if len(sys.argv) > 2 else "/tmp/astrofm-boss"
A = os.path.join(root, "build/tools/astrofm/astrofm")
os.makedirs(work, exist_ok=True)
data = f"{work}/boss"
if not os.path.isdir(data):
    subprocess.run([A, "-q", "import", "csv", f"{shared}/boss_dr10_photoz/galaxies.csv", "--out", data, "--config", "boss"], check=True)
mags = ["mag_u", "mag_g", "mag_r", "mag_i", "mag_z"]
features = mags + [f"{a}-{b}" for a, b in zip(mags, mags[1:])]
extra = {"knn": ["--standardize"], "ridge": [], "mlp": []}

results = {}
for kind in ("knn", "ridge", "mlp"):
    for budget in ("all", "200"):
        out = f"{work}/{kind}_{budget}.json"
        cmd = [A, "-q", "probe", kind, "--train", data, "--target", "z", "--features", ",".join(features),
               "--json", out, "--out", f"{work}/pred_{kind}_{budget}.csv"] + extra[kind]
        if budget == "200":
            cmd += ["--labels", "200", "--repeats", "5"]
        subprocess.run(cmd, check=True)
        r = json.load(open(out))
        results[f"astrofm {kind} {budget}"] = r["curve"][0]

# scikit-learn on the same split: the test ids are those in the predictions CSV.
cols = read_columns(data, ["object_id", "z"] + mags)
ids = cols["object_id"].astype(str)
test_ids = {row["object_id"] for row in csv.DictReader(open(f"{work}/pred_knn_all.csv"))}
test = np.array([i in test_ids for i in ids])
M = np.stack([cols[m] for m in mags], 1)
X = np.concatenate([M, M[:, :-1] - M[:, 1:]], 1).astype(np.float32).astype(np.float64)
y = cols["z"]


def score(t, p):
    dz = (p - t) / (1 + t)
    b = np.median(dz)
    return {"r2": 1 - np.sum((p - t) ** 2) / np.sum((t - t.mean()) ** 2), "sigma_nmad": 1.4826 * np.median(np.abs(dz - b)),
            "bias": b, "eta_0.05": np.mean(np.abs(dz) > 0.05), "eta_0.15": np.mean(np.abs(dz) > 0.15)}


models = {"knn": lambda s: KNeighborsRegressor(5), "ridge": lambda s: RidgeCV(alphas=np.logspace(-3, 4, 8)),
          "mlp": lambda s: MLPRegressor((64, 64), early_stopping=True, random_state=s, max_iter=500)}
Xtr, ytr, Xte, yte = X[~test], y[~test], X[test], y[test]
for kind, make in models.items():
    for budget in ("all", "200"):
        runs = []
        for seed in range(1 if budget == "all" else 5):
            sel = np.arange(len(ytr)) if budget == "all" else np.random.default_rng(seed).choice(len(ytr), 200, replace=False)
            sc = StandardScaler().fit(Xtr[sel])
            ys = (ytr[sel].mean(), ytr[sel].std()) if kind == "mlp" else (0.0, 1.0)
            m = make(seed).fit(sc.transform(Xtr[sel]), (ytr[sel] - ys[0]) / ys[1])
            runs.append(score(yte, m.predict(sc.transform(Xte)) * ys[1] + ys[0]))
        results[f"sklearn {kind} {budget}"] = {"mean": {k: float(np.mean([r[k] for r in runs])) for k in runs[0]},
                                               "std": {k: float(np.std([r[k] for r in runs], ddof=1)) if len(runs) > 1 else 0.0 for k in runs[0]}}

print(f"BOSS DR10 photo-z, {int((~test).sum())} training / {int(test.sum())} test galaxies")
print(f"{'model':24s} {'R2':>7s} {'sigma_NMAD':>11s} {'bias':>8s} {'eta0.05':>8s} {'eta0.15':>8s}")
for name, r in results.items():
    m, s = r["mean"], r["std"]
    print(f"{name:24s} {m['r2']:7.3f} {m['sigma_nmad']:7.4f}±{s['sigma_nmad']:.4f} {m['bias']:8.4f} {m['eta_0.05']:8.3f} {m['eta_0.15']:8.3f}")
json.dump(results, open(f"{work}/boss_photoz.json", "w"), indent=1)
