#!/usr/bin/python3
"""Galaxy Zoo morphology probe on frozen image embeddings against raw pixels.

Usage: /usr/bin/python3 bench/science/gz_probe.py GZ_DIR EMB_DIR
GZ_DIR: `astrofm import images ... --labels labels.csv --size 64` of the Galaxy
Zoo set; EMB_DIR: `astrofm embed --model galaxy-cnn-ssl --data GZ_DIR`.
Classes: elliptical (0), spiral (1 + 2: clockwise and anticlockwise), edge-on (3);
"don't know" and mergers are left out. Split: 80/20 by a hash of object_id.
Probe: class-balanced multinomial logistic regression (L2, full-batch gradient descent, numpy)
on standardised features; raw pixels are reduced to 64 PCA components first.
Reports macro-F1 with all training labels and with 10 per class (mean and
spread over 10 draws).
"""
import hashlib
import json
import sys

import numpy as np

from mmu_read import read_columns

gz_dir, emb_dir = sys.argv[1:3]


g = read_columns(gz_dir, ["object_id", "CLASS", "image_array"])
e = read_columns(emb_dir, ["object_id", "embedding_image"])
emb_of = dict(zip(e["object_id"], e["embedding_image"]))
cls = {0: 0, 1: 1, 2: 1, 3: 2}
keep = [i for i, c in enumerate(g["CLASS"]) if c in cls]
ids = g["object_id"][keep]
y = np.array([cls[c] for c in g["CLASS"][keep]])
X_emb = np.stack([emb_of[i] for i in ids])
X_pix = g["image_array"][keep].reshape(len(keep), -1).astype(np.float64)
test = np.array([int(hashlib.md5(i).hexdigest(), 16) % 5 == 0 for i in ids])


def fit_predict(Xtr, ytr, Xte, lam=1e-3, iters=600, lr=0.5):
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-8
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    k = 3
    W = np.zeros((Xtr.shape[1], k)); b = np.zeros(k)
    Y = np.eye(k)[ytr]
    # Balanced class weights: ellipticals are 72% of Galaxy Zoo 1.
    w = (len(ytr) / (k * np.bincount(ytr, minlength=k)))[ytr][:, None]
    for _ in range(iters):
        p = Xtr @ W + b
        p = np.exp(p - p.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
        g = w * (p - Y)
        W -= lr * (Xtr.T @ g / len(ytr) + lam * W)
        b -= lr * g.mean(0)
    return (Xte @ W + b).argmax(1)


def macro_f1(t, p):
    f = []
    for c in range(3):
        tp = ((p == c) & (t == c)).sum(); fp = ((p == c) & (t != c)).sum(); fn = ((p != c) & (t == c)).sum()
        f.append(0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f))


def pca64(Xtr, Xte):
    mu = Xtr.mean(0)
    _, _, vt = np.linalg.svd(Xtr - mu, full_matrices=False)
    return (Xtr - mu) @ vt[:64].T, (Xte - mu) @ vt[:64].T


res = {"train": int((~test).sum()), "test": int(test.sum())}
for name, X in (("embedding", X_emb), ("pixels_pca64", X_pix)):
    Xtr, Xte, ytr, yte = X[~test], X[test], y[~test], y[test]
    if name == "pixels_pca64":
        Xtr, Xte = pca64(Xtr, Xte)
    res[name + "_all"] = macro_f1(yte, fit_predict(Xtr, ytr, Xte))
    few = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        sel = np.concatenate([rng.choice(np.where(ytr == c)[0], 10, replace=False) for c in range(3)])
        few.append(macro_f1(yte, fit_predict(Xtr[sel], ytr[sel], Xte)))
    res[name + "_10_per_class"] = [float(np.mean(few)), float(np.std(few))]
print(json.dumps(res, indent=1))
