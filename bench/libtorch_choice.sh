#!/usr/bin/env bash
# Debian's libtorch (1.13) against the libtorch inside PyPI's torch wheel,
# measured on this machine: install size and time, build time of the torch
# modules (no ccache), CPU forward / training speed of the shipped CNN and of
# SpecFormer, attention (explicit vs fused), CUDA availability. Results in
# docs/libtorch.md.
# Usage: bench/libtorch_choice.sh [VENV]   (VENV: where `pip install torch` went; made when absent)
set -euo pipefail
cd "$(dirname "$0")/.."
V=${1:-/tmp/astrofm-torch-venv}
OUT=${OUT:-/tmp/astrofm-libtorch}
mkdir -p "$OUT"
if [ ! -x "$V/bin/python" ]; then
  python3 -m venv "$V"
  /usr/bin/time -f "pip install torch: %e s" "$V/bin/pip" install -q torch 2>&1 | tail -1 | tee "$OUT/pip.txt"
fi
echo "PyPI wheel: $(du -sh "$V" | cut -f1) venv ($(du -sh "$V"/lib/python3*/site-packages/torch | cut -f1) torch + $(du -sch "$V"/lib/python3*/site-packages/nvidia 2>/dev/null | tail -1 | cut -f1) nvidia)"
echo "Debian: $(dpkg-query -W -f='${Installed-Size}\n' libtorch1.13 libtorch-dev | awk '{s+=$1} END {printf "%.0f MB", s/1024}') (libtorch1.13 + libtorch-dev)"
# PyPI's torch is a CUDA build: its CMake config (TorchConfig) refuses to
# configure without a CUDA toolkit, so both libtorches are compiled against
# the same way here, by hand: the CPU libraries only (libtorch_cpu, libc10).
T=$("$V/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
SRC="src/models/cnn.cc src/models/specformer.cc src/models/layers.cc src/core/error.cc"
mkdir -p "$OUT/gen/astrofm"
printf '#pragma once\n#define ASTROFM_VERSION "bench"\n#define ASTROFM_SOURCE_DIR "%s"\n#define ASTROFM_INSTALL_PREFIX "/usr/local"\n' "$PWD" > "$OUT/gen/astrofm/config.h"
build() {  # name, include flags, link flags
  local name=$1 inc=$2 lib=$3 t0 objs=""
  mkdir -p "$OUT/$name"
  t0=$(date +%s.%N)
  for f in $SRC bench/bench_encoder.cc bench/bench_attention.cc; do
    o="$OUT/$name/$(basename "$f" .cc).o"
    g++ -O2 -std=c++20 -DNDEBUG -DFMT_HEADER_ONLY -Iinclude -I"$OUT/gen" $inc -c "$f" -o "$o" &
  done
  wait
  g++ -o "$OUT/$name/bench_encoder" "$OUT/$name"/{cnn,specformer,layers,error,bench_encoder}.o $lib -lpthread
  g++ -o "$OUT/$name/bench_attention" "$OUT/$name/bench_attention.o" $lib -lpthread
  echo "$name: 6 translation units + 2 links in $(echo "$(date +%s.%N) - $t0" | bc) s (2 cores)"
}
build debian "-I/usr/include/torch/csrc/api/include" "-ltorch -ltorch_cpu -lc10"
build pypi "-D_GLIBCXX_USE_CXX11_ABI=1 -I$T/include -I$T/include/torch/csrc/api/include" "-L$T/lib -Wl,-rpath,$T/lib -ltorch_cpu -lc10"
for name in debian pypi; do
  for arch in cnn specformer; do
    echo "$name $arch: $(OMP_WAIT_POLICY=PASSIVE "$OUT/$name/bench_encoder" $arch 2)"
  done
  echo "$name attention: $(OMP_WAIT_POLICY=PASSIVE "$OUT/$name/bench_attention" 2)"
done
