#!/usr/bin/env bash
# 1 vs N MPI ranks on this machine: training steps/s (the same global batch)
# and embedding objects/s, in one run. Prints JSON; bench/README.md has the figures.
# Usage: bash bench/mpi/scaling.sh [RANKS=2] [OBJECTS=3000] [STEPS=40]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-2}; OBJECTS=${2:-3000}; STEPS=${3:-40}
A=$PWD/build/tools/astrofm/astrofm
MPI=(mpirun -np "$N" --oversubscribe --allow-run-as-root --mca btl self,tcp --mca btl_tcp_if_include lo)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
$A -q simulate --objects "$OBJECTS" --seed 3 --image-size 64 --spectrum-step 4 --out "$T/sim"
secs() { local t0=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $t0" | bc; }
# Masked spectrum modelling, global batch 64 (1 rank: 64 rows; N ranks: 64/N each).
echo "{\"steps\": $STEPS, \"batch\": 64, \"val_every\": 100000, \"checkpoint_every\": 100000}" > "$T/c.json"
t1=$(secs $A -q train spectrum-mm --data "$T/sim" --config "$T/c.json" --out "$T/one.afm")
tn=$(secs "${MPI[@]}" $A -q train spectrum-mm --data "$T/sim" --config "$T/c.json" --out "$T/n.afm")
e1=$(secs $A -q embed --model galaxy-cnn-ssl --data "$T/sim" --out "$T/e1")
en=$(secs "${MPI[@]}" $A -q embed --model galaxy-cnn-ssl --data "$T/sim" --out "$T/en")
python3 - "$N" "$OBJECTS" "$STEPS" "$t1" "$tn" "$e1" "$en" "$(nproc)" <<'PY'
import json, sys
n, objs, steps, t1, tn, e1, en, cores = sys.argv[1:]
n, objs, steps, cores = int(n), int(objs), int(steps), int(cores)
t1, tn, e1, en = map(float, (t1, tn, e1, en))
print(json.dumps({"cores": cores, "ranks": n,
  "train_spectrum_mm": {"global_batch": 64, "steps": steps, "steps_per_s_1_rank": steps / t1, f"steps_per_s_{n}_ranks": steps / tn,
                        "ratio": t1 / tn},
  "embed_galaxy_cnn_ssl": {"objects": objs, "objects_per_s_1_rank": objs / e1, f"objects_per_s_{n}_ranks": objs / en, "ratio": e1 / en},
  "note": "wall time of the whole command, start-up and data loading included"}, indent=1))
PY
