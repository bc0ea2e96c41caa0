#!/usr/bin/env bash
# The HATS toolchain, from PyPI, in build/hats-venv (Debian's python3):
# - pyarrow, whose wheel carries Arrow C++ (headers and libraries): astrofm
#   reads and writes Parquet with it (Debian 12 packages no Arrow);
# - hats, hats-import, lsdb and dask.distributed: the independent writers and
#   readers the HATS tests check astrofm against, and the Dask entry point;
# - RAIL (pz-rail-base, pz-rail-sklearn) and qp, with astrofm's RAIL plug-in
#   (plugins/rail) installed by pip beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
V=build/hats-venv
mkdir -p build
if [ ! -x "$V/bin/python" ]; then
  /usr/bin/python3 -m venv "$V"
fi
if ! "$V/bin/python" -c 'import pyarrow, hats, hats_import, lsdb, distributed, h5py, pybind11, qp, pytest, rail.estimation.algos.k_nearneigh' 2>/dev/null; then
  "$V/bin/pip" install -q --disable-pip-version-check -r scripts/hats-requirements.txt
fi
# The plug-in, as a user installs it (its astrofm dependency is the build tree on PYTHONPATH).
"$V/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall ./plugins/rail
"$V/bin/python" -c 'import pyarrow, lsdb; print("HATS toolchain: pyarrow", pyarrow.__version__, "lsdb", lsdb.__version__)'
