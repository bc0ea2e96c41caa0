#!/usr/bin/env bash
# Configures and builds astrofm into build/ (Release, ccache when present).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Arrow C++ for HATS comes inside the pyarrow wheel (before configuring).
bash scripts/hats-venv.sh
BUILD_TYPE=${BUILD_TYPE:-Release}
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${CMAKE_ARGS:-}
fi
cmake --build build -j "$(nproc)"
