#!/usr/bin/env bash
# AstroCLIP science checks on a simulated paired survey no model saw
# (seed 303, its own sky region): image->spectrum retrieval among 1,000,
# zero-shot redshift by kNN on the frozen image and spectrum embeddings, and
# a CNN trained from scratch on the same images and the same labels.
# All three use astrofm's fixed 20% test split (hash of object_id).
# Usage: bench/science/clip_sim_science.sh [WORKDIR] [MODEL]   (~15 min on 2 cores)
#   env: CNN_STEPS (600), SKIP_CNN=1 leaves the CNN out
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-/tmp/astrofm-clip-science}
MODEL=${2:-clip-sim}
A=${ASTROFM:-build/tools/astrofm/astrofm}
mkdir -p "$W"
[ -d "$W/sim" ] || $A -q simulate --objects 3000 --seed 303 --spectrum-step 4 --region 210,230,0,20 --out "$W/sim"
$A -q embed --model "$MODEL" --data "$W/sim" --out "$W/emb" --overwrite
/usr/bin/python3 - "$W" <<'PY'
import sys, csv, h5py, glob
w = sys.argv[1]
with open(f"{w}/z.csv", "w") as f:
    out = csv.writer(f); out.writerow(["object_id", "Z"])
    for p in sorted(glob.glob(f"{w}/sim/*/healpix=*/*.hdf5")):
        h = h5py.File(p)
        for i, z in zip(h["object_id"][:], h["Z"][:]): out.writerow([i.decode(), repr(float(z))])
PY
echo "== retrieval (first 1,000 objects; python/numpy)"
(cd bench/science && /usr/bin/python3 clip_sim_check.py "$W/emb" "$W/sim")
for kind in image spectrum; do
  echo "== zero-shot redshift, kNN on embedding_$kind"
  $A -q probe knn --train "$W/emb" --features embedding_$kind --labels-csv "$W/z.csv" --target Z --k 16 --weights distance \
     --standardize --json "$W/knn_$kind.json" --report "$W/report_knn_$kind"
  /usr/bin/python3 -c "import json; m=json.load(open('$W/knn_$kind.json'))['metrics']; print({k: round(m[k], 4) for k in ('r2', 'sigma_nmad', 'eta_0.15')})"
done
echo "== reference: kNN on the true (noiseless) g, r, z magnitudes, what the images can show of the redshift"
$A -q probe knn --train "$W/sim" --features MAG_G MAG_R MAG_Z --target Z --k 16 --weights distance --standardize --json "$W/knn_true_mags.json"
/usr/bin/python3 -c "import json; m=json.load(open('$W/knn_true_mags.json'))['metrics']; print({k: round(m[k], 4) for k in ('r2', 'sigma_nmad', 'eta_0.15')})"
[ -n "${SKIP_CNN:-}" ] && exit 0
echo "== supervised CNN from scratch on the images, same labels"
$A -q probe cnn --train "$W/sim" --target Z --cnn-steps ${CNN_STEPS:-600} --json "$W/cnn.json" --report "$W/report_cnn"
/usr/bin/python3 -c "import json; m=json.load(open('$W/cnn.json'))['metrics']; print({k: round(m[k], 4) for k in ('r2', 'sigma_nmad', 'eta_0.15')})"
