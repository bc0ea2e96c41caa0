"""What the AION parity scripts share: AION's own package made to run on
Debian's torch 1.13, astrofm's Python module and binary from the build, and
the ok/FAIL report that decides the exit code."""
import os
import sys
import types

import numpy as np
import torch

# Debian's torch 1.13 lacks torch.compiler, which AION's transformer decorates a method with at import time.
if not hasattr(torch, "compiler"):
    torch.compiler = types.SimpleNamespace(disable=lambda fn=None, recursive=True: fn if fn else (lambda f: f))

from aion.codecs.quantizers import ScalarLinearQuantizer  # noqa: E402
from aion.codecs.quantizers.scalar import ScalarReservoirQuantizer  # noqa: E402

# torch < 2 cannot index with the int32 codes AION's linear quantiser makes;
# the same lookup with int64 indices (torch >= 2 does this itself).
if int(torch.__version__.split(".")[0]) < 2:
    _decode = ScalarLinearQuantizer.decode
    ScalarLinearQuantizer.decode = lambda self, codes: _decode(self, codes.long())
    ScalarReservoirQuantizer.decode = lambda self, codes: self._index_to_val[codes.long()]

BUILD = os.environ.get("ASTROFM_BUILD", "build")
sys.path.insert(0, BUILD)
import astrofm  # noqa: E402,F401

BIN = os.environ.get("ASTROFM_BIN", os.path.join(BUILD, "tools", "astrofm", "astrofm"))
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if not ok:
        failures.append(name)


def close(name, a, b, tol=1e-5):
    """|a - b| <= tol * max(1, max |b|), shapes equal."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    err = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
    check(name, err <= tol * max(1.0, float(np.abs(b).max())), f"max |diff| {err:.2e} (shapes {a.shape} {b.shape})")


def finish(what):
    print(f"{len(failures)} failure(s)" if failures else f"all {what} checks passed")
    sys.exit(1 if failures else 0)
