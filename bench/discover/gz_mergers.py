#!/usr/bin/env python3
"""Few-shot retrieval, active learning and anomaly ranking of real Galaxy Zoo 1
mergers (class 5, about 1.6% of the galaxies), for several feature sets.

    python3 bench/discover/gz_mergers.py --labels ../shared/data/galaxyzoo1_sdss/labels.csv \
        --features pixels:pix:W/gz128 shipped:emb:W/emb192 --json W/mergers.json

Features: NAME:pix:IMAGE_DATASET (image_array reduced to 64 principal
components fitted on the dev half; pix@N: N components), NAME:canon:IMAGE_DATASET (the same after
astrofm's canonical orientation), NAME:canonmorph:IMAGE_DATASET (that plus
the cutouts' morphology statistics), NAME:emb:EMBEDDING_CATALOGUE, NAME:npy:FILE.
Split (our own): a hash of object_id puts each galaxy in a dev or test half.
Choices (method, C, acquisition) are made on dev; the table is on test: 20
draws of 5 dev mergers as examples, the test half ranked. Active learning:
rounds of 10 labels from the test half answered by the Galaxy Zoo class;
metrics over the galaxies not yet labelled. Anomalies: each method ranks the
test half with no labels. Everything but IsolationForest is astrofm's C++
core (astrofm.discover); IsolationForest and the LOF cross-check are scikit-learn's.

--prior IMAGE_DATASET: rarity weighed in (`discover similar --prior`): the
local outlier factor of the plain pixels, its principal components and k
chosen on dev by average precision, is blended with each few-shot ranking
(discover.blend), its weight chosen on dev by the mean of average precision
and nDCG@10; the few-shot and active-learning rows are then repeated with it.
"""
import argparse
import csv
import hashlib
import json
import time

import numpy as np

import astrofm
from astrofm import discover


def load(spec, ids, dev):
    name, kind, path = spec.split(":", 2)
    kind, _, npc = kind.partition("@")
    if kind == "npy":
        return name, np.load(path)
    col = "image_array" if kind in ("pix", "canon", "canonmorph") else None
    ds = astrofm.open_dataset(path)
    if col is None:
        col = [c for c in ds.columns if c.startswith("embedding_")][0]
    t = ds.read(columns=["object_id", col])
    order = {i: r for r, i in enumerate(map(str, t["object_id"]))}
    x = np.asarray(t[col], dtype=np.float32)[[order[i] for i in ids]]
    morph = np.stack(list(discover.morphology(x).values()), axis=1) if kind == "canonmorph" else None
    if kind in ("canon", "canonmorph"):
        x = discover.canonical_pixels(x)
    x = x.reshape(len(ids), -1)
    if kind in ("pix", "canon", "canonmorph"):
        from sklearn.decomposition import PCA
        x = PCA(int(npc or 64), random_state=0).fit(x[dev]).transform(x).astype(np.float32)
    if morph is not None:  # what `astrofm discover --canonical --pca 64 --morphology` ranks on
        x = np.hstack([x, morph]).astype(np.float32)
    return name, x


def split(labels, n_draws, shots):
    """ids, merger labels, the dev and test halves (a hash of object_id), the
    example draws from the dev mergers for the table, and the tuning draws
    (examples from the dev mergers, the rest of dev ranked)."""
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    ids = [r["OBJID"].strip() for r in rows]
    y = np.array([int(r["CLASS"].strip() == "5") for r in rows], dtype=np.int8)
    half = np.array([int(hashlib.md5(i.encode()).hexdigest()[:8], 16) % 2 for i in ids])
    dev, test = np.flatnonzero(half == 0), np.flatnonzero(half == 1)
    rng = np.random.default_rng(0)
    dev_pos = dev[y[dev] == 1]
    draws = [rng.choice(dev_pos, shots, replace=False) for _ in range(n_draws)]
    tune_draws = [rng.choice(dev_pos, shots, replace=False) for _ in range(n_draws)]
    return ids, y, dev, test, draws, tune_draws


