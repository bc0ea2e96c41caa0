#!/usr/bin/python3
"""A compressed index at survey scale: astrofm's IVF kinds against the Python
libraries a user would pick, installed from PyPI in a virtual environment
(faiss-cpu with AVX2, usearch, hnswlib), same vectors and settings, one run.

Usage: /usr/bin/python3 bench/index_scale.py VENV_PYTHON [N=10000000] [DIM=128] [KINDS=ivfsq8,ivfpq] [NLIST=4096]
  KINDS from: ivfsq8, ivfpq (astrofm and faiss-cpu), usearch-i8, hnswlib (Python only: HNSW).
  Set up the peers: python3 -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install faiss-cpu usearch hnswlib numpy

Embedding-like vectors (bench/synthetic.py), cosine. Both sides train IVF on the
same recipe (64 x nlist vectors spread over the catalogue), nprobe 32, 2 threads.
Reports build seconds, bytes per vector on disk, recall@10 against exact search
(1,000 catalogue queries), queries/s per core and peak memory (max RSS).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from synthetic import Embeddings, write_mmu

venv = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
d = int(sys.argv[3]) if len(sys.argv) > 3 else 128
kinds = (sys.argv[4] if len(sys.argv) > 4 else "ivfsq8,ivfpq").split(",")
NLIST = int(sys.argv[5]) if len(sys.argv) > 5 else 4096
NPROBE, PQM, K = 32, d // 4, 10
A = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../build/tools/astrofm/astrofm")

PEER = r"""
import sys, time, json, resource, os
import numpy as np
x = np.load(sys.argv[1], mmap_mode="r"); q = np.load(sys.argv[2]); kind, out = sys.argv[3], sys.argv[4]
NLIST, NPROBE, PQM = (int(a) for a in sys.argv[5:8])
q = q / np.linalg.norm(q, axis=1, keepdims=True)
n, d = x.shape
def batches(step=262144):
    for s in range(0, n, step):
        b = np.array(x[s:s + step], dtype=np.float32); b /= np.linalg.norm(b, axis=1, keepdims=True); yield b
