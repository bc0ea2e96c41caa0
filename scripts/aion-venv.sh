#!/usr/bin/env bash
# The reference for the codec (and later model) parity tests: AION's own
# package, polymathic-aion from PyPI, in build/aion-venv on Debian's python3
# with its system packages (torch 1.13, numpy, scipy, h5py). Never used at run
# time; the tests never call AION's hub loaders.
set -euo pipefail
cd "$(dirname "$0")/.."
V=build/aion-venv
if [ ! -x "$V/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$V"
fi
if ! "$V/bin/python" -c 'import importlib.util as u, einops, jaxtyping, scipy, safetensors; assert u.find_spec("aion")' 2>/dev/null; then
  # AION's torch extra would pull a second, CUDA torch: Debian's python3-torch serves.
  "$V/bin/pip" install -q --disable-pip-version-check "polymathic-aion==0.0.2" "safetensors>=0.4"
fi
"$V/bin/python" -c 'import importlib.util as u; print("AION reference:", u.find_spec("aion").origin)'
