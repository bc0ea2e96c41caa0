#!/usr/bin/env bash
# Reproduces the shipped default AION model, models/aion-default.afm (CPU,
# about an hour on 2 cores; needs ../shared/data for the real BOSS DR10 set):
#   bench/science/aion_data.sh   the token datasets: one simulated sky seen by
#                                Legacy-Survey-like and HSC-like imaging and
#                                DESI-like spectroscopy (seed 31, 4,000 galaxies)
#                                and the BOSS DR10 train split (astrofm's fixed
#                                object_id split), tokenized by the shipped codecs
#   bench/science/aion_train.sh  trains it (configs/aion-default.json) beside the
#                                models of the science checks
# then stores it at half size (float16 tensors; computation stays float32).
# Usage: scripts/train-default-aion.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
W=${1:-/tmp/astrofm-aion}
bash bench/science/aion_train.sh "$W"
build/tools/astrofm/astrofm convert "$W/models/default.afm" --kind float16 --out models/aion-default.afm --set name=aion-default \
  --set "description=AION-1 (dim 96, 4+4 layers) on a simulated Legacy Survey + HSC + DESI sky and real BOSS DR10 ugriz + z"
ls -la models/aion-default.afm
