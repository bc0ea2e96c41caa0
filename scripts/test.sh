#!/usr/bin/env bash
# Builds astrofm (installing Debian packages if needed) and runs the whole test
# suite with CTest. Tests that need ../shared/data skip when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# Short libFuzzer runs of the importers' harnesses (clang), when enabled.
if [ "${ASTROFM_FUZZ:-1}" = "1" ]; then
  bash scripts/fuzz.sh 20
fi
# `pip install .` the way a Python user would (a full second build: CI only by default).
if [ "${ASTROFM_PIP:-0}" = "1" ]; then
  bash scripts/pip-check.sh
fi
# AION's own package for the parity tests (CI requires it; elsewhere they skip without it).
if ! bash scripts/aion-venv.sh; then
  if [ "${ASTROFM_REQUIRE_AION:-0}" = "1" ]; then echo "could not install polymathic-aion" >&2; exit 1; fi
  echo "warning: no AION reference environment: AION.* tests will skip" >&2
fi
# playwright-core (npm) drives Debian's chromium in the web page's end-to-end test.
if command -v npm >/dev/null && [ -f tests/web/package-lock.json ]; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || echo "warning: npm ci failed: the browser test will skip" >&2
fi
cd build && ctest --output-on-failure -j "$(nproc)" --timeout 900
