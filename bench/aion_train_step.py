"""Training-step time of astrofm's AION against AION's own package (4M's
FM.forward loss + backward + AdamW), same transformer and budgets, one run.

  OMP_WAIT_POLICY=PASSIVE build/aion-venv/bin/python bench/aion_train_step.py TOKENS_DATASET...

TOKENS_DATASET: astrofm tokenize outputs (bench/science/aion_data.sh writes
WORK/train/matched). Both sides: dim 96, 4 + 4 layers, 4 heads, SwiGLU 256,
batch 32, 128 encoder and 64 decoder tokens per object: the transformer's work
is set by the budgets. astrofm's time is (T(2K steps) - T(K steps)) / K of
`astrofm train aion` (startup cancels), its per-object token sampling
included; AION's masks are drawn beforehand (its data loader's job, not timed).
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types

import torch

if not hasattr(torch, "compiler"):
    torch.compiler = types.SimpleNamespace(disable=lambda fn=None, recursive=True: fn if fn else (lambda f: f))
from aion import AION  # noqa: E402
from aion.fourm.fm import FM  # noqa: E402

THREADS = int(os.environ.get("ASTROFM_BENCH_THREADS", "2"))
torch.set_num_threads(THREADS)
BIN = os.path.join(os.environ.get("ASTROFM_BUILD", "build"), "tools", "astrofm", "astrofm")
data = sys.argv[1:]
if not data:
    sys.exit(__doc__)
B, ENC, DEC, K = 32, 128, 64, 20
model = {"dim": 96, "encoder_depth": 4, "decoder_depth": 4, "num_heads": 4, "mlp_hidden": 256}
tmp = tempfile.mkdtemp(prefix="aion-train-step-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)


def astrofm_seconds(steps):
    cfg = {"model": model, "input_budget": ENC, "target_budget": DEC, "steps": steps, "batch": B, "lr": 1e-4, "warmup": 1,
           "val_every": 100000, "checkpoint_every": 100000}
    with open(f"{tmp}/c.json", "w") as f:
        json.dump(cfg, f)
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS))
    t0 = time.perf_counter()
    subprocess.run([BIN, "-q", "train", "aion", "--codecs", "codecs-scalar", "codec-image", "codec-spectrum", "--data", *data,
                    "--config", f"{tmp}/c.json", "--out", f"{tmp}/m.afm", "--overwrite"], check=True, env=env)
    return time.perf_counter() - t0


ours = (astrofm_seconds(2 * K) - astrofm_seconds(K)) / K

mods = ["tok_z", "tok_flux_g", "tok_image", "tok_spectrum_desi"]
aion = AION(dict(domains_in=mods, domains_out=mods, dim=96, encoder_depth=4, decoder_depth=4, num_heads=4, mlp_ratio=256 / 96,
                 qkv_bias=False, proj_bias=False, mlp_bias=False, norm_bias=False, act_layer="SiLU", gated_mlp=True, qk_norm=True,
                 decoder_causal_mask=False, decoder_sep_mask=True, num_register_tokens=0, share_modality_embeddings=True))
sizes = {"tok_image": 576, "tok_spectrum_desi": 273, "tok_z": 1, "tok_flux_g": 1}
g = torch.Generator().manual_seed(0)
batches = []
for _ in range(K + 2):
    md = {}
    for k, n in sizes.items():
        v = aion.encoder_embeddings[k].token_emb.num_embeddings
        r = torch.rand((B, n), generator=g)
        md[k] = {"tensor": torch.randint(0, v, (B, n), generator=g), "input_mask": r > ENC / 851, "target_mask": r < 1 - DEC / 851,
                 "decoder_attention_mask": torch.zeros((B, n), dtype=torch.int)}
    batches.append(md)
opt = torch.optim.AdamW(aion.parameters(), lr=1e-4, weight_decay=0.05)


def aion_step(md):
    opt.zero_grad()
    loss, _ = FM.forward(aion, md, num_encoder_tokens=ENC, num_decoder_tokens=DEC)
    loss.backward()
    opt.step()


aion_step(batches[0])
t0 = time.perf_counter()
for md in batches[1:K + 1]:
    aion_step(md)
theirs = (time.perf_counter() - t0) / K
print(f"torch {torch.__version__}, {THREADS} threads, batch {B}, {ENC} encoder + {DEC} decoder tokens")
print(f"{'training step':24s} {'astrofm s':>10s} {'AION s':>10s} {'ratio':>7s}")
print(f"{'':24s} {ours:10.3f} {theirs:10.3f} {theirs / ours:7.2f}  (AION time / astrofm time)")
