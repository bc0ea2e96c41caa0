"""Embedding and one-token generation throughput of astrofm's AION transformer
against AION's own package, same configuration and weights, one run.

  ASTROFM_BUILD=build OMP_WAIT_POLICY=PASSIVE build/aion-venv/bin/python bench/aion_throughput.py
"""
import os
import subprocess
import sys
import tempfile
import time
import types

import torch

if not hasattr(torch, "compiler"):
    torch.compiler = types.SimpleNamespace(disable=lambda fn=None, recursive=True: fn if fn else (lambda f: f))
from aion import AION  # noqa: E402
from aion.modalities import Z  # noqa: E402

BUILD = os.environ.get("ASTROFM_BUILD", "build")
sys.path.insert(0, BUILD)
import astrofm  # noqa: E402

torch.set_num_threads(int(os.environ.get("ASTROFM_BENCH_THREADS", "2")))
BIN = os.path.join(BUILD, "tools", "astrofm", "astrofm")
MODS = ["tok_z", "tok_flux_g", "tok_image", "tok_spectrum_desi"]
# AION-Base's block shape (768 wide, 12 heads) at 4 + 4 layers, to keep the run short.
CONFIG = dict(domains_in=MODS, domains_out=MODS, dim=768, encoder_depth=4, decoder_depth=4, num_heads=12, mlp_ratio=4.0,
              qkv_bias=False, proj_bias=False, mlp_bias=False, norm_bias=False, act_layer="SiLU", gated_mlp=True, qk_norm=True,
              decoder_causal_mask=False, decoder_sep_mask=True, num_register_tokens=0, share_modality_embeddings=True)
model = AION(CONFIG).eval()
tmp = tempfile.mkdtemp()
torch.save(model.state_dict(), os.path.join(tmp, "a.pt"))
subprocess.run([BIN, "-q", "convert", os.path.join(tmp, "a.pt"), "--kind", "aion", "--out", os.path.join(tmp, "a.afm")], check=True)
mine = astrofm._core.AionModel(os.path.join(tmp, "a.afm"))
B = 8
inputs = {"tok_image": torch.randint(0, 4375, (B, 576)), "tok_flux_g": torch.randint(0, 1024, (B, 1))}
np_in = {k: v.numpy() for k, v in inputs.items()}


def rate(fn, n=B, reps=3):
    fn()
    best = min(_t(fn) for _ in range(reps))
    return n / best


def _t(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


with torch.no_grad():
    rows = [("embed (577 tokens)", rate(lambda: mine.encode(np_in, {}, 577)), rate(lambda: model.encode(inputs, num_encoder_tokens=577))),
            ("generate z (1 target)", rate(lambda: mine.logits(np_in, {}, ["tok_z"], 577)), rate(lambda: model(inputs, target_modality=[Z])))]
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {B}")
print(f"{'':24s} {'astrofm obj/s':>14s} {'AION obj/s':>12s} {'ratio':>7s}")
for name, a, b in rows:
    print(f"{name:24s} {a:14.2f} {b:12.2f} {a / b:7.2f}")
