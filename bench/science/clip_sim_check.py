#!/usr/bin/python3
"""Science check of a CLIP model on a simulated paired survey it never saw.

Usage: /usr/bin/python3 bench/science/clip_sim_check.py EMB_DIR SIM_DIR
SIM_DIR: a freshly simulated paired survey (a seed not used in training);
EMB_DIR: `astrofm embed --model clip-sim --data SIM_DIR --out EMB_DIR`, holding
both embedding columns. The truth redshift Z is read from SIM_DIR.

Reports image->spectrum retrieval (top-1, top-5 among 1,000) and zero-shot
redshift R^2 by distance-weighted kNN (k = 16; AstroCLIP uses 64 on far larger
sets) on standardised image and spectrum embeddings, with a 50/50 split, and
two references on the same split: true colours + magnitude (what the images
show of the redshift) and the raw spectra's principal components.
"""
import json
import sys

import numpy as np

from mmu_read import read_columns

emb_dir, sim_dir = sys.argv[1:3]


e = read_columns(emb_dir, ["object_id", "embedding_image", "embedding_spectrum"])
s = read_columns(sim_dir, ["object_id", "Z", "MAG_G", "MAG_R", "MAG_Z", "spectrum_flux"])
z_of = dict(zip(s["object_id"], s["Z"]))
z = np.array([z_of[i] for i in e["object_id"]])
n = min(1000, len(z))
img, spec, z = e["embedding_image"][:n], e["embedding_spectrum"][:n], z[:n]


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


sim = unit(img) @ unit(spec).T
rank = (sim > np.diag(sim)[:, None]).sum(1)
res = {"objects": int(n), "top1": float((rank == 0).mean()), "top5": float((rank < 5).mean()),
       "chance_top1": 1.0 / n}


def knn_r2(x, z, k=16):
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    half = len(z) // 2
    tr, te = slice(0, half), slice(half, None)
    d = ((x[te, None, :] - x[None, tr, :]) ** 2).sum(-1)
    idx = np.argsort(d, 1)[:, :k]
    w = 1.0 / (np.take_along_axis(d, idx, 1) ** 0.5 + 1e-8)
    pred = (w * z[tr][idx]).sum(1) / w.sum(1)
    return float(1 - ((pred - z[te]) ** 2).sum() / ((z[te] - z[te].mean()) ** 2).sum())


res["zero_shot_r2_image"] = knn_r2(img, z)
res["zero_shot_r2_spectrum"] = knn_r2(spec, z)
# References on the same objects and split. What an image-aligned embedding can
# carry at best: the true noiseless g-r, r-z colours and r magnitude (the
# images' redshift information). What the spectra carry without learning:
# their first 32 principal components (each spectrum scaled to unit mean |flux|).
row = {o: i for i, o in enumerate(s["object_id"])}
sel = np.array([row[o] for o in e["object_id"][:n]])
colours = np.stack([s["MAG_G"] - s["MAG_R"], s["MAG_R"] - s["MAG_Z"], s["MAG_R"]], 1)[sel]
res["reference_r2_true_colours_magnitude"] = knn_r2(colours, z)
flux = s["spectrum_flux"][sel].astype(np.float64)
flux /= np.abs(flux).mean(1, keepdims=True) + 1e-12
flux -= flux.mean(0)
res["reference_r2_spectrum_pca32"] = knn_r2(flux @ np.linalg.svd(flux, full_matrices=False)[2][:32].T, z)
print(json.dumps(res, indent=1))
