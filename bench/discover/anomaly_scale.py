#!/usr/bin/env python3
"""Anomaly ranking at scale: astrofm's k-NN distance and LOF over its
indexes (exact, IVF-SQ8) against scikit-learn's IsolationForest and
LocalOutlierFactor, on synthetic embeddings with planted outliers, same
machine, one run.

    python3 bench/discover/anomaly_scale.py --sizes 100000 1000000 --json bench/discover/scale.json

Catalogue: n objects in 64 Gaussian clusters in 32 dimensions (an embedding
catalogue's shape), plus n/1000 planted outliers drawn far from every
cluster. Reported per method: seconds, objects per second, peak memory of
the process (the catalogue included), and the planted outliers' recall in
the top n/1000.
"""
import argparse
import json
import multiprocessing
import resource
import time

import numpy as np

from astrofm import discover


def catalogue(n, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (64, d)).astype(np.float32)
    x = centres[rng.integers(0, 64, n)] + rng.normal(0, 1, (n, d)).astype(np.float32)
    k = max(1, n // 1000)
    planted = rng.choice(n, k, replace=False)
    x[planted] = rng.normal(0, 4, (k, d)).astype(np.float32) * 2.5  # between and beyond the clusters
    return x, planted


def run(name, fn, x, planted):
    """In a forked child, so that each method's peak memory is its own."""
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=lambda: q.put(_run(name, fn, x, planted)))
    p.start()
    r = q.get()
    p.join()
    return r


def _run(name, fn, x, planted):
    t0 = time.time()
    s = fn(x)
    dt = time.time() - t0
    top = np.argsort(-s)[:len(planted)]
    rec = len(set(top.tolist()) & set(planted.tolist())) / len(planted)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"n={len(x):>9,} {name:<34} {dt:8.1f} s {len(x) / dt:>10,.0f} obj/s  recall {rec:.3f}  peak RSS {rss:,.0f} MB", flush=True)
    return {"seconds": dt, "objects_per_second": len(x) / dt, "recall_planted": rec, "peak_rss_mb": rss}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100000, 1000000])
    ap.add_argument("--sklearn-max", type=int, default=1000000, help="largest n given to scikit-learn")
    ap.add_argument("--exact-max", type=int, default=200000, help="largest n for the exact (flat) search")
    ap.add_argument("--sklearn-lof-max", type=int, default=200000, help="largest n given to scikit-learn's LOF (a tree search)")
    ap.add_argument("--nprobe", type=int, default=8, help="IVF lists visited per object")
    ap.add_argument("--knn-only", action="store_true", help="astrofm's k-NN distance only (the largest runs)")
    ap.add_argument("--json")
    a = ap.parse_args()
    out = {}
    for n in a.sizes:
        x, planted = catalogue(n)
        res = {}
        if n <= a.exact_max:
            res["astrofm knn, exact"] = run("astrofm knn, exact", lambda v: discover.anomalies(v, "knn", 20, index="flat"), x, planted)
        for m in ("knn",) if a.knn_only else ("knn", "lof"):
            name = f"astrofm {m}, ivfsq8 nprobe {a.nprobe}"
            res[name] = run(name, lambda v, m=m: discover.anomalies(v, m, 20, index="ivfsq8", nprobe=a.nprobe), x, planted)
        if n <= a.sklearn_max and not a.knn_only:
            from sklearn.ensemble import IsolationForest
            res["sklearn IsolationForest"] = run("sklearn IsolationForest", lambda v: -IsolationForest(
                n_estimators=100, random_state=0, n_jobs=2).fit(v).score_samples(v), x, planted)
        if n <= a.sklearn_lof_max and not a.knn_only:
            from sklearn.neighbors import LocalOutlierFactor
            res["sklearn LocalOutlierFactor"] = run("sklearn LocalOutlierFactor", lambda v: -LocalOutlierFactor(
                n_neighbors=20, n_jobs=2).fit(v).negative_outlier_factor_, x, planted)
        out[str(n)] = res
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
