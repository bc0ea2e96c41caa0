#!/usr/bin/env bash
# Serves the shipped sample and models: embeddings, search, probes and AION
# generation at http://127.0.0.1:8080/ (API under /v1, cone search under /scs,
# the web page at /). Runs the demo first if its outputs are missing.
#   ./scripts/serve.sh [astrofm serve flags, e.g. --port 9000 --token-file tokens.txt]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f out/demo/photoz.probe ] && [ -d out/demo/image_index ] || bash scripts/demo.sh
export OMP_WAIT_POLICY=PASSIVE
exec build/tools/astrofm/astrofm serve --config configs/serve-demo.json "$@"
