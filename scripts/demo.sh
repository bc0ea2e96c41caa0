#!/usr/bin/env bash
# The main job on the shipped sample (installs and builds first):
#  1. imports every real set in data/sample into the MMU layout,
#  2. simulates one patch of sky seen by two surveys (Legacy-Survey-like
#     imaging, DESI-like spectroscopy) and cross-matches them into a paired set,
#  3. embeds the paired set with the shipped CLIP model (models/clip-sim.afm),
#  4. probes: morphology of the real Galaxy Zoo sample from frozen image
#     embeddings; photometric redshifts with PDFs of the real BOSS sample from
#     ugriz (astrofm photoz; a qp file for RAIL) (HTML reports with plots),
#     discovery: the most unusual Galaxy Zoo galaxies, then a round of "more
#     like these mergers" with suggestions answered and re-ranked (docs/discovery.md),
#  5. builds a spectrum index and finds the spectra most like one galaxy's image,
#  6. tokenizes the paired set and the real DESI spectra with the shipped codecs
#     (AION-style tokens), decodes them back and reports reconstruction quality,
#  7. generates the real BOSS test split's redshifts from their magnitudes with
#     the shipped AION model (whole distributions; PIT, CRPS, coverage report),
#  8. writes the simulated sky's embeddings and redshift PDFs as HATS catalogues
#     and opens them with LSDB (joined on object_id),
#  9. validates every output and summarises the embeddings.
# Output goes to out/demo (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
OUT=${1:-out/demo}
A=build/tools/astrofm/astrofm
S=data/sample
rm -rf "$OUT" && mkdir -p "$OUT"
$A import csv $S/boss_dr10_photoz/galaxies.csv --config boss_dr10 --out "$OUT/boss"
$A import images $S/galaxyzoo1_sdss/images --labels $S/galaxyzoo1_sdss/labels.csv --crop 192 --size 64 --config galaxyzoo --out "$OUT/galaxyzoo"
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
# Morphology (elliptical / spiral / edge-on) from frozen embeddings, 5 labels per class and all.
$A embed --model galaxy-cnn-ssl --data "$OUT/galaxyzoo" --out "$OUT/galaxyzoo_embeddings"
awk -F, '{ sub(/\r$/, "") } NR == 1 { print "object_id,morph" } NR > 1 && $2 <= 3 { print $1 "," ($2 == 0 ? "elliptical" : $2 == 3 ? "edge-on" : "spiral") }' \
  $S/galaxyzoo1_sdss/labels.csv > "$OUT/morph.csv"
$A probe logistic --train "$OUT/galaxyzoo_embeddings" --labels-csv "$OUT/morph.csv" --target morph --balanced --curve 5,all \
  --repeats 3 --report "$OUT/report_morphology" --save "$OUT/morphology.probe"
# Photometric redshifts with calibrated PDFs from ugriz and their errors (docs/photoz.md: the
# estimator that beat RAIL's), trained on the fixed training split, reported on the test split,
# and written as a dataset and as a qp file that RAIL's evaluation reads.
$A photoz fit --data "$OUT/boss" --bands mag_u,mag_g,mag_r,mag_i,mag_z --errors magerr_u,magerr_g,magerr_r,magerr_i,magerr_z \
  --save "$OUT/photoz-boss.afm"
$A photoz predict "$OUT/photoz-boss.afm" --data "$OUT/boss" --split test --out "$OUT/boss_z" --qp "$OUT/boss_z_qp.hdf5" \
  --report "$OUT/report_photoz"
# Spectra most like one galaxy's image (cross-modal search), with the images side by side.
$A index build "$OUT/sim_embeddings" --column embedding_spectrum --out "$OUT/spectrum_index"
# Discovery on the real Galaxy Zoo sample (docs/discovery.md), on the central 128 px: the most
# unusual galaxies (LOF with 100 neighbours on 8 principal components of the raw pixels, the best
# anomaly ranking measured for mergers), then few-shot retrieval from the sample's mergers weighed by
# that rarity (--prior), and one round of active learning: the suggestions answered by their Galaxy Zoo class.
$A import images $S/galaxyzoo1_sdss/images --labels $S/galaxyzoo1_sdss/labels.csv --crop 128 --size 64 --config galaxyzoo \
  --out "$OUT/galaxyzoo128"
$A discover anomalies --data "$OUT/galaxyzoo128" --features image_array --pca 8 -k 100 --top 40 \
  --out "$OUT/galaxyzoo_anomalies.csv" --report "$OUT/report_discover_anomalies"
tr -d '\r' < $S/galaxyzoo1_sdss/labels.csv | awk -F, '$2 == 5 {print $1}' | head -3 > "$OUT/merger_examples.txt"
# Pixels in one orientation with morphology statistics, blended with the anomaly ranking: the best measured for mergers.
P="--features image_array --canonical --pca 64 --morphology --method mean --prior $OUT/galaxyzoo_anomalies.csv"
$A discover similar --data "$OUT/galaxyzoo128" $P --positives "$OUT/merger_examples.txt" \
  --suggest 10 --out "$OUT/galaxyzoo_round1.csv" --json "$OUT/round1.json" > /dev/null
