"""One side of bench/aion_release/run.py, in its own process (clean memory
figures): AION's own package (`--side aion`, any PyTorch) or astrofm's
C++ model through its Python module (`--side astrofm`).

  PYTHON bench/aion_release/side.py --side aion|astrofm SNAPSHOT --mode load|speed [--bf16] [--batch 16] [--objects 64]

load:  seconds to open the snapshot, seconds to the first embedding, peak RSS.
speed: objects per second for embeddings (mean of the encoder output over an
       image + 3 fluxes = 579 tokens, all given to the encoder) and for
       one-token generation (the tok_z distribution from the same inputs);
       the first batch's outputs are saved (--save) to compare the sides.
Inputs are random tokens drawn from a fixed seed, the same on both sides.
"""
import argparse
import json
import os
import resource
import sys
import time
import types

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--side", required=True, choices=["aion", "astrofm"])
ap.add_argument("snapshot")
ap.add_argument("--mode", required=True, choices=["load", "speed"])
ap.add_argument("--bf16", action="store_true", help="AION: bfloat16 autocast (its best CPU setting on AVX512-BF16); astrofm: bfloat16 weights")
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--objects", type=int, default=64)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--save", default="")
a = ap.parse_args()


def inputs(n, seed):
    r = np.random.default_rng(seed)
    return {"tok_image": r.integers(0, 4375, (n, 576)), "tok_flux_g": r.integers(0, 1024, (n, 1)),
            "tok_flux_r": r.integers(0, 1024, (n, 1)), "tok_flux_z": r.integers(0, 1024, (n, 1))}


N_TOK = 579
t0 = time.perf_counter()
if a.side == "aion":
    import torch
    if not hasattr(torch, "compiler"):
        torch.compiler = types.SimpleNamespace(disable=lambda fn=None, recursive=True: fn if fn else (lambda f: f))
    torch.set_num_threads(a.threads)
    from aion import AION
    from aion.modalities import Z
    model = AION.from_pretrained(a.snapshot).eval()
    import contextlib
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.bf16 else contextlib.nullcontext

    def embed(x):
        with torch.inference_mode(), ctx():
            t = {k: torch.from_numpy(v) for k, v in x.items()}
            return model.encode(t, num_encoder_tokens=N_TOK).float().mean(1).numpy()

    def pz(x):
        with torch.inference_mode(), ctx():
            t = {k: torch.from_numpy(v) for k, v in x.items()}
            return torch.softmax(model(t, target_modality=[Z])["tok_z"].float()[:, 0], -1).numpy()
    version = f"polymathic-aion 0.0.2, torch {torch.__version__}" + (", bf16 autocast" if a.bf16 else "")
else:
    sys.path.insert(0, os.environ.get("ASTROFM_BUILD", "build"))
    import astrofm
    model = astrofm._core.AionModel(a.snapshot, "bfloat16" if a.bf16 else "float32")

    def embed(x):
        return model.encode(x, {}, N_TOK).mean(1)

    def pz(x):
        lg = model.logits(x, {}, ["tok_z"], N_TOK)["tok_z"][:, 0].astype(np.float64)
        e = np.exp(lg - lg.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    version = "astrofm (C++, Debian libtorch 1.13)" + (", bfloat16 weights" if a.bf16 else "")
t_load = time.perf_counter() - t0
out = {"side": a.side, "version": version, "snapshot": a.snapshot}
if a.mode == "load":
    t1 = time.perf_counter()
    embed(inputs(1, 0))
    out.update(load_s=round(t_load, 2), first_embedding_s=round(time.perf_counter() - t1, 2),
               peak_rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2))
else:
    x0 = inputs(a.batch, 1)
    e0, p0 = embed(x0), pz(x0)  # warm-up, and the outputs compared across sides
    if a.save:
        np.savez(a.save, embedding=e0, pz=p0)
    for name, fn in (("embed", embed), ("generate_z", pz)):
        t1, done = time.perf_counter(), 0
        while done < a.objects:
            fn(inputs(a.batch, 100 + done))
            done += a.batch
        out[name + "_obj_per_s"] = round(done / (time.perf_counter() - t1), 2)
print(json.dumps(out))
