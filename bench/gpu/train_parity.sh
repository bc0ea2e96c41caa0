#!/usr/bin/env bash
# CPU/CUDA parity and throughput of `astrofm train` for every task, in one
# run on a GPU machine where astrofm is built against that machine's PyTorch:
#   cmake -S . -B build-gpu -G Ninja -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')"
#   cmake --build build-gpu && bash bench/gpu/train_parity.sh build-gpu/tools/astrofm/astrofm [STEPS]
# Each task trains STEPS steps from the same seed on the CPU (fp32), on CUDA
# in fp32 and on CUDA with bf16 autocast; the final training losses are
# compared (batches are prepared on the CPU from the same random streams, so
# fp32 runs differ by kernel rounding only). Prints one JSON line per task
# and writes bench/gpu/train_parity.json. Runs anywhere: without CUDA the
# CUDA rows are skipped (so the script itself is checked on CPU machines).
set -euo pipefail
A=${1:-build/tools/astrofm/astrofm}
STEPS=${2:-20}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
$A simulate --objects 400 --seed 7 --spectrum-step 4 --region 150,160,0,10 --out "$W/paired" >/dev/null 2>&1
$A simulate --objects 400 --seed 8 --no-spectra --imaging hsc --region 150,160,0,10 --out "$W/hsc" >/dev/null 2>&1
cuda=$(python3 -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
run() {  # task device precision extra...
  local task=$1 dev=$2 prec=$3; shift 3
  local out="$W/$task-$dev-$prec.afm" t0 t1
  t0=$(date +%s.%N)
  $A train "$task" --steps "$STEPS" --batch 32 --seed 3 --device "$dev" --precision "$prec" --out "$out" --overwrite "$@" \
    >"$W/log" 2>&1 || { echo null; return; }
  t1=$(date +%s.%N)
  # The run's own summary line: "... train loss X, validation loss Y; wrote ...".
  python3 -c "
import json, re, sys
m = re.search(r'train loss ([-0-9.e+naninf]+)', open('$W/log').read())
print(json.dumps({'loss': float(m.group(1)) if m else None, 'seconds': round($t1 - $t0, 2)}))"
}
tasks=(
  "simclr --data $W/paired"
  "dino --data $W/paired"
  "spectrum-mm --data $W/paired --config configs/spectrum-mm-tiny.json"
  "clip --data $W/paired"
  "supervised --data $W/paired --target Z --objective regression"
  "codec-image --data $W/hsc --config configs/codec-image-cpu.json"
  "codec-spectrum --data $W/paired --config configs/codec-spectrum-cpu.json"
)
echo "[" > bench/gpu/train_parity.json.tmp
sep=""
for t in "${tasks[@]}"; do
  set -- $t
  name=$1; shift
  cpu=$(run "$name" cpu fp32 "$@")
  g32=null; gbf=null
  if [ "$cuda" != "0" ]; then g32=$(run "$name" cuda fp32 "$@"); gbf=$(run "$name" cuda bf16 "$@"); fi
  line="{\"task\": \"$name\", \"steps\": $STEPS, \"cpu_fp32\": $cpu, \"cuda_fp32\": $g32, \"cuda_bf16\": $gbf}"
  echo "$line"
  printf '%s%s\n' "$sep" "$line" >> bench/gpu/train_parity.json.tmp
  sep=","
done
echo "]" >> bench/gpu/train_parity.json.tmp
mv bench/gpu/train_parity.json.tmp bench/gpu/train_parity.json
