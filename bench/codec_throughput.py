"""Encode throughput of astrofm's codecs against AION's own Python package, same
architecture and same weights, one run, same thread count (bench/README.md).

  bash scripts/aion-venv.sh
  ASTROFM_BUILD=build OMP_WAIT_POLICY=PASSIVE build/aion-venv/bin/python bench/codec_throughput.py

Prints objects/s for each side and the ratio astrofm / AION.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import types

import numpy as np
import torch

if not hasattr(torch, "compiler"):  # Debian's torch 1.13: see tests/aion/codec_parity.py
    torch.compiler = types.SimpleNamespace(disable=lambda fn=None, recursive=True: fn if fn else (lambda f: f))
from aion.codecs import ImageCodec, LogScalarCodec, SpectrumCodec  # noqa: E402
from aion.codecs.quantizers import ScalarLinearQuantizer  # noqa: E402
from aion.modalities import DESISpectrum, LegacySurveyImage, ScalarModalities  # noqa: E402

if int(torch.__version__.split(".")[0]) < 2:  # int32 indexing, as in the parity test
    _d = ScalarLinearQuantizer.decode
    ScalarLinearQuantizer.decode = lambda self, c: _d(self, c.long())

BUILD = os.environ.get("ASTROFM_BUILD", "build")
sys.path.insert(0, BUILD)
import astrofm  # noqa: E402

BIN = os.path.join(BUILD, "tools", "astrofm", "astrofm")
THREADS = int(os.environ.get("ASTROFM_BENCH_THREADS", "2"))
torch.set_num_threads(THREADS)
tmp = tempfile.mkdtemp(prefix="codec-bench-")
rng = np.random.default_rng(0)


def convert(codec, kind, stem, *sets):
    pt, out = os.path.join(tmp, stem + ".pt"), os.path.join(tmp, stem + ".afm")
    torch.save(codec.state_dict(), pt)
    cmd = [BIN, "-q", "convert", pt, "--kind", kind, "--out", out] + sum((["--set", s] for s in sets), [])
    subprocess.run(cmd, check=True)
    return astrofm._core.CodecSet([out])


def best_of(fn, n, repeats=3):
    fn()  # warm-up
    t = min(_timed(fn) for _ in range(repeats))
    return n / t


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


results = {}
# Image: AION's architecture (96 px, FSQ 7,5,5,5,5, 576 tokens) at hidden 128, 2 residual units per stage.
img = ImageCodec(quantizer_levels=[7, 5, 5, 5, 5], hidden_dims=128, n_compressions=2, num_consecutive=2).eval()
cs = convert(img, "aion-codec-image", "image")
bands = ["DES-G", "DES-R", "DES-I", "DES-Z"]
flux = rng.normal(0, 0.5, (32, 4, 96, 96)).astype(np.float32)
cols = {"image_array": flux, "image_band": np.array([bands] * 32), "image_ivar": np.ones_like(flux)}
with torch.no_grad():
    py = best_of(lambda: img.encode(LegacySurveyImage(flux=torch.tensor(flux), bands=bands)), 32)
cpp = best_of(lambda: cs.encode("image", cols), 32)
results["image (96 px, hidden 128)"] = (cpp, py)

# Spectrum: AION's full architecture (ConvNeXt depths 3,3,9,3, dims 96-768, 8704-pixel grid).
spec = SpectrumCodec(latent_channels=768, embedding_dim=10).eval()
ss = convert(spec, "aion-codec-spectrum", "spectrum")
lam = np.tile(np.arange(3600.0, 9824.0, 0.8, dtype=np.float32), (16, 1))
sflux = (rng.uniform(1, 30, (16, 1)) + rng.normal(0, 1, lam.shape)).astype(np.float32)
ivar = np.full_like(sflux, 4.0)
mask = np.zeros(lam.shape, bool)
scols = {"spectrum_flux": sflux, "spectrum_ivar": ivar, "spectrum_mask": mask, "spectrum_lambda": lam}
with torch.no_grad():
    py = best_of(lambda: spec.encode(DESISpectrum(flux=torch.tensor(sflux), ivar=torch.tensor(ivar), mask=torch.tensor(mask),
                                                  wavelength=torch.tensor(lam))), 16)
cpp = best_of(lambda: ss.encode("spectrum", scols), 16)
results["spectrum (AION-size, 8704 px)"] = (cpp, py)

# Scalar: a log codec of 1024 bins, a million values.
sc = LogScalarCodec("FLUX_G", 1024, 100000)
v = torch.tensor(rng.lognormal(1, 1.5, 1_000_000), dtype=torch.float32)
sc.quantizer._update_reservoirs(v[:100000])
scs = convert(sc, "aion-codec-scalar", "scalar", "modality=FLUX_G")
with torch.no_grad():
    py = best_of(lambda: sc.encode(ScalarModalities["FLUX_G"](value=v)), v.numel())
vn = v.numpy()
cpp = best_of(lambda: scs.encode("FLUX_G", {"FLUX_G": vn}), v.numel())
results["scalar (log, 1024 bins)"] = (cpp, py)

print(f"torch threads: {THREADS}; torch {torch.__version__}")
print(f"{'codec':32s} {'astrofm obj/s':>14s} {'AION obj/s':>12s} {'ratio':>7s}")
for k, (c, p) in results.items():
    print(f"{k:32s} {c:14.1f} {p:12.1f} {c / p:7.2f}")
json.dump({k: {"astrofm": c, "aion": p, "ratio": c / p} for k, (c, p) in results.items()}, sys.stderr)
