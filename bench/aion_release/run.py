"""Released-size AION-1 against AION's own package, side by side in one run:
load time, time to the first embedding, peak memory, and embedding and
one-token generation throughput, at equal outputs (a stated tolerance).

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/aion_release/run.py [--sizes base,large,xlarge] [--aion-python PY ...] [--aion-malloc-tuned]

Snapshots in the release layout with random weights are made first
(make_snapshot.py: float32 for base and large, bfloat16 for xlarge, whose
float32 copy would be 12 GB). Each measurement is its own process, one at a
time (two torch processes on two cores slow each other far more than twice).
Both sides run in float32 and in bfloat16 (astrofm: bfloat16 weights; AION:
its bfloat16 autocast, its best CPU setting on AVX512-BF16/AMX). Outputs are
compared against astrofm's float32 (AION's own float32 where astrofm's is not
run). Markdown table on stdout, JSON with --json.
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
ap.add_argument("--aion-python", action="append", default=[], help="Python(s) with polymathic-aion; default build/aion-venv/bin/python")
ap.add_argument("--astrofm-python", default="/usr/bin/python3")
ap.add_argument("--dir", default="/tmp/astrofm-aion-release")
ap.add_argument("--objects", default="base=64,large=32,xlarge=8")
ap.add_argument("--batch", default="base=16,large=16,xlarge=8")
ap.add_argument("--json", default="")
ap.add_argument("--aion-malloc-tuned", action="store_true",
                help="one more AION bfloat16 run with glibc's malloc keeping freed memory (GLIBC_TUNABLES: no mmap, no trim), "
                     "the page-fault saving astrofm's scratch buffers make inside; PyTorch's CPU tuning guide suggests a caching allocator")
a = ap.parse_args()
aion_pys = a.aion_python or ["build/aion-venv/bin/python"]
per = lambda spec: dict(kv.split("=") for kv in spec.split(","))
objects, batch = per(a.objects), per(a.batch)
env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="2")


TUNED = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295"


def side(py, which, snap, mode, size, bf16, save="", tuned=False):
    cmd = [py, os.path.join(HERE, "side.py"), "--side", which, snap, "--mode", mode, "--objects", objects[size], "--batch", batch[size]]
    cmd += (["--bf16"] if bf16 else []) + (["--save", save] if save else [])
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(env, GLIBC_TUNABLES=TUNED) if tuned else env)
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if tuned:
        out["version"] = out.get("version", which) + ", malloc keeping freed memory"
    return out


rows = []
for size in a.sizes.split(","):
    dtype = "bfloat16" if size == "xlarge" else "float32"
    snap = os.path.join(a.dir, f"{size}-{dtype}")
    if not os.path.isfile(os.path.join(snap, "model.safetensors")):
        subprocess.run([aion_pys[0], os.path.join(HERE, "make_snapshot.py"), size, snap, "--dtype", dtype], check=True, env=env)
    runs = [("astrofm", a.astrofm_python, bf16, False) for bf16 in ([False, True] if size != "xlarge" else [True])]
    runs += [("aion", py, bf16, False) for py in aion_pys for bf16 in ([False, True] if size != "xlarge" else [True])]
    runs += [("aion", py, True, True) for py in aion_pys if a.aion_malloc_tuned]
    ref = None
    for which, py, bf16, tuned in runs:
        save = f"/tmp/aion-release-{which}-{bf16}.npz"
        r = {"size": size, "weights": dtype, "side": which, "bf16": bf16, "malloc_tuned": tuned,
             "load": side(py, which, snap, "load", size, bf16, tuned=tuned), "speed": side(py, which, snap, "speed", size, bf16, save, tuned)}
        if os.path.isfile(save) and "error" not in r["speed"]:
            out = np.load(save)
            if ref is None and not bf16:
                ref = {k: out[k] for k in out}
            if ref is not None:
                r["rel_diff_embedding"] = float(np.abs(out["embedding"] - ref["embedding"]).max() / np.abs(ref["embedding"]).max())
                r["abs_diff_pz"] = float(np.abs(out["pz"] - ref["pz"]).max())
            os.remove(save)
        rows.append(r)
        print(json.dumps(r), file=sys.stderr)

print("| size (stored) | run | load s | first embedding s | peak RSS GB | embed obj/s | generate Z obj/s | max rel. diff of embeddings | max abs diff of P(z) |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    v = r["speed"].get("version") or r["load"].get("version") or r["side"]
    er = r["load"].get("error") or r["speed"].get("error")
    if er:
        print(f"| {r['size']} ({r['weights']}) | {v} | error: {er[:90]} | | | | | | |")
        continue
    d = lambda k: f"{r[k]:.1e}" if k in r else ""
    print(f"| {r['size']} ({r['weights']}) | {v} | {r['load']['load_s']} | {r['load']['first_embedding_s']} | {r['load']['peak_rss_gb']} | "
          f"{r['speed']['embed_obj_per_s']} | {r['speed']['generate_z_obj_per_s']} | {d('rel_diff_embedding')} | {d('abs_diff_pz')} |")
if a.json:
    with open(a.json, "w") as f:
        json.dump(rows, f, indent=1)