t0 = time.perf_counter()
if kind in ("ivfsq8", "ivfpq"):
    import faiss
    faiss.omp_set_num_threads(2)
    stride = max(1, n // (64 * NLIST))
    sample = np.array(x[::stride][:64 * NLIST], dtype=np.float32); sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    quant = faiss.IndexFlatIP(d)
    ix = (faiss.IndexIVFScalarQuantizer(quant, d, NLIST, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT) if kind == "ivfsq8"
          else faiss.IndexIVFPQ(quant, d, NLIST, PQM, 8, faiss.METRIC_INNER_PRODUCT))
    ix.train(sample)
    for b in batches(): ix.add(b)
    ix.nprobe = NPROBE
    build = time.perf_counter() - t0
    faiss.write_index(ix, out)
    t1 = time.perf_counter(); _, lab = ix.search(q, 10); search = time.perf_counter() - t1
elif kind == "usearch-i8":
    from usearch.index import Index
    ix = Index(ndim=d, metric="cos", dtype="i8", connectivity=16, expansion_add=128, expansion_search=64)
    s0 = 0
    for b in batches():
        ix.add(np.arange(s0, s0 + len(b)), b, threads=2); s0 += len(b)
    build = time.perf_counter() - t0
    ix.save(out)
    t1 = time.perf_counter(); lab = ix.search(q, 10, threads=2).keys; search = time.perf_counter() - t1
else:  # hnswlib, float32
    import hnswlib
    ix = hnswlib.Index(space="ip", dim=d); ix.init_index(max_elements=n, M=16, ef_construction=128); ix.set_num_threads(2)
    s0 = 0
    for b in batches():
        ix.add_items(b, np.arange(s0, s0 + len(b))); s0 += len(b)
    ix.set_ef(64); build = time.perf_counter() - t0
    ix.save_index(out)
    t1 = time.perf_counter(); lab, _ = ix.knn_query(q, k=10); search = time.perf_counter() - t1
print(json.dumps({"build_s": build, "qps": len(q) / search, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "bytes": os.path.getsize(out), "labels": np.asarray(lab).astype(int).tolist()}))
"""


def peak_mb(stderr):
    return int(stderr.strip().splitlines()[-1]) / 1024


def prepare(tmp):
    """Vectors (x.npy), the MMU catalogue, queries and exact top-10, in a child
    process so that its memory is returned before the indexes are measured."""
    gen = Embeddings(d, seed=1)
    x = np.lib.format.open_memmap(f"{tmp}/x.npy", mode="w+", dtype=np.float32, shape=(n, d))
    for s in range(0, n, 1_000_000):
        x[s:s + 1_000_000] = gen.draw(min(1_000_000, n - s))
    x.flush()
    write_mmu(f"{tmp}/data", x, "o")
    rng = np.random.default_rng(2)
    qi = np.sort(rng.choice(n, 1000, replace=False))
    q = np.array(x[qi])
    np.save(f"{tmp}/q.npy", q)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    best = np.full((1000, K), -np.inf, np.float32)
    best_i = np.zeros((1000, K), np.int64)
    for s in range(0, n, 500_000):  # exact top-10 by blocks
        b = np.array(x[s:s + 500_000]); b /= np.linalg.norm(b, axis=1, keepdims=True)
        allv = np.concatenate([best, qn @ b.T], 1)
        alli = np.concatenate([best_i, np.arange(s, s + len(b))[None].repeat(1000, 0)], 1)
        top = np.argpartition(-allv, K, axis=1)[:, :K]
        best, best_i = np.take_along_axis(allv, top, 1), np.take_along_axis(alli, top, 1)
    np.save(f"{tmp}/exact.npy", best_i)


if venv == "--prepare":
    prepare(sys.argv[6])
    sys.exit(0)

result = {"n": n, "dim": d, "nlist": NLIST, "nprobe": NPROBE, "pq_m": PQM, "threads": 2, "rows": []}
with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, os.path.abspath(__file__), "--prepare", str(n), str(d), ",".join(kinds), str(NLIST), tmp], check=True)
    exact = [set(r) for r in np.load(f"{tmp}/exact.npy")]
    result["prepare_s"] = time.perf_counter() - t0
    for kind in kinds:
        row = {"kind": kind}
        if kind in ("ivfsq8", "ivfpq"):
            t0 = time.perf_counter()
            r = subprocess.run(["/usr/bin/time", "-f", "%M", A, "-q", "index", "build", f"{tmp}/data", "--out", f"{tmp}/ix", "--kind", kind,
                                "--nlist", str(NLIST), "--nprobe", str(NPROBE), "--pq-m", str(PQM)], capture_output=True, text=True, check=True)
            row["astrofm"] = {"build_s": time.perf_counter() - t0, "rss_mb": peak_mb(r.stderr),
                              "bytes_per_vector": os.path.getsize(f"{tmp}/ix/index") / n}
            # recall@10 and queries/s through `index eval` (the index memory-mapped, 1,000 catalogue queries).
            r = subprocess.run(["/usr/bin/time", "-f", "%M", A, "-q", "index", "eval", f"{tmp}/ix", "--queries", "1000", "--seed", "5"],
                               capture_output=True, text=True, check=True)
            ev = json.loads(r.stdout)
            row["astrofm"].update({"recall_at_10": ev["recall_at_k"], "qps_per_core": ev["index_queries_per_s"] / 2,
                                   "eval_rss_mb": peak_mb(r.stderr)})
            subprocess.run(["rm", "-rf", f"{tmp}/ix"], check=True)
        r = subprocess.run(["/usr/bin/time", "-f", "%M", venv, "-c", PEER, f"{tmp}/x.npy", f"{tmp}/q.npy", kind, f"{tmp}/peer.ix",
                            str(NLIST), str(NPROBE), str(PQM)], capture_output=True, text=True, check=True)
        py = json.loads(r.stdout.strip().splitlines()[-1])
        lab = py.pop("labels")
        py["recall_at_10"] = float(np.mean([len(set(lab[i]) & exact[i]) / K for i in range(1000)]))
        py["bytes_per_vector"] = py.pop("bytes") / n
        py["qps_per_core"] = py.pop("qps") / 2
        py["rss_mb"] = peak_mb(r.stderr)
        row["python"] = py
        os.remove(f"{tmp}/peer.ix")
        result["rows"].append(row)
        print(json.dumps(row), flush=True)
print(json.dumps(result, indent=1))
