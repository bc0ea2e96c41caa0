#!/usr/bin/env bash
# Galaxy Zoo morphology (real SDSS images): elliptical / spiral (clockwise +
# anticlockwise) / edge-on, macro-F1 on astrofm's fixed 20% test split against
# the number of labels per class (label-efficiency curves). Five contenders on
# the same split and label draws: raw pixels reduced to 64 principal
# components + logistic, a CNN trained from scratch, frozen image embeddings +
# logistic, frozen embeddings + MLP, and the pre-trained encoder fine-tuned
# (cnn and finetune get the same budget of steps).
# Usage: bench/science/gz_science.sh [SHARED_DATA] [WORKDIR] [MODEL]
#   env: CROP (central pixels kept, default 160; use the model's own), CURVE, REPEATS (5),
#        CNN_REPEATS (5), CNN_STEPS (300), SKIP (space-separated contenders to leave out)
# Writes WORKDIR/{pixels,cnn,embedding,mlp,finetune}.json, label_efficiency.png and .md.
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${1:-../shared/data}
W=${2:-/tmp/astrofm-gz-science}
MODEL=${3:-galaxy-cnn-ssl}
A=${ASTROFM:-build/tools/astrofm/astrofm}
CURVE=${CURVE:-10,30,100,all}
CROP=${CROP:-160}
REPEATS=${REPEATS:-5}
SKIP=" ${SKIP:-} "
mkdir -p "$W"
# Cutouts are 423 px with the galaxy in the middle ~100 px: keep the central CROP px, as 64x64.
[ -d "$W/gz$CROP" ] || $A -q import images "$SHARED/galaxyzoo1_sdss/images" --labels "$SHARED/galaxyzoo1_sdss/labels.csv" \
  --crop "$CROP" --size 64 --config galaxyzoo --out "$W/gz$CROP"
G="$W/gz$CROP"
/usr/bin/python3 - "$SHARED/galaxyzoo1_sdss/labels.csv" "$W/morph.csv" <<'PY'
import csv, sys
names = {"0": "elliptical", "1": "spiral", "2": "spiral", "3": "edge-on"}  # 4 (don't know) and 5 (merger) left out
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["CLASS"] in names]
with open(sys.argv[2], "w") as f:
    w = csv.writer(f); w.writerow(["object_id", "morph"])
    for r in rows: w.writerow([r["OBJID"], names[r["CLASS"]]])
PY
common="--labels-csv $W/morph.csv --target morph --curve $CURVE"
want() { [[ "$SKIP" != *" $1 "* ]]; }
$A -q embed --model "$MODEL" --data "$G" --out "$W/emb" --overwrite
want embedding && $A -q probe logistic --train "$W/emb" $common --balanced --repeats "$REPEATS" --json "$W/embedding.json"
want mlp && $A -q probe mlp --train "$W/emb" $common --balanced --repeats "$REPEATS" --json "$W/mlp.json"
want pixels && $A -q probe logistic --train "$G" --features image_array --pca 64 $common --balanced --repeats "$REPEATS" --json "$W/pixels.json"
want cnn && $A -q probe cnn --train "$G" $common --repeats "${CNN_REPEATS:-5}" --cnn-steps "${CNN_STEPS:-300}" --json "$W/cnn.json"
want finetune && $A -q probe finetune --model "$MODEL" --train "$G" $common --repeats "${CNN_REPEATS:-5}" --cnn-steps "${CNN_STEPS:-300}" \
  --json "$W/finetune.json"
/usr/bin/python3 bench/science/label_efficiency.py "$W" "$MODEL"
