#!/usr/bin/env bash
# Galaxy Zoo morphology (real SDSS images): elliptical / spiral (clockwise +
# anticlockwise) / edge-on, macro-F1 on astrofm's fixed 20% test split against
# the number of labels per class. Three contenders on the same split and label
# draws: a logistic probe on frozen image embeddings, the same probe on raw
# pixels reduced to 64 principal components, and a CNN trained from scratch.
# Usage: bench/science/gz_science.sh [SHARED_DATA] [WORKDIR] [MODEL]   (~40 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${1:-../shared/data}
W=${2:-/tmp/astrofm-gz-science}
MODEL=${3:-galaxy-cnn-ssl}
A=${ASTROFM:-build/tools/astrofm/astrofm}
CURVE=${CURVE:-10,30,100,all}
mkdir -p "$W"
# Cutouts are 423 px with the galaxy in the middle ~100 px: keep the central 160 px.
[ -d "$W/gz" ] || $A -q import images "$SHARED/galaxyzoo1_sdss/images" --labels "$SHARED/galaxyzoo1_sdss/labels.csv" \
  --crop 160 --size 64 --config galaxyzoo --out "$W/gz"
/usr/bin/python3 - "$SHARED/galaxyzoo1_sdss/labels.csv" "$W/morph.csv" <<'PY'
import csv, sys
names = {"0": "elliptical", "1": "spiral", "2": "spiral", "3": "edge-on"}  # 4 (don't know) and 5 (merger) left out
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["CLASS"] in names]
with open(sys.argv[2], "w") as f:
    w = csv.writer(f); w.writerow(["object_id", "morph"])
    for r in rows: w.writerow([r["OBJID"], names[r["CLASS"]]])
PY
$A -q embed --model "$MODEL" --data "$W/gz" --out "$W/emb" --overwrite
common="--labels-csv $W/morph.csv --target morph --curve $CURVE --balanced"
$A -q probe logistic --train "$W/emb" $common --repeats 5 --json "$W/embedding.json" --report "$W/report_embedding"
$A -q probe logistic --train "$W/gz" --features image_array --pca 64 $common --repeats 5 --json "$W/pixels.json" --report "$W/report_pixels"
$A -q probe cnn --train "$W/gz" --labels-csv "$W/morph.csv" --target morph --curve "$CURVE" --repeats ${CNN_REPEATS:-2} \
  --cnn-steps ${CNN_STEPS:-500} --json "$W/cnn.json" --report "$W/report_cnn"
/usr/bin/python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
print("Galaxy Zoo 3-class macro-F1 (mean ± std over label draws) by labels per class")
print(f"{'labels/class':>12s} " + " ".join(f"{n:>16s}" for n in ("embedding", "pixels PCA64", "CNN from scratch")))
res = [json.load(open(f"{w}/{n}.json"))["curve"] for n in ("embedding", "pixels", "cnn")]
for i, p in enumerate(res[0]):
    n = p["labels"] or "all"
    print(f"{str(n):>12s} " + " ".join(f"{r[i]['mean']['macro_f1']:>9.3f} ± {r[i]['std']['macro_f1']:.3f}" for r in res))
PY
