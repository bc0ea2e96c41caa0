#!/usr/bin/env python3
"""Are the morphology statistics alone (astrofm.discover.morphology, robustly
standardised on the dev half) a better anomaly space for Galaxy Zoo mergers
than pixels? Same split as gz_mergers.py (a hash of object_id; test half
ranked, no labels used); also each statistic on its own, its sign chosen on dev.

  PYTHONPATH=build build/hats-venv/bin/python bench/discover/morph_anomalies.py \
      ../shared/data/galaxyzoo1_sdss/labels.csv /tmp/astrofm-discover/gz128
"""
import csv
import hashlib
import sys

import numpy as np

import astrofm
from astrofm import discover

labels, images = sys.argv[1], sys.argv[2]
with open(labels, newline="") as f:
    rows = list(csv.DictReader(f))
ids = [r["OBJID"].strip() for r in rows]
y = np.array([int(r["CLASS"].strip() == "5") for r in rows], dtype=np.int8)
half = np.array([int(hashlib.md5(i.encode()).hexdigest()[:8], 16) % 2 for i in ids])
dev, test = np.flatnonzero(half == 0), np.flatnonzero(half == 1)
t = astrofm.open_dataset(images).read(columns=["object_id", "image_array"])
order = {i: r for r, i in enumerate(map(str, t["object_id"]))}
x = np.asarray(t["image_array"], dtype=np.float32)[[order[i] for i in ids]]
stats = discover.morphology(x)
M = np.stack(list(stats.values()), 1).astype(np.float64)
med = np.median(M[dev], 0)
iqr = np.subtract(*np.percentile(M[dev], [75, 25], 0))
iqr[iqr == 0] = 1
Z = ((M - med) / iqr).astype(np.float32)
print(f"{len(test)} test galaxies, {int(y[test].sum())} mergers; random AP {y[test].mean():.3f}")
for method in ("lof", "knn", "iforest"):
    r = discover.ranking_metrics(discover.anomalies(Z[test], method=method, k=20), y[test])
    print(f"morphology statistics, {method}: AP {r['average_precision']:.3f}, recall@100 {r['recall_at_100']:.3f}")
for j, name in enumerate(stats):
    sign = max((1, -1), key=lambda s: discover.ranking_metrics(s * Z[dev, j], y[dev])["average_precision"])
    r = discover.ranking_metrics(sign * Z[test, j], y[test])
    print(f"  {name:26s} ({'+' if sign > 0 else '-'}): AP {r['average_precision']:.3f}, recall@100 {r['recall_at_100']:.3f}")
