#!/usr/bin/env bash
# The main job on the shipped sample (installs and builds first):
#  1. imports every real set in data/sample into the MMU layout,
#  2. simulates one patch of sky seen by two surveys (Legacy-Survey-like
#     imaging, DESI-like spectroscopy) and cross-matches them into a paired set,
#  3. embeds the paired set with the shipped CLIP model (models/clip-sim.afm),
#  4. validates every output and summarises the embeddings.
# Output goes to out/demo (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
OUT=${1:-out/demo}
A=build/tools/astrofm/astrofm
S=data/sample
rm -rf "$OUT" && mkdir -p "$OUT"
$A import csv $S/boss_dr10_photoz/galaxies.csv --config boss_dr10 --out "$OUT/boss"
$A import images $S/galaxyzoo1_sdss/images --labels $S/galaxyzoo1_sdss/labels.csv --size 64 --config galaxyzoo --out "$OUT/galaxyzoo"
$A import fits-cutout $S/legacysurvey_cutout_fixture/test_image.fits --size 144 --config legacysurvey --out "$OUT/legacysurvey"
$A import desi $S/desi_spectra_fixtures/coadd-*.fits --out "$OUT/desi"
$A import sdss $S/boss_spplate_fixture/spPlate-*.fits --out "$OUT/sdss"
# 4 A spectra: the grid the shipped CLIP model was trained on.
SIM="--objects 400 --seed 7 --region 150,152,1,3 --position-jitter 0.1 --spectrum-step 4"
$A simulate $SIM --no-spectra --config legacysurvey_sim --out "$OUT/sim_imaging"
$A simulate $SIM --no-images --config desi_sim --out "$OUT/sim_spectra"
$A xmatch "$OUT/sim_imaging" "$OUT/sim_spectra" --radius 1 --config sim_paired --out "$OUT/sim_paired"
$A models
$A embed --model clip-sim --data "$OUT/sim_paired" --out "$OUT/sim_embeddings"
for d in boss galaxyzoo legacysurvey desi sdss sim_imaging sim_spectra sim_paired sim_embeddings; do $A validate "$OUT/$d"; done
$A info "$OUT/sim_embeddings"
