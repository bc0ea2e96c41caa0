#!/usr/bin/env bash
# Installs the build into a temporary prefix and runs the installed astrofm
# from another directory: it must find its models and simulator data under
# <prefix>/share/astrofm, not in the source tree.
set -euo pipefail
BUILD=$1
P=$(mktemp -d)
trap 'rm -rf "$P"' EXIT
cmake --install "$BUILD" --prefix "$P/usr" >/dev/null
cd "$P"
test -x usr/bin/astrofm
test -f usr/include/astrofm/encoder.h
ls usr/lib/libastrofm_core.a >/dev/null
if ls "$BUILD"/astrofm/_core*.so >/dev/null 2>&1; then  # built with the Python module
ls usr/lib/python3/dist-packages/astrofm/_core*.so >/dev/null
(cd / && OMP_WAIT_POLICY=PASSIVE PYTHONPATH="$P"/usr/lib/python3/dist-packages /usr/bin/python3 -c "import astrofm; e = astrofm.Encoder(\"galaxy-cnn-ssl\"); assert e.path.startswith(\"$P/\"), e.path; print(e)")
fi
paths=$(usr/bin/astrofm models --paths)
echo "$paths"
echo "$paths" | grep -q "^models: $P/usr/share/astrofm/models" || { echo "models not found under the prefix first"; exit 1; }
echo "$paths" | grep -q "^data: $P/usr/share/astrofm/data" || { echo "simulator data not under the prefix"; exit 1; }
usr/bin/astrofm models | grep -q galaxy-cnn-ssl
usr/bin/astrofm -q simulate --objects 4 --seed 3 --out "$P/sim" --no-spectra
usr/bin/astrofm validate "$P/sim" >/dev/null
echo "install ok"
