"""Released-size AION-1 against AION's own package, side by side in one run:
load time, time to the first embedding, peak memory, and embedding and
one-token generation throughput, at equal outputs (a stated tolerance).

  OMP_WAIT_POLICY=PASSIVE python3 bench/aion_release/run.py [--sizes base,large,xlarge] [--aion-python PY ...]

Snapshots in the release layout with random weights are made first
(make_snapshot.py: float32 for base and large, bfloat16 for xlarge, whose
float32 weights would take 12 GB). Each measurement is its own process, one
at a time (two torch processes on two cores slow each other far more than
twice). Writes a markdown table to stdout and JSON to --json.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--sizes", default="base,large,xlarge")
ap.add_argument("--aion-python", action="append", default=[], help="Python(s) with polymathic-aion (one column each); default build/aion-venv")
ap.add_argument("--astrofm-python", default="/usr/bin/python3")
ap.add_argument("--dir", default="/tmp/astrofm-aion-release")
ap.add_argument("--objects", type=int, default=64)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--json", default="")
a = ap.parse_args()
aion_pys = a.aion_python or ["build/aion-venv/bin/python"]
env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="2")


def side(py, which, snap, mode, extra=()):
    cmd = [py, os.path.join(HERE, "side.py"), "--side", which, snap, "--mode", mode, "--objects", str(a.objects), "--batch", str(a.batch), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


results = []
for size in a.sizes.split(","):
    dtype = "bfloat16" if size == "xlarge" else "float32"
    snap = os.path.join(a.dir, f"{size}-{dtype}")
    if not os.path.isfile(os.path.join(snap, "model.safetensors")):
        subprocess.run([aion_pys[0], os.path.join(HERE, "make_snapshot.py"), size, snap, "--dtype", dtype], check=True, env=env)
    row = {"size": size, "weights": dtype, "astrofm": {}, "aion": []}
    row["astrofm"]["load"] = side(a.astrofm_python, "astrofm", snap, "load")
    row["astrofm"]["speed"] = side(a.astrofm_python, "astrofm", snap, "speed", ["--save", "/tmp/astrofm-side.npz"])
    for py in aion_pys:
        for bf16 in ([False, True] if dtype == "float32" else [True]):
            extra = ["--bf16"] if bf16 else []
            r = {"python": py, "bf16": bf16, "load": side(py, "aion", snap, "load", extra),
                 "speed": side(py, "aion", snap, "speed", extra + ["--save", "/tmp/aion-side.npz"])}
            if os.path.isfile("/tmp/astrofm-side.npz") and os.path.isfile("/tmp/aion-side.npz") and "error" not in r["speed"]:
                m, o = np.load("/tmp/astrofm-side.npz"), np.load("/tmp/aion-side.npz")
                r["max_rel_diff_embedding"] = float(np.abs(m["embedding"] - o["embedding"]).max() / np.abs(o["embedding"]).max())
                r["max_abs_diff_pz"] = float(np.abs(m["pz"] - o["pz"]).max())
                os.remove("/tmp/aion-side.npz")
            row["aion"].append(r)
    results.append(row)
    print(json.dumps(row), file=sys.stderr)

print("| size (weights) | | load s | first embedding s | peak RSS GB | embed obj/s | generate Z obj/s | max rel. diff of embeddings | max abs diff of P(z) |")
print("|---|---|---|---|---|---|---|---|---|")
for row in results:
    m = row["astrofm"]
    print(f"| {row['size']} ({row['weights']}) | astrofm | {m['load'].get('load_s')} | {m['load'].get('first_embedding_s')} | "
          f"{m['load'].get('peak_rss_gb')} | {m['speed'].get('embed_obj_per_s')} | {m['speed'].get('generate_z_obj_per_s')} | | |")
    for r in row["aion"]:
        name = r["load"].get("version") or r["speed"].get("version") or r["python"]
        er = r["load"].get("error") or r["speed"].get("error")
        if er:
            print(f"| | {name} | error: {er[:80]} | | | | | | |")
            continue
        ratio = lambda k: f" (astrofm {m['speed'][k] / r['speed'][k]:.2f}x)" if m["speed"].get(k) and r["speed"].get(k) else ""
        print(f"| | {name} | {r['load']['load_s']} | {r['load']['first_embedding_s']} | {r['load']['peak_rss_gb']} | "
              f"{r['speed']['embed_obj_per_s']}{ratio('embed_obj_per_s')} | {r['speed']['generate_z_obj_per_s']}{ratio('generate_z_obj_per_s')} | "
              f"{r.get('max_rel_diff_embedding', float('nan')):.1e} | {r.get('max_abs_diff_pz', float('nan')):.1e} |")
if a.json:
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
