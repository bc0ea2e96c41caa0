#!/usr/bin/env bash
# The main job on the shipped sample: imports every real set in data/sample
# into the MMU layout, simulates a small paired survey, cross-matches, and
# validates the results. Output goes to out/demo (or $1).
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
for d in boss galaxyzoo legacysurvey desi sdss; do $A validate "$OUT/$d"; done
$A info "$OUT/desi"