def few_shot(x, y, draws, catalogue, prior=None, w=0.5, **kw):
    out = []
    for d in draws:
        s = discover.similar(x[catalogue], x[d], **kw)
        if prior is not None:
            s = discover.blend(s, prior[catalogue], w)
        out.append(discover.ranking_metrics(s, y[catalogue]))
    return out


def active(x, y, draws, catalogue, rounds, per_round, acquisition, prior=None, w=0.5, **kw):
    """Metrics after each round, over the not-yet-labelled galaxies."""
    res = {r: [] for r in range(rounds + 1)}
    found = {r: [] for r in range(rounds + 1)}
    xc, yc = x[catalogue], y[catalogue]
    for d in draws:
        labels = np.full(len(xc), -1, dtype=np.int8)
        for r in range(rounds + 1):
            pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
            P = np.vstack([x[d], xc[pos]])
            s = discover.similar(xc, P, xc[neg] if len(neg) else None, **kw)
            if prior is not None:
                s = discover.blend(s, prior[catalogue], w)
            free = labels < 0
            res[r].append(discover.ranking_metrics(s[free], yc[free]))
            found[r].append(int((labels == 1).sum()))
            if r == rounds:
                break
            for i in discover.next_to_label(s, labels, per_round, acquisition):
                labels[i] = yc[i]
    return res, found


def choose_prior(images, ids, y, dev, test, out):
    """The plain pixels' LOF on each half, its components and k chosen by dev average precision."""
    grid = {}
    for npc in (4, 6, 8, 16, 32, 64):
        x = load(f"p:pix@{npc}:{images}", ids, dev)[1]
        for k in (20, 50, 100):
            grid[(npc, k)] = (x, discover.ranking_metrics(discover.anomalies(x[dev], method="lof", k=k), y[dev])["average_precision"])
    npc, k = max(grid, key=lambda c: grid[c][1])
    x = grid[(npc, k)][0]
    prior = np.zeros(len(ids))
    for half in (dev, test):
        prior[half] = discover.anomalies(x[half], method="lof", k=k)
    out["prior"] = {"components": npc, "k": k, "dev_grid": {f"{c[0]}/{c[1]}": round(v[1], 4) for c, v in grid.items()},
                    "test": discover.ranking_metrics(prior[test], y[test])}
    print(f"prior: LOF k={k} on {npc} components of the pixels, test AP {out['prior']['test']['average_precision']:.3f} "
          f"recall@100 {out['prior']['test']['recall_at_100']:.3f}", flush=True)
    return prior


def with_prior(x, y, dev, test, draws, tune_draws, prior, method, C):
    """Few-shot and active learning blended with the prior, its weight chosen on dev."""
    kw = {"method": method, "C": C}
    tuned = {}
    for w in (0.25, 0.5, 0.75):
        ms = []
        for d in tune_draws:
            rest = np.setdiff1d(dev, d)
            ms.append(discover.ranking_metrics(discover.blend(discover.similar(x[rest], x[d], **kw), prior[rest], w), y[rest]))
        sm = summary(ms)
        tuned[str(w)] = (sm["average_precision"][0] + sm["ndcg_at_10"][0]) / 2
    w = float(max(tuned, key=tuned.get))
    res = {"weight": w, "dev_grid": tuned, "few_shot": summary(few_shot(x, y, draws, test, prior, w, **kw))}
    for acq in ("top", "uncertain", "mix"):
        r, found = active(x, y, draws, test, 5, 10, acq, prior, w, **kw)
        res[f"active_{acq}"] = {str(k): summary(v) for k, v in r.items() if k in (0, 1, 3, 5)}
        res[f"active_{acq}"]["mergers_labelled"] = {str(k): float(np.mean(v)) for k, v in found.items() if k in (1, 3, 5)}
    return res


