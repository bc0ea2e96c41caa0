#!/usr/bin/env bash
# Reproduces the shipped default models in models/ (CPU, ~35 minutes on 2 cores).
#   galaxy-cnn-ssl.afm : image encoder, SimCLR (48 px crops, 3,000 steps of 128,
#                        ~80 min) on the real Galaxy Zoo SDSS images (../shared/data)
#   clip-sim.afm       : AstroCLIP alignment on the simulated paired survey,
#                        image tower started from galaxy-cnn-ssl
# Usage: scripts/train-default-models.sh [WORKDIR]   (needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
W=${1:-/tmp/astrofm-train}
A=build/tools/astrofm/astrofm
SHARED=${ASTROFM_SHARED_DATA:-../shared/data}
mkdir -p "$W" models
# The cutouts are 423 px with the galaxy in the central ~100 px: keep the central 192 px, then 64x64
# (docs/pretraining.md: the comparison behind these choices).
[ -d "$W/gz192" ] || $A import images "$SHARED/galaxyzoo1_sdss/images" --labels "$SHARED/galaxyzoo1_sdss/labels.csv" --crop 192 --size 64 --config galaxyzoo --out "$W/gz192"
# The earlier encoder (central 160 px, 64 px, with simulated galaxies): clip-sim's image tower started from it.
[ -d "$W/gz" ] || $A import images "$SHARED/galaxyzoo1_sdss/images" --labels "$SHARED/galaxyzoo1_sdss/labels.csv" --crop 160 --size 64 --config galaxyzoo --out "$W/gz"
[ -d "$W/sim_img" ] || $A simulate --objects 3000 --seed 101 --no-spectra --region 150,170,0,20 --config legacysurvey_sim --out "$W/sim_img"
[ -d "$W/sim_paired" ] || $A simulate --objects 3000 --seed 202 --spectrum-step 4 --region 180,200,0,20 --out "$W/sim_paired"
$A train image-ssl --data "$W/gz" "$W/sim_img" --config configs/image-ssl-cnn.json --out "$W/galaxy-cnn-ssl-v1.afm" --overwrite
$A train clip --data "$W/sim_paired" --config configs/clip-sim.json --steps 600 --init-image "$W/galaxy-cnn-ssl-v1.afm" --out models/clip-sim.afm --overwrite
$A train simclr --data "$W/gz192" --config configs/image-ssl-cnn48.json --out models/galaxy-cnn-ssl.afm --overwrite
