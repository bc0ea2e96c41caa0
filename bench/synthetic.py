"""Embedding-like synthetic vectors for the probe and index benchmarks.

Real embeddings are clustered and have a low intrinsic dimension; i.i.d.
random vectors are a worst case no survey has. Here: 200 cluster centres,
each with its own 16-dimensional linear manifold, plus small isotropic noise.
"""
import os

import h5py
import numpy as np


class Embeddings:
    def __init__(self, d, seed=0, clusters=200, intrinsic=16):
        self.rng = np.random.default_rng(seed)
        self.centres = self.rng.normal(0, 1, (clusters, d)).astype(np.float32)
        self.proj = self.rng.normal(0, 0.3, (clusters, intrinsic, d)).astype(np.float32)
        self.d, self.k = d, intrinsic

    def draw(self, n, chunk=100000):
        out = np.empty((n, self.d), np.float32)
        for s in range(0, n, chunk):
            m = min(chunk, n - s)
            c = self.rng.integers(0, len(self.centres), m)
            z = self.rng.normal(0, 1, (m, self.k)).astype(np.float32)
            out[s:s + m] = self.centres[c] + np.einsum("nk,nkd->nd", z, self.proj[c]) + \
                self.rng.normal(0, 0.05, (m, self.d)).astype(np.float32)
        return out


def write_mmu(root, x, prefix, extra=None):
    """One MMU partition (no sky positions: healpix=-1) holding embedding_image and `extra` columns."""
    f = f"{root}/emb/healpix=-1/001-of-001.hdf5"
    os.makedirs(os.path.dirname(f))
    with h5py.File(f, "w") as h:
        h["object_id"] = np.array([f"{prefix}{i}".encode() for i in range(len(x))], dtype="S16")
        h["ra"] = np.full(len(x), np.nan)
        h["dec"] = np.full(len(x), np.nan)
        h["healpix"] = np.full(len(x), -1, dtype=np.int64)
        h["embedding_image"] = x
        for k, v in (extra or {}).items():
            h[k] = v
