#!/usr/bin/env bash
# astrofm's photo-z against RAIL's own estimators, from one command:
#   bench/photoz/run.sh [--labels all,1000,200] [--only astrofm,FlexZBoost]
# Builds astrofm when needed, makes build/photoz-venv from PyPI (RAIL and its
# estimators, bench/photoz/requirements.txt) with astrofm's RAIL plug-in
# installed by pip, runs compare.py (results.json; reruns skip finished
# entries), then report.py (the table and figures in docs/photoz.md).
# Two cores: about 40 minutes for the three label budgets.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x build/tools/astrofm/astrofm ] || bash scripts/build.sh
V=build/photoz-venv
[ -x "$V/bin/python" ] || /usr/bin/python3 -m venv "$V"
"$V/bin/pip" install -q --disable-pip-version-check -r bench/photoz/requirements.txt
"$V/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall ./plugins/rail
# One torch thread per process (the estimators run one after another).
export PYTHONPATH=$PWD/build OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
"$V/bin/python" bench/photoz/compare.py "$@"
"$V/bin/python" bench/photoz/report.py
