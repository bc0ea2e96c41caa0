"""Images per second through Encoder.embed (preprocessing + forward) for
cutouts larger than the model's input, as survey cutouts are.

    PYTHONPATH=build python3 bench/embed_prepare.py [SIDE] [N]

galaxy-cnn-ssl takes 48x48 crops; SIDE=152 is the cutout size AstroCLIP's
Legacy Survey images come in. Prints JSON."""
import json
import os
import sys
import time

import numpy as np

import astrofm

side = int(sys.argv[1]) if len(sys.argv) > 1 else 152
n = int(sys.argv[2]) if len(sys.argv) > 2 else 512
x = np.random.default_rng(0).normal(0, 0.05, (n, 3, side, side)).astype(np.float32)
enc = astrofm.Encoder("galaxy-cnn-ssl")
enc.embed(images=x[:64], bands=["DES-G", "DES-R", "DES-Z"])
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    for s in range(0, n, 128):
        enc.embed(images=x[s:s + 128], bands=["DES-G", "DES-R", "DES-Z"])
    best = min(best, time.perf_counter() - t)
print(json.dumps({"side": side, "images": n, "seconds": round(best, 3), "images_per_s": round(n / best, 1),
                  "threads": os.environ.get("OMP_NUM_THREADS", "default")}))
