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
# The RAIL plug-in installed by pip next to pz-rail-base in the same fresh
# environment; pip resolves its astrofm dependency to the astrofm installed above.
"$V/bin/pip" install -q --disable-pip-version-check pz-rail-base==2.0.11 qp-prob==1.1.4
"$V/bin/pip" install -q --disable-pip-version-check "$ROOT/plugins/rail"
OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 "$V/bin/python" - "$ROOT/data/sample/boss_dr10_photoz/galaxies.csv" <<'PY'
import sys, numpy as np
from rail.estimation.algos.astrofm import AstrofmInformer, AstrofmEstimator
d = np.genfromtxt(sys.argv[1], delimiter=",", names=True)
t = {n: d[n] for n in d.dtype.names}
bands, errs = [f"mag_{b}" for b in "ugriz"], [f"magerr_{b}" for b in "ugriz"]
inform = AstrofmInformer.make_stage(name="inform", model="astrofm.pkl", hdf5_groupname="", bands=bands, err_bands=errs,
                                    redshift_col="z", members=1, epochs=20)
inform.inform({k: v[:1500] for k, v in t.items()})
ens = AstrofmEstimator.make_stage(name="estimate", model=inform.get_handle("model"), hdf5_groupname="",
                                  output_mode="return").estimate({k: v[1500:] for k, v in t.items()}).data
assert ens.npdf == 500 and "zmode" in ens.ancil
print("pz-rail-astrofm beside pz-rail-base:", ens.npdf, "PDFs")
PY
