#!/usr/bin/env python3
"""How far the Galaxy Zoo merger features can go, and two rankings tried
against the few-shot `mean` (docs/discovery.md), on gz_mergers.py's split:

  1. the ceiling: a classifier trained on every dev label (43 mergers, 2,553
     galaxies), average precision on the test half: scikit-learn's
     class-balanced logistic regression and a gradient-boosted tree ensemble
     (HistGradientBoostingClassifier);
  2. few-shot ranks fused with the pixels' anomaly ranks (LOF, k=20):
     (1 - w) rank(mean similarity) + w rank(LOF), w chosen on dev;
  3. bagged positive-unlabelled trees (Mordelet & Vert 2014): extra trees of
     the 5 examples against 200 random catalogue galaxies, 30 bags, each
     galaxy scored by the bags it was not drawn into.

  PYTHONPATH=build build/hats-venv/bin/python bench/discover/merger_ceiling.py \
      --labels ../shared/data/galaxyzoo1_sdss/labels.csv --images W/gz128
"""
import argparse
import json

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from astrofm import discover
from gz_mergers import load, split

ap = argparse.ArgumentParser()
ap.add_argument("--labels", required=True)
ap.add_argument("--images", required=True, help="the gz128 image dataset of bench/discover/run.sh")
ap.add_argument("--draws", type=int, default=20)
ap.add_argument("--json")
a = ap.parse_args()
ids, y, dev, test, draws, tune = split(a.labels, a.draws, 5)  # gz_mergers.py's split and draws
feats = {"canonmorph": load("c:canonmorph:" + a.images, ids, dev)[1], "pixels": load("p:pix:" + a.images, ids, dev)[1]}
out = {"ceiling": {}, "fusion": {}, "bagged_pu": {}}


def metrics(scores_of_draw, cat, dr):
    ms = []
    for d in dr:
        c = np.setdiff1d(cat, d)
        ms.append(discover.ranking_metrics(scores_of_draw(c, d), y[c]))
    return {k: round(float(np.mean([m[k] for m in ms])), 3) for k in ("average_precision", "ndcg_at_10", "precision_at_20")}


for name, x in feats.items():
    sc = StandardScaler().fit(x[dev])
    xd, xt = sc.transform(x[dev]), sc.transform(x[test])
    lr = max((LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(xd, y[dev]) for C in (1e-3, 1e-2, 1e-1)),
             key=lambda m: discover.ranking_metrics(m.decision_function(xd), y[dev])["average_precision"])
    hgb = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, class_weight="balanced", random_state=0).fit(xd, y[dev])
    out["ceiling"][name] = {"logistic": round(discover.ranking_metrics(lr.decision_function(xt), y[test])["average_precision"], 3),
                            "gradient_boosting": round(discover.ranking_metrics(hgb.predict_proba(xt)[:, 1], y[test])["average_precision"], 3)}
    print("ceiling", name, out["ceiling"][name], flush=True)

cm, px = feats["canonmorph"], feats["pixels"]


def ranks(s):
    return np.argsort(np.argsort(s)) / (len(s) - 1)


for w in (0.0, 0.25, 0.5):
    res = {}
    for split, cat, dr in (("dev", dev, tune), ("test", test, draws)):
        lof = dict(zip(cat, ranks(discover.anomalies(px[cat], method="lof", k=20))))
        res[split] = metrics(lambda c, d: (1 - w) * ranks(discover.similar(cm[c], cm[d], method="mean")) + w * np.array([lof[i] for i in c]), cat, dr)
    out["fusion"][str(w)] = res
    print("fusion w", w, res, flush=True)


def bagged_pu(xc, xp, bags=30, unlabelled=200):
    r = np.random.default_rng(0)
    s, n = np.zeros(len(xc)), np.zeros(len(xc))
    for b in range(bags):
        u = r.choice(len(xc), unlabelled, replace=False)
        m = ExtraTreesClassifier(n_estimators=50, random_state=b, n_jobs=2).fit(np.vstack([xp, xc[u]]), np.r_[np.ones(len(xp)), np.zeros(len(u))])
        free = np.ones(len(xc), bool)
        free[u] = False
        s[free] += m.predict_proba(xc[free])[:, 1]
        n[free] += 1
    return s / np.maximum(n, 1)


for split, cat, dr in (("dev", dev, tune[:10]), ("test", test, draws[:10])):
    out["bagged_pu"][split] = metrics(lambda c, d: bagged_pu(cm[c], cm[d]), cat, dr)
    print("bagged PU extra trees", split, out["bagged_pu"][split], flush=True)
if a.json:
    with open(a.json, "w") as f:
        json.dump(out, f, indent=1)
