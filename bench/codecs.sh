#!/usr/bin/env bash
# Reconstruction quality of the shipped codecs on data they never saw (other
# simulator seeds, other Galaxy Zoo cutouts, the real DESI and BOSS spectra),
# then encode throughput against AION's own package. Figures: bench/README.md.
# Usage: bench/codecs.sh [WORKDIR]   (Galaxy Zoo part needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/astrofm-codec-bench}
A=build/tools/astrofm/astrofm
S=data/sample
SHARED=${ASTROFM_SHARED_DATA:-../shared/data}
mkdir -p "$W"
[ -d "$W/ls_test" ] || $A -q simulate --objects 200 --seed 31 --no-spectra --config sim_ls --out "$W/ls_test"
[ -d "$W/hsc_test" ] || $A -q simulate --objects 200 --seed 32 --imaging hsc --no-spectra --config sim_hsc --out "$W/hsc_test"
[ -d "$W/spec_test" ] || $A -q simulate --objects 300 --seed 12 --no-images --spectrum-step 0.8 --config sim_spectra --out "$W/spec_test"
[ -d "$W/desi" ] || $A -q import desi $S/desi_spectra_fixtures/coadd-*.fits --out "$W/desi"
[ -d "$W/sdss" ] || $A -q import sdss $S/boss_spplate_fixture/spPlate-*.fits --out "$W/sdss"
if [ -d "$SHARED/galaxyzoo1_sdss" ] && [ ! -d "$W/gz_test" ]; then
  mkdir -p "$W/gz_files"  # cutouts 1501-1700 by name: the codec trained on the first 1,500
  ls "$SHARED/galaxyzoo1_sdss/images" | sort | sed -n 1501,1700p | while read -r f; do ln -sf "$(realpath "$SHARED/galaxyzoo1_sdss/images/$f")" "$W/gz_files/$f"; done
  $A -q import images "$W/gz_files" --crop 160 --size 64 --config galaxyzoo --out "$W/gz_test"
fi
summ() {  # one line per modality from codec eval's JSON
  /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
for m, v in d["modalities"].items():
    r = lambda x: round(x, 4) if isinstance(x, float) else x
    keep = {k: r(x) for k, x in v.items() if k != "bands"}
    print(sys.argv[1], m, keep)
    for b, bv in v.get("bands", {}).items():
        print("   ", b, {k: r(x) for k, x in bv.items()})' "$1"
}
$A -q codec eval --codecs codec-image --data "$W/ls_test" --report "$W/report_ls" | summ "legacy-like (fresh)"
$A -q codec eval --codecs codec-image --data "$W/hsc_test" --report "$W/report_hsc" | summ "hsc-like (fresh)"
[ -d "$W/gz_test" ] && $A -q codec eval --codecs codec-image --data "$W/gz_test" --report "$W/report_gz" | summ "galaxy zoo 8-bit (unseen)"
$A -q codec eval --codecs codec-spectrum --data "$W/spec_test" --report "$W/report_spec" | summ "desi-like 0.8 A (fresh)"
$A -q codec eval --codecs codec-spectrum --data "$W/desi" --report "$W/report_desi" | summ "real DESI EDR"
$A -q codec eval --codecs codec-spectrum --data "$W/sdss" --report "$W/report_sdss" | summ "real BOSS spPlate"
if [ -x build/aion-venv/bin/python ]; then
  ASTROFM_BUILD=build OMP_WAIT_POLICY=PASSIVE build/aion-venv/bin/python bench/codec_throughput.py 2>/dev/null
fi
