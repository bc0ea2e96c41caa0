#!/usr/bin/env bash
# Writes one report of each kind with the CLI on the shipped sample (probe:
# regression with PIT, classification with a label-efficiency curve; photoz;
# codec eval; discover) and opens each from disk in Debian's chromium
# (report_test.mjs). Exit 77 (skipped) without chromium or playwright-core,
# unless ASTROFM_REQUIRE_BROWSER=1 (CI).
set -euo pipefail
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SAMPLE="$HERE/../../data/sample"
A="$BUILD/tools/astrofm/astrofm"
source "$HERE/require_browser.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
F=mag_u,mag_g,mag_r,mag_i,mag_z,mag_u-mag_g,mag_g-mag_r,mag_r-mag_i,mag_i-mag_z
"$A" -q import csv "$SAMPLE/boss_dr10_photoz/galaxies.csv" --config boss --out "$T/boss"
"$A" -q probe knn --standardize --train "$T/boss" --target z --features $F --report "$T/probe-regression"
/usr/bin/python3 - "$SAMPLE/boss_dr10_photoz/galaxies.csv" "$T/zclass.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[2], "w") as f:
    f.write("object_id,zclass\n")
    for i, r in enumerate(rows):
        z = float(r["z"]); f.write(f"galaxies-{i},{'low' if z < 0.4 else 'mid' if z < 0.55 else 'high'}\n")
PY
"$A" -q probe logistic --train "$T/boss" --labels-csv "$T/zclass.csv" --target zclass --features $F --curve 5,20,all --repeats 2 \
  --report "$T/probe-classification"
"$A" -q photoz fit --data "$T/boss" --bands mag_u,mag_g,mag_r,mag_i,mag_z --errors magerr_u,magerr_g,magerr_r,magerr_i,magerr_z \
  --members 1 --epochs 10 --save "$T/pz.afm"
"$A" -q photoz predict "$T/pz.afm" --data "$T/boss" --split test --report "$T/photoz"
"$A" -q simulate --objects 40 --seed 11 --spectrum-step 4 --out "$T/sim"
"$A" -q codec eval --codecs codec-spectrum --data "$T/sim" --report "$T/codec-eval" >/dev/null
"$A" -q import images "$SAMPLE/galaxyzoo1_sdss/images" --crop 128 --size 64 --out "$T/gz"
"$A" -q discover anomalies --data "$T/gz" --features image_array --pca 32 --report "$T/discover" --top 20
node "$HERE/report_test.mjs" "$BUILD" "$T/probe-regression" "$T/probe-classification" "$T/photoz" "$T/codec-eval" "$T/discover"
# PNG export for papers and READMEs (scripts/report-png.mjs): one PNG per figure.
node "$HERE/../../scripts/report-png.mjs" "$T/probe-classification" "$T/png" > "$T/png.txt"
[ "$(wc -l < "$T/png.txt")" = 2 ] || { echo "report test: PNG export wrote $(wc -l < "$T/png.txt") files, not 2" >&2; exit 1; }
for f in $(cat "$T/png.txt"); do
  [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || { echo "report test: $f is not a PNG" >&2; exit 1; }
done
echo "report test: PNG export ok ($(tr '\n' ' ' < "$T/png.txt"))"
