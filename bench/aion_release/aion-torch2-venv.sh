#!/usr/bin/env bash
# AION's package on its best CPU setup here, for bench/aion_release/: PyPI's
# torch 2.x (about 5.6 GB with its CUDA libraries), polymathic-aion and
# safetensors, in a virtual environment of its own (default /tmp/aion-torch2).
set -euo pipefail
V=${1:-/tmp/aion-torch2}
[ -x "$V/bin/python" ] || /usr/bin/python3 -m venv "$V"
"$V/bin/pip" install -q --disable-pip-version-check torch "polymathic-aion==0.0.2" safetensors numpy
"$V/bin/python" -c 'import torch, aion; print("AION on torch", torch.__version__, "in", "'"$V"'")'
