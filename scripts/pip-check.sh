#!/usr/bin/env bash
# `pip install .` the way a Python user would (a fresh virtual environment of
# Debian's python3; scikit-build-core and pybind11 from PyPI), then, from
# another directory, embed with the installed package and check it equals the
# build tree's module bit for bit and finds its shipped models inside the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
V=${ASTROFM_PIP_VENV:-$(mktemp -d)/venv}
/usr/bin/python3 -m venv "$V"
"$V/bin/pip" install -q --upgrade pip >/dev/null
start=$(date +%s)
"$V/bin/pip" install -q "$ROOT"
echo "pip install .: $(( $(date +%s) - start )) s"
cd "$(mktemp -d)"
cat > check.py <<'PY'
import sys, numpy as np, astrofm
x = np.random.default_rng(0).random((5, 3, 64, 64), dtype=np.float32)
e = astrofm.Encoder("galaxy-cnn-ssl")
assert "/share/models/" in e.path and "site-packages" in e.path, e.path
emb = e.embed(images=x, bands=["DES-G", "DES-R", "DES-Z"])
np.save(sys.argv[1], emb)
print(e, emb.shape)
PY
OMP_WAIT_POLICY=PASSIVE "$V/bin/python" check.py pip.npy
OMP_WAIT_POLICY=PASSIVE PYTHONPATH="$ROOT/build" /usr/bin/python3 - <<'PY'
import numpy as np, astrofm
x = np.random.default_rng(0).random((5, 3, 64, 64), dtype=np.float32)
ref = astrofm.Encoder("galaxy-cnn-ssl").embed(images=x, bands=["DES-G", "DES-R", "DES-Z"])
assert np.array_equal(np.load("pip.npy"), ref), "pip-installed and build-tree embeddings differ"
print("pip-installed astrofm == build tree")
PY
