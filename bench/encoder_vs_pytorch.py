#!/usr/bin/python3
"""Encoder forward (batch 256) and training step (batch 64, AdamW) of the same
architectures in astrofm (C++, libtorch) and in Python PyTorch (Debian's
python3-torch, the same libtorch underneath), in one run, same thread count;
model-FLOPs utilisation against each side's measured sgemm rate.

Usage: OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/encoder_vs_pytorch.py [THREADS=2]
Run from the repository root after ./scripts/build.sh.
"""
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from astroclip_reference import SpecFormer  # noqa: E402  (independent reference implementation)
from pytorch_cnn import Cnn  # noqa: E402

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)


def flops(model, x):  # multiply-adds x 2 of convolutions and linear layers
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            total[0] += 2 * out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total[0] += 2 * out.numel() * m.in_features
    hs = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return total[0] / x.shape[0]


def per_call(f, reps=5):
    f()
    t0 = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - t0) / reps


a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
sgemm = 2 * 2048 ** 3 / per_call(lambda: torch.mm(a, b)) / 1e9
out = {"threads": threads}
for arch in ("cnn", "specformer"):
    if arch == "cnn":
        m, x = Cnn(), torch.rand(256, 3, 64, 64)
        fwd = m
    else:
        m, x = SpecFormer(22, 64, 2, 4, 800), torch.randn(256, 156, 22)
        fwd = lambda t: m(t).mean(1)  # noqa: E731
    fl = flops(m, x)
    m.eval()
    with torch.no_grad():
        py_fwd = 256 / per_call(lambda: fwd(x))
    m.train()
    opt = torch.optim.AdamW(m.parameters(), 1e-3)
    xb = x[:64]

    def step():
        opt.zero_grad()
        fwd(xb).pow(2).mean().backward()
        opt.step()
    py_step = per_call(step)
    cpp = json.loads(subprocess.run(["build/bench/astrofm_bench_encoder", arch, str(threads)], check=True,
                                    capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE")).stdout)
    out[arch] = {"gflops_per_object": fl / 1e9,
                 "forward_obj_per_s": {"astrofm": cpp["forward_objects_per_s"], "pytorch": py_fwd,
                                       "ratio": cpp["forward_objects_per_s"] / py_fwd},
                 "mfu_forward": {"astrofm": cpp["forward_objects_per_s"] * fl / 1e9 / cpp["sgemm_gflops"],
                                 "pytorch": py_fwd * fl / 1e9 / sgemm},
                 "train_step_s": {"astrofm": cpp["train_step_s"], "pytorch": py_step, "ratio": py_step / cpp["train_step_s"]},
                 "sgemm_gflops": {"astrofm": cpp["sgemm_gflops"], "pytorch": sgemm}}
print(json.dumps(out, indent=1))