def summary(ms):
    keys = ["average_precision", "precision_at_20", "ndcg_at_10", "recall_at_100"]
    return {k: [float(np.mean([m[k] for m in ms])), float(np.std([m[k] for m in ms]))] for k in keys}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", required=True)
    ap.add_argument("--features", nargs="+", required=True)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--prior", help="image dataset: the plain pixels' LOF as a prior (see above)")
    ap.add_argument("--json")
    a = ap.parse_args()
    ids, y, dev, test, draws, tune_draws = split(a.labels, a.draws, a.shots)
    out = {"objects": {"dev": len(dev), "test": len(test)}, "mergers": {"dev": int(y[dev].sum()), "test": int(y[test].sum())},
           "random_average_precision": float(y[test].mean()), "features": {}}
    prior = choose_prior(a.prior, ids, y, dev, test, out) if a.prior else None
    for spec in a.features:
        name, x = load(spec, ids, dev)
        t0 = time.time()
        res = {}
        # Choose the few-shot method and C on dev.
        grid = [("mean", 1.0)] + [("pu", C) for C in (1e-3, 1e-2, 1e-1)]
        tuned = {}
        for method, C in grid:
            ms = []
            for d in tune_draws:
                rest = np.setdiff1d(dev, d)
                ms.append(discover.ranking_metrics(discover.similar(x[rest], x[d], method=method, C=C), y[rest]))
            tuned[f"{method}/C={C:g}"] = summary(ms)
        best = max(tuned, key=lambda k: tuned[k]["average_precision"][0])
        method, C = best.split("/")[0], float(best.split("=")[1])
        res["dev_choice"] = {"chosen": best, "grid": tuned}
        for m in ("mean", "pu"):
            kw = {"method": m, "C": C if m == method else 0.01}
            res[f"few_shot_{m}"] = summary(few_shot(x, y, draws, test, **kw))
        for acq in ("top", "uncertain", "mix"):
            r, found = active(x, y, draws, test, 5, 10, acq, method=method, C=C)
            res[f"active_{acq}"] = {str(k): summary(v) for k, v in r.items() if k in (0, 1, 3, 5)}
            res[f"active_{acq}"]["mergers_labelled"] = {str(k): float(np.mean(v)) for k, v in found.items() if k in (1, 3, 5)}
        xt, yt = x[test], y[test]
        an = {}
        for m in ("lof", "knn", "iforest"):
            s = discover.anomalies(xt, method=m, k=20)
            an[m] = discover.ranking_metrics(s, yt)
        res["anomalies"] = an
        if prior is not None:
            res["with_prior"] = with_prior(x, y, dev, test, draws, tune_draws, prior, method, C)
        res["seconds"] = time.time() - t0
        out["features"][name] = res
        fs = res[f"few_shot_{method}"]
        print(f"{name}: few-shot {best} AP {fs['average_precision'][0]:.3f} P@20 {fs['precision_at_20'][0]:.3f} "
              f"nDCG@10 {fs['ndcg_at_10'][0]:.3f}; active(top) round 3 AP {res['active_top']['3']['average_precision'][0]:.3f} "
              f"nDCG@10 {res['active_top']['3']['ndcg_at_10'][0]:.3f}; anomalies LOF AP {an['lof']['average_precision']:.3f} "
              f"R@100 {an['lof']['recall_at_100']:.3f}, iforest AP {an['iforest']['average_precision']:.3f} "
              f"R@100 {an['iforest']['recall_at_100']:.3f}", flush=True)
        if prior is not None:
            wp = res["with_prior"]
            print(f"  + prior (weight {wp['weight']}): few-shot AP {wp['few_shot']['average_precision'][0]:.3f} "
                  f"nDCG@10 {wp['few_shot']['ndcg_at_10'][0]:.3f}; active(top) round 3 AP "
                  f"{wp['active_top']['3']['average_precision'][0]:.3f} nDCG@10 {wp['active_top']['3']['ndcg_at_10'][0]:.3f}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
