#!/usr/bin/env bash
# HATS read and embed speed against pyarrow, LSDB, h5py and astrofm's HDF5 reader
# (bench/hats/read_speed.py). Usage: bash bench/hats/run.sh [objects, default 3000]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-3000}
A=$PWD/build/tools/astrofm/astrofm
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
$A -q simulate --objects "$N" --seed 3 --out "$W/v1" --image-size 64 --spectrum-step 4 --region 150,160,0,10 --compression none
$A -q copy "$W/v1" --out "$W/cat.hats"
OMP_WAIT_POLICY=PASSIVE PYTHONPATH=$PWD/build build/hats-venv/bin/python bench/hats/read_speed.py "$W/cat.hats" "$W/v1" "$A" bench/hats/results.json