python3 - "$OUT/round1.json" $S/galaxyzoo1_sdss/labels.csv "$OUT/merger_examples.txt" "$OUT/labels_round1.csv" <<'PY'
import csv, json, sys
cls = {r["OBJID"].strip(): r["CLASS"].strip() for r in csv.DictReader(open(sys.argv[2], newline=""))}
rows = [(i.strip(), 1) for i in open(sys.argv[3]) if i.strip()]
rows += [(o["object_id"], int(cls[o["object_id"]] == "5")) for o in json.load(open(sys.argv[1]))["suggested"]]
with open(sys.argv[4], "w") as f:
    f.write("object_id,label\n" + "".join(f"{i},{l}\n" for i, l in rows))
print(f"discovery round 1: {sum(l for _, l in rows[3:])} of {len(rows) - 3} suggestions are Galaxy Zoo mergers")
PY
$A discover similar --data "$OUT/galaxyzoo128" $P --labels "$OUT/labels_round1.csv" \
  --suggest 10 --out "$OUT/galaxyzoo_round2.csv" --report "$OUT/report_discover_round2"
# What the service serves (scripts/serve.sh, configs/serve-demo.json): image indexes, and a
# photo-z probe on the image embeddings (the simulated truth joined to them by position).
$A index build "$OUT/sim_embeddings" --column embedding_image --out "$OUT/image_index"
$A index build "$OUT/galaxyzoo_embeddings" --out "$OUT/galaxyzoo_index"
$A xmatch "$OUT/sim_embeddings" "$OUT/sim_paired" --radius 0.1 --config sim_truth --out "$OUT/sim_embeddings_z"
$A probe knn --train "$OUT/sim_embeddings_z" --features embedding_image --target Z --save "$OUT/photoz.probe" > /dev/null
$A search "$OUT/spectrum_index" --id sim7-000000006 --cross image:spectrum --k 8 --grid "$OUT/neighbours.png" --images "$OUT/sim_paired"
# AION-style tokens of every modality the shipped codecs cover, decoded back; codec quality on real DESI spectra.
$A tokenize --codecs codecs-scalar codec-image codec-spectrum --data "$OUT/sim_paired" --out "$OUT/sim_tokens"
$A detokenize --codecs codecs-scalar codec-image codec-spectrum --data "$OUT/sim_tokens" --out "$OUT/sim_decoded"
$A -q codec eval --codecs codec-spectrum --data "$OUT/desi" --report "$OUT/report_codec_desi" > /dev/null
# Redshift distributions of real BOSS galaxies (the fixed test split, never trained on) from ugriz, by the shipped AION model.
$A tokenize --codecs codecs-scalar --data "$OUT/boss" --split test --out "$OUT/boss_tokens"
$A generate --model aion-default --codecs codecs-scalar --data "$OUT/boss_tokens" --from mag_u,mag_g,mag_r,mag_i,mag_z --to z \
  --out "$OUT/boss_z_aion" --report "$OUT/report_aion_photoz" > /dev/null
# HATS catalogues that LSDB opens: the simulated sky's embeddings and its redshift PDFs (AION, from image and fluxes).
$A embed --model clip-sim --data "$OUT/sim_paired" --out "$OUT/sim_embeddings.hats" --out-format hats
$A generate --model aion-default --codecs codecs-scalar --data "$OUT/sim_tokens" --from image,FLUX_G,FLUX_R,FLUX_Z --to Z \
  --out "$OUT/sim_z.hats" --out-format hats > /dev/null
build/hats-venv/bin/python - "$OUT" <<'PY'
import sys, warnings, lsdb
warnings.filterwarnings("ignore", message=".*margin cache.*")  # one object per row on both sides: no margin needed
out = sys.argv[1]
emb = lsdb.open_catalog(f"{out}/sim_embeddings.hats")
pz = lsdb.open_catalog(f"{out}/sim_z.hats")
both = emb.join(pz, left_on="object_id", right_on="object_id", suffixes=("", "_pz")).compute(progress_bar=False)
print(f"LSDB: {out}/sim_embeddings.hats ({len(emb.get_healpix_pixels())} partitions) joined with {out}/sim_z.hats: "
      f"{len(both)} objects with embeddings and a redshift PDF (median z {both['Z_median_pz'].median():.3f})")
PY
for d in boss galaxyzoo legacysurvey desi sdss sim_imaging sim_spectra sim_paired sim_embeddings galaxyzoo_embeddings sim_tokens sim_decoded \
         boss_tokens boss_z boss_z_aion sim_embeddings.hats sim_z.hats; do $A validate "$OUT/$d"; done
$A info "$OUT/sim_embeddings"
