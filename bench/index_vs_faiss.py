#!/usr/bin/python3
"""Similarity-search indexes: astrofm against Python faiss and hnswlib, one run.

Usage: /usr/bin/python3 bench/index_vs_faiss.py [N] [DIM] [KINDS] [NLIST]
       (default 1000000 256 flat,ivfpq,hnsw-hnswlib,hnsw-faiss 4*sqrt(N))
Embedding-like vectors (bench/synthetic.py), cosine similarity. For each kind,
astrofm `index build` + `index eval` (1,000 queries drawn from the catalogue,
recall@10 against exact search) and the same index built with the same
settings from Python (Debian's python3-faiss 1.7.3, python3-hnswlib 0.6.2).
Reports build time, peak memory of the process, recall@10, queries/s per core
(2 threads on both sides).
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from synthetic import Embeddings, write_mmu

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
d = int(sys.argv[2]) if len(sys.argv) > 2 else 256
kinds = (sys.argv[3] if len(sys.argv) > 3 else "flat,ivfpq,hnsw-hnswlib,hnsw-faiss").split(",")
A = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../build/tools/astrofm/astrofm")
M, EFC, EFS, NPROBE = 32, 200, 128, 32
NLIST = int(sys.argv[4]) if len(sys.argv) > 4 else int(4 * n ** 0.5)
PQM = d // 4

# The Python side, run in a child so its peak memory is its own.
PY = r"""
import sys, time, json, resource
import numpy as np
x = np.load(sys.argv[1]); q = np.load(sys.argv[2]); kind = sys.argv[3]
M, EFC, EFS, NPROBE, NLIST, PQM = (int(a) for a in sys.argv[4:10])
x /= np.linalg.norm(x, axis=1, keepdims=True); q /= np.linalg.norm(q, axis=1, keepdims=True)
t0 = time.perf_counter()
if kind == "hnsw-hnswlib":
    import hnswlib
    ix = hnswlib.Index(space="ip", dim=x.shape[1]); ix.init_index(max_elements=len(x), M=M, ef_construction=EFC)
    ix.set_num_threads(2); ix.add_items(x); ix.set_ef(EFS)
    build = time.perf_counter() - t0; t1 = time.perf_counter(); lab, _ = ix.knn_query(q, k=10)
else:
    import faiss
    faiss.omp_set_num_threads(2)
    if kind == "flat": ix = faiss.IndexFlatIP(x.shape[1])
    elif kind == "hnsw-faiss":
        ix = faiss.IndexHNSWFlat(x.shape[1], M, faiss.METRIC_INNER_PRODUCT); ix.hnsw.efConstruction = EFC
    else:
        quant = faiss.IndexFlatIP(x.shape[1])
        ix = faiss.IndexIVFPQ(quant, x.shape[1], NLIST, PQM, 8, faiss.METRIC_INNER_PRODUCT); ix.train(x)
    ix.add(x)
    if kind == "hnsw-faiss": ix.hnsw.efSearch = EFS
    if kind == "ivfpq": ix.nprobe = NPROBE
    build = time.perf_counter() - t0; t1 = time.perf_counter(); _, lab = ix.search(q, 10)
search = time.perf_counter() - t1
print(json.dumps({"build_s": build, "qps": len(q) / search, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "labels": lab.tolist()}))
"""

gen = Embeddings(d, seed=1)
x = gen.draw(n)
rows = []
with tempfile.TemporaryDirectory() as tmp:
    write_mmu(f"{tmp}/data", x, "o")
    np.save(f"{tmp}/x.npy", x)
    rng = np.random.default_rng(2)
    qi = rng.choice(n, 1000, replace=False)
    np.save(f"{tmp}/q.npy", x[qi])
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    exact = np.empty((1000, 10), np.int64)
    for s in range(0, 1000, 50):
        sims = xn[qi[s:s + 50]] @ xn.T
        top = np.argpartition(-sims, 10, axis=1)[:, :10]
        order = np.argsort(-np.take_along_axis(sims, top, 1), axis=1)
        exact[s:s + 50] = np.take_along_axis(top, order, 1)
    for kind in kinds:
        k, _, backend = kind.partition("-")
        args = ["--kind", k] + (["--hnsw-backend", backend] if backend else []) + \
               ["--hnsw-m", str(M), "--ef-construction", str(EFC), "--ef-search", str(EFS), "--nprobe", str(NPROBE),
                "--nlist", str(NLIST), "--pq-m", str(PQM)]
        t0 = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", A, "-q", "index", "build", f"{tmp}/data", "--out", f"{tmp}/ix_{kind}"] + args,
                           capture_output=True, text=True, check=True)
        ours_build = time.perf_counter() - t0
        ours_rss = int(r.stderr.strip().splitlines()[-1]) / 1024
        meta = json.load(open(f"{tmp}/ix_{kind}/meta.json"))
        ev = json.loads(subprocess.run([A, "-q", "index", "eval", f"{tmp}/ix_{kind}", "--queries", "1000", "--seed", "5"],
                                       capture_output=True, text=True, check=True).stdout)
        py = json.loads(subprocess.run(["/usr/bin/python3", "-c", PY, f"{tmp}/x.npy", f"{tmp}/q.npy", kind, str(M), str(EFC), str(EFS),
                                        str(NPROBE), str(NLIST), str(PQM)], capture_output=True, text=True, check=True).stdout)
        lab = np.array(py["labels"])
        py_recall = np.mean([len(set(lab[i]) & set(exact[i])) / 10 for i in range(1000)])
        rows.append((kind, meta["index_seconds"], ours_build, ours_rss, ev["recall_at_k"], ev["index_queries_per_s"] / 2, py["build_s"], py["rss_mb"], py_recall,
                     py["qps"] / 2))
print(f"{n} x {d}-d embedding-like vectors, cosine, 1,000 queries, recall@10 against exact search; 2 threads each")
print("build s: training + adding vectors in memory (both sides); astrofm end to end adds reading the catalogue and writing the index")
print(f"{'kind':14s} | {'astrofm build s':>15s} {'end-to-end':>10s} {'RSS MB':>7s} {'recall':>6s} {'q/s/core':>9s} | {'python build s':>14s} {'RSS MB':>7s} {'recall':>6s} {'q/s/core':>9s} | build, q/s ratios")
for kind, b, e, m, r, q, pb, pm, pr, pq in rows:
    print(f"{kind:14s} | {b:15.1f} {e:10.1f} {m:7.0f} {r:6.3f} {q:9.0f} | {pb:14.1f} {pm:7.0f} {pr:6.3f} {pq:9.0f} | {pb / b:.2f}x, {q / pq:.2f}x")
