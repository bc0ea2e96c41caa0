#!/usr/bin/env bash
# Trains the AION models of the science checks (bench/science/aion_science.py)
# on the token datasets of aion_data.sh, on CPU (about 90 minutes on 2 cores):
#   boss_all.afm   BOSS DR10 train split, magnitudes and z     (configs/aion-boss.json)
#   boss_200.afm   the same magnitudes, z for 200 objects only
#   default.afm    the three-instrument sky + BOSS train split (configs/aion-default.json);
#                  scripts/train-default-aion.sh ships it as models/aion-default.afm
#   emergent.afm   Legacy Survey + HSC galaxies and other HSC + DESI galaxies:
#                  never a Legacy Survey image with its spectrum (configs/aion-emergent.json)
# Usage: bench/science/aion_train.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
R=$PWD
A=$R/build/tools/astrofm/astrofm
W=${1:-/tmp/astrofm-aion}
export OMP_WAIT_POLICY=PASSIVE
bash bench/science/aion_data.sh "$W"
mkdir -p "$W/models"
cd "$W"
train() {  # train NAME CONFIG CODECS DATA...
  local name=$1 config=$2 codecs=$3
  shift 3
  [ -f "models/$name.afm" ] && return
  local resume=""
  [ -f "models/$name.afm.ckpt/state.json" ] && resume=--resume
  $A train aion --codecs $codecs --data "$@" --config "$R/$config" --out "models/$name.afm" $resume
}
train default configs/aion-default.json "codecs-scalar codec-image codec-spectrum" train/matched boss_train
train boss_all configs/aion-boss.json codecs-scalar boss_train
train boss_200 configs/aion-boss.json codecs-scalar boss_train_200
train emergent configs/aion-emergent.json "codecs-scalar codec-image codec-spectrum" half1/matched half2/matched
ls -la models
