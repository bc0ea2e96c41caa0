#!/usr/bin/env bash
# Reproduces the shipped default codecs in models/ (CPU, about an hour on 2 cores).
#   codecs-scalar.afm   : empirical-CDF codecs for the BOSS DR10 ugriz magnitudes and
#                         redshift (real, ../shared/data) and for the Legacy-Survey-like
#                         fluxes and Tractor shapes of the simulator
#   codec-image.afm     : image codec (64 px crop, 256 tokens, FSQ 7,5,5,5,5) trained on
#                         simulated Legacy-Survey-like and HSC-like galaxies and 1,500
#                         real Galaxy Zoo SDSS cutouts (8-bit)
#   codec-spectrum.afm  : spectrum codec on a 2 A latent grid (3500-10474 A, 110 tokens)
#                         trained on simulated DESI-like spectra
# Usage: scripts/train-default-codecs.sh [WORKDIR]   (needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
W=${1:-/tmp/astrofm-codecs}
A=build/tools/astrofm/astrofm
SHARED=${ASTROFM_SHARED_DATA:-../shared/data}
mkdir -p "$W" models
# Training sets (the evaluation sets in bench/codecs.sh use other seeds and other cutouts).
[ -d "$W/ls_train" ] || $A simulate --objects 2000 --seed 21 --no-spectra --config sim_ls --out "$W/ls_train"
[ -d "$W/hsc_train" ] || $A simulate --objects 2000 --seed 22 --imaging hsc --no-spectra --config sim_hsc --out "$W/hsc_train"
[ -d "$W/spec_train" ] || $A simulate --objects 3000 --seed 11 --no-images --spectrum-step 2.0 --config sim_spectra --out "$W/spec_train"
[ -d "$W/cat_train" ] || $A simulate --objects 20000 --seed 41 --no-images --no-spectra --config sim_catalogue --out "$W/cat_train"
if [ ! -d "$W/gz_train_ds" ]; then
  mkdir -p "$W/gz_train"
  ls "$SHARED/galaxyzoo1_sdss/images" | sort | head -1500 | while read -r f; do ln -sf "$(realpath "$SHARED/galaxyzoo1_sdss/images/$f")" "$W/gz_train/$f"; done
  $A import images "$W/gz_train" --crop 160 --size 64 --config galaxyzoo --out "$W/gz_train_ds"
fi
[ -d "$W/boss" ] || $A import csv "$SHARED/boss_dr10_photoz/galaxies.csv" --config boss_dr10 --out "$W/boss"
# Scalars: BOSS magnitudes (linear) and z (grid on [0, 1], AION's); simulated fluxes (log) and shapes.
$A train codec-scalar --data "$W/boss" --columns mag_u,mag_g,mag_r,mag_i,mag_z,z:grid --out "$W/boss-scalars.afm" --overwrite
$A train codec-scalar --data "$W/cat_train" --columns FLUX_G,FLUX_R,FLUX_Z,SHAPE_R,SHAPE_E1,SHAPE_E2,Z --out "$W/ls-scalars.afm" --overwrite
$A codec merge "$W/boss-scalars.afm" "$W/ls-scalars.afm" --out models/codecs-scalar.afm --overwrite
$A train codec-spectrum --data "$W/spec_train" --config configs/codec-spectrum-cpu.json --out models/codec-spectrum.afm --overwrite
$A train codec-image --data "$W/ls_train" "$W/hsc_train" "$W/gz_train_ds" --config configs/codec-image-cpu.json --out models/codec-image.afm --overwrite
# A tiny AION (dim 64, 2+2 layers) on the tokens of a catalogue-only survey (fluxes,
# shapes, redshift) and an image + spectrum + catalogue survey, written to the work
# folder (not shipped: no science-grade AION model is shipped yet); bench/README.md.
[ -d "$W/sim_paired" ] || $A simulate --objects 400 --seed 7 --spectrum-step 4 --out "$W/sim_paired"
$A tokenize --codecs codecs-scalar --data "$W/cat_train" --out "$W/cat_tokens" --overwrite
$A tokenize --codecs codecs-scalar codec-image codec-spectrum --data "$W/sim_paired" --out "$W/sim_tokens" --overwrite
$A train aion --codecs codecs-scalar codec-image codec-spectrum --data "$W/cat_tokens" "$W/sim_tokens" --config configs/aion-tiny.json --out "$W/aion-sim-tiny.afm" --overwrite
