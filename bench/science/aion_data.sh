#!/usr/bin/env bash
# Token datasets for the AION science checks and the shipped AION model
# (docs/aion.md). One simulated sky seen by three instruments (Legacy-Survey-
# like g r z images, HSC-like g r i z y images, DESI-like spectra; the
# catalogue fluxes and true redshift Z), cross-matched per galaxy, tokenized
# with the shipped codecs under AION's names (tok_image = Legacy Survey,
# tok_image_hsc, tok_spectrum), plus the real BOSS DR10 magnitudes and
# redshifts split by astrofm's fixed object_id split.
#   train (seed 31): every modality of each galaxy
#   half2 (seed 32): HSC images + DESI spectra + Z only (the emergent model's
#                    second half: it never sees a Legacy Survey image with a spectrum)
#   test  (seed 33): other galaxies, every modality (never trained on)
# Usage: bench/science/aion_data.sh [WORKDIR] [TRAIN_OBJECTS]   (needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/../.."
A=$PWD/build/tools/astrofm/astrofm
W=${1:-/tmp/astrofm-aion}
N=${2:-4000}
SHARED=${ASTROFM_SHARED_DATA:-$PWD/../shared/data}
CODECS="codecs-scalar codec-image codec-spectrum"
mkdir -p "$W"
cd "$W"
sky() {  # sky NAME SEED OBJECTS: the three instruments' views of one set of galaxies, matched
  local name=$1 seed=$2 n=$3
  [ -d "$name/matched" ] && return
  local S="--objects $n --seed $seed --position-jitter 0.1 --spectrum-step 2"
  $A -q simulate $S --no-spectra --config ls --out "$name/ls" --overwrite
  $A -q simulate $S --no-spectra --imaging hsc --config hsc --out "$name/hsc" --overwrite
  $A -q simulate $S --no-images --config desi --out "$name/desi" --overwrite
  $A -q tokenize --codecs $CODECS --data "$name/ls" --modalities image,FLUX_G,FLUX_R,FLUX_Z,Z --out "$name/tok_ls" --overwrite
  $A -q tokenize --codecs $CODECS --data "$name/hsc" --modalities image --as image=image_hsc --out "$name/tok_hsc" --overwrite
  $A -q tokenize --codecs $CODECS --data "$name/desi" --modalities spectrum --out "$name/tok_desi" --overwrite
  $A -q xmatch "$name/tok_ls" "$name/tok_hsc" "$name/tok_desi" --radius 1 --config "sim_$name" --out "$name/matched" --overwrite
}
sky train 31 "$N"
sky test 33 $((N / 5))
# The emergent model's halves: Legacy Survey + HSC (train, without spectra),
# HSC + DESI (seed 32, other galaxies).
[ -d half2/matched ] || {
  S="--objects $N --seed 32 --position-jitter 0.1 --spectrum-step 2"
  $A -q simulate $S --no-spectra --imaging hsc --config hsc --out half2/hsc --overwrite
  $A -q simulate $S --no-images --config desi --out half2/desi --overwrite
  $A -q tokenize --codecs $CODECS --data half2/hsc --modalities image --as image=image_hsc --out half2/tok_hsc --overwrite
  $A -q tokenize --codecs $CODECS --data half2/desi --modalities spectrum,Z --out half2/tok_desi --overwrite
  $A -q xmatch half2/tok_hsc half2/tok_desi --radius 1 --config sim_half2 --out half2/matched --overwrite
}
[ -d half1 ] || $A -q tokenize --codecs $CODECS --data train/ls --modalities image,FLUX_G,FLUX_R,FLUX_Z,Z --out half1/tok_ls --overwrite
[ -d half1/matched ] || $A -q xmatch half1/tok_ls train/tok_hsc --radius 1 --config sim_half1 --out half1/matched --overwrite
# Real BOSS DR10: magnitudes and redshift; train split (all z, or z for 200) and the test split.
[ -d boss ] || $A -q import csv "$SHARED/boss_dr10_photoz/galaxies.csv" --config boss_dr10 --out boss
for s in train test; do [ -d "boss_$s" ] || $A -q tokenize --codecs codecs-scalar --data boss --split $s --out "boss_$s"; done
[ -d boss_train_200 ] || $A -q tokenize --codecs codecs-scalar --data boss --split train --keep z=200 --out boss_train_200
echo "token datasets in $W"
