#!/usr/bin/env bash
# CTest wrapper: skips (77) when the AION reference environment is absent.
BUILD="$1"
PY="$BUILD/aion-venv/bin/python"
if ! "$PY" -c 'import importlib.util as u; assert u.find_spec("aion")' 2>/dev/null; then
  echo "SKIP: no AION reference environment ($BUILD/aion-venv; run scripts/aion-venv.sh)"
  exit 77
fi
ASTROFM_BUILD="$BUILD" ASTROFM_BIN="$BUILD/tools/astrofm/astrofm" OMP_WAIT_POLICY=PASSIVE exec "$PY" "$(dirname "$0")/${2:-codec_parity.py}"
