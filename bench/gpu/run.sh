#!/usr/bin/env bash
# On a GPU machine: builds bench/gpu against its PyTorch and runs the check.
# fmt and nlohmann headers travel in .gpu-include (see the closing notes).
set -euo pipefail
cd "$(dirname "$0")"
P=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
cmake -S . -B /tmp/gpu-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$P" \
  -DEXTRA_INCLUDE="$(cd ../.. && pwd)/.gpu-include" >/dev/null
cmake --build /tmp/gpu-build -j 16 2>&1 | grep -E "error|warning: unused" || true
/tmp/gpu-build/gpu_check
