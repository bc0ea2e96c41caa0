#!/usr/bin/env bash
# The discovery benchmarks (docs/discovery.md), from the shared Galaxy Zoo set:
#   1. real Galaxy Zoo 1 mergers: few-shot retrieval, active learning and
#      anomaly ranking for raw pixels, pixels in canonical orientation, the shipped encoder and the
#      morphology-keeping SimCLR variant (configs/image-ssl-cnn64-keep.json,
#      trained here when W/keep.afm is absent: ~35 min on 2 cores) and the
#      masked-image-modelling encoder (configs/image-mim-cnn64.json, ~21 min);
#      each with and without the pixels' anomaly score as a prior;
#   2. anomaly ranking at scale (synthetic embeddings, 1e5 and 1e6 objects)
#      against scikit-learn.
# Usage: bench/discover/run.sh [SHARED_DATA] [WORKDIR]   (writes bench/discover/{mergers,scale}.json)
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${1:-../shared/data}
W=${2:-/tmp/astrofm-discover}
A=${ASTROFM:-build/tools/astrofm/astrofm}
PY=${PY:-build/hats-venv/bin/python}
export PYTHONPATH=build OMP_WAIT_POLICY=PASSIVE
mkdir -p "$W"
imp() { [ -d "$W/gz$1" ] || $A -q import images "$SHARED/galaxyzoo1_sdss/images" --labels "$SHARED/galaxyzoo1_sdss/labels.csv" \
  --crop "$1" --size 64 --config galaxyzoo --out "$W/gz$1"; }
imp 128; imp 192
[ -d "$W/emb_shipped" ] || $A -q embed --model galaxy-cnn-ssl --data "$W/gz192" --out "$W/emb_shipped"
[ -f "$W/keep.afm" ] || $A train simclr --data "$W/gz128" --config configs/image-ssl-cnn64-keep.json --out "$W/keep.afm"
[ -d "$W/emb_keep" ] || $A -q embed --model "$W/keep.afm" --data "$W/gz128" --out "$W/emb_keep"
# Masked image modelling instead of SimCLR (~21 min on 2 cores)
[ -f "$W/mim.afm" ] || $A train simmim --data "$W/gz128" --config configs/image-mim-cnn64.json --out "$W/mim.afm"
[ -d "$W/emb_mim" ] || $A -q embed --model "$W/mim.afm" --data "$W/gz128" --out "$W/emb_mim"
$PY bench/discover/gz_mergers.py --labels "$SHARED/galaxyzoo1_sdss/labels.csv" \
  --prior "$W/gz128" --features pixels:pix:"$W/gz128" canonical:canon:"$W/gz128" canonmorph:canonmorph:"$W/gz128" \
  shipped:emb:"$W/emb_shipped" keep:emb:"$W/emb_keep" mim:emb:"$W/emb_mim" \
  --json bench/discover/mergers.json
$PY bench/discover/anomaly_scale.py --sizes 100000 1000000 --json bench/discover/scale.json
