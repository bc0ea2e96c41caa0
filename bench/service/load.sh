#!/usr/bin/env bash
# Load test of `astrofm serve` beside the Python service a user would write
# (bench/service/py_service.py: http.server + faiss + torch), in one run:
# wrk with 64 connections for 60 s on POST /v1/search (by a random object id,
# k = 10) and POST /v1/embeddings (one 3x64x64 image as .npy, galaxy-cnn-ssl's
# CNN), on a simulated survey embedded by galaxy-cnn-ssl. Reports requests/s,
# p50/p99 latency, errors and the server's resident memory before, after and
# at its peak. Results: bench/service/results.json.
#   bash bench/service/load.sh [SECONDS=60] [CONNECTIONS=64] [OBJECTS=5000]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60} CONN=${2:-64} N=${3:-5000}
A=build/tools/astrofm/astrofm
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
export OMP_WAIT_POLICY=PASSIVE
$A -q simulate --objects "$N" --seed 3 --no-spectra --out "$W/sim"
$A -q embed --model galaxy-cnn-ssl --data "$W/sim" --out "$W/emb"
$A -q index build "$W/emb" --out "$W/ix"
/usr/bin/python3 - "$W" <<'PY'
import glob, sys, h5py, numpy as np
w = sys.argv[1]
ids = []
for f in sorted(glob.glob(w + "/emb/*/healpix=*/001-of-001.hdf5")):
    with h5py.File(f) as h:
        ids += [i.decode() for i in h["object_id"][:]]
open(w + "/ids.txt", "w").write("\n".join(ids) + "\n")
f = sorted(glob.glob(w + "/sim/*/healpix=*/001-of-001.hdf5"))[0]
with h5py.File(f) as h:
    np.save(w + "/image.npy", h["image_array"][0:1].astype("<f4"))
PY
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
wait_port() { for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; return 1; }
$A -q serve --port 18081 --quiet-log --model galaxy-cnn-ssl --index "sim=$W/ix" & PIDS+=($!); ASTRO=$!
/usr/bin/python3 bench/service/py_service.py 18082 "$W/emb" & PIDS+=($!); PY=$!
wait_port 18081; wait_port 18082
echo "[" > "$W/results.json"
first=1
for server in astrofm python; do
  if [ $server = astrofm ]; then port=18081 pid=$ASTRO; else port=18082 pid=$PY; fi
  for endpoint in search embeddings; do
    if [ $endpoint = search ]; then env_args=(IDS="$W/ids.txt"); path=/v1/search
    else env_args=(BODY="$W/image.npy" CTYPE=application/x-npy); path="/v1/embeddings?model=galaxy-cnn-ssl&bands=DES-G,DES-R,DES-Z"; fi
    before=$(rss $pid); peak=$before
    ( while kill -0 $pid 2>/dev/null; do r=$(rss $pid); echo "$r"; sleep 1; done ) > "$W/rss-$server-$endpoint" & sampler=$!
    out=$(env "${env_args[@]}" wrk -t2 -c"$CONN" -d"${SECS}s" --timeout 10s -s bench/service/post.lua "http://127.0.0.1:$port$path")
    kill $sampler 2>/dev/null || true
    after=$(rss $pid); peak=$(sort -n "$W/rss-$server-$endpoint" | tail -1)
    at10=$(sed -n 10p "$W/rss-$server-$endpoint")  # after warm-up: from here on, memory must stay flat
    cp "$W/rss-$server-$endpoint" "bench/service/rss-$server-$endpoint.txt"
    line=$(echo "$out" | grep '^RESULT ' | sed 's/^RESULT //')
    [ $first = 1 ] || echo "," >> "$W/results.json"; first=0
    echo "{\"server\": \"$server\", \"endpoint\": \"$endpoint\", \"connections\": $CONN, \"rss_before_kb\": $before, \"rss_after_kb\": $after, \"rss_peak_kb\": ${peak:-$after}, \"rss_at_10s_kb\": ${at10:-$after}, \"wrk\": $line}" >> "$W/results.json"
    echo "$server $endpoint: $line; RSS ${before} -> ${after} kB (peak ${peak:-?})"
  done
done
echo "]" >> "$W/results.json"
cp "$W/results.json" bench/service/results.json
/usr/bin/python3 - bench/service/results.json "$N" "$SECS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
by = {(x["server"], x["endpoint"]): x for x in r}
print(f"\n{sys.argv[2]} objects, {r[0]['connections']} connections, {sys.argv[3]} s per run\n")
print("| endpoint | server | requests/s | p50 ms | p99 ms | errors | RSS before, at 10 s -> end (peak), MB |")
print("|---|---|---|---|---|---|---|")
for e in ("search", "embeddings"):
    for s in ("astrofm", "python"):
        x = by[(s, e)]; w = x["wrk"]
        err = w["errors_connect"] + w["errors_read"] + w["errors_write"] + w["errors_status"] + w["errors_timeout"]
        print(f"| {e} | {s} | {w['requests'] / w['seconds']:.0f} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} | {err} | "
              f"{x['rss_before_kb'] / 1024:.0f}, {x['rss_at_10s_kb'] / 1024:.0f} -> {x['rss_after_kb'] / 1024:.0f} ({x['rss_peak_kb'] / 1024:.0f}) |")
    a, p = by[("astrofm", e)]["wrk"], by[("python", e)]["wrk"]
    print(f"| {e} | **ratio astrofm / python** | **{(a['requests'] / a['seconds']) / (p['requests'] / p['seconds']):.1f}x** | "
          f"{a['p50_ms'] / p['p50_ms']:.2f} | {a['p99_ms'] / p['p99_ms']:.2f} | | |")
PY
