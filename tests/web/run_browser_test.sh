#!/usr/bin/env bash
# Starts astrofm serve on a small simulated survey and runs browser_test.mjs
# against it in Debian's chromium. Exit 77 (skipped) without chromium or
# playwright-core, unless ASTROFM_REQUIRE_BROWSER=1 (CI).
set -euo pipefail
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
A="$BUILD/tools/astrofm/astrofm"
source "$HERE/require_browser.sh"
T=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$T"' EXIT
"$A" -q simulate --objects 60 --seed 11 --spectrum-step 4 --out "$T/sim"
"$A" -q embed --model clip-sim --data "$T/sim" --out "$T/emb"
"$A" -q index build "$T/emb" --column embedding_image --out "$T/images"
"$A" -q index build "$T/emb" --column embedding_spectrum --out "$T/spectra"
ID=$(/usr/bin/python3 - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[0] if False else "")
import h5py, glob
f = sorted(glob.glob(sys.argv[1] + "/sim/*/healpix=*/001-of-001.hdf5"))[0]
with h5py.File(f) as h:
    np.save(sys.argv[1] + "/query.npy", h["image_array"][0:1].astype("<f4"))
    print(h["object_id"][0].decode())
PY
)
"$A" -q serve --port 0 --port-file "$T/port" --quiet-log --model clip-sim --index "sim-images=$T/images" \
  --index "sim-spectra=$T/spectra" --data "sim=$T/sim" &
SERVER=$!
for _ in $(seq 300); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { echo "browser test: the server did not start" >&2; exit 1; }
node "$HERE/browser_test.mjs" "http://127.0.0.1:$(cat "$T/port")/" "$ID" "$T/query.npy" "$BUILD/web-screenshot.png" "$BUILD/web-discover.png"
