#!/usr/bin/env python3
"""Are the morphology statistics alone (astrofm.discover.morphology, robustly
standardised on the dev half) a better anomaly space for Galaxy Zoo mergers
than pixels? Same split as gz_mergers.py (a hash of object_id; test half
ranked, no labels used); also each statistic on its own, its sign chosen on dev.

  PYTHONPATH=build:bench/discover build/hats-venv/bin/python bench/discover/morph_anomalies.py \
      ../shared/data/galaxyzoo1_sdss/labels.csv /tmp/astrofm-discover/gz128
"""
import sys

import numpy as np

import astrofm
from astrofm import discover
from gz_mergers import split

labels, images = sys.argv[1], sys.argv[2]
ids, y, dev, test, _, _ = split(labels, 0, 5)
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
