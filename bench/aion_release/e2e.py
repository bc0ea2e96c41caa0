"""End to end on a catalogue: raw Legacy Survey columns of N objects to AION
embeddings, `astrofm embed --model SNAPSHOT --data CATALOGUE` against the
script an AION user writes (its codecs, then model.encode, mean pooling),
each a fresh process with its own loading, in one run.

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/aion_release/e2e.py SNAPSHOT --aion-python PY [--objects 1000]

The snapshot gets scalar codecs (FLUX_G/R/I/Z log, EBV linear) written by AION's
own save_pretrained when it has none. AION 0.0.2's codec from_pretrained cannot
read a local folder (huggingface_hub looks for "codecs/<name>/config.json" in
os.listdir of the root), so its side builds each codec from its config.json
and model.safetensors, as from_pretrained does from the hub.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("snapshot")
ap.add_argument("--aion-python", required=True)
ap.add_argument("--astrofm", default="build/tools/astrofm/astrofm")
ap.add_argument("--objects", type=int, default=1000)
ap.add_argument("--bf16", action="store_true")
a = ap.parse_args()
COLS = ["FLUX_G", "FLUX_R", "FLUX_I", "FLUX_Z", "EBV"]
env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="2")

MAKE = r'''
import sys, types, numpy as np, torch
if not hasattr(torch, "compiler"):
    torch.compiler = types.SimpleNamespace(disable=lambda fn=None, recursive=True: fn if fn else (lambda f: f))
from aion.codecs import LogScalarCodec, ScalarCodec
from aion.modalities import LegacySurveyFluxG, LegacySurveyFluxR, LegacySurveyFluxI, LegacySurveyFluxZ, LegacySurveyEBV
r = np.random.default_rng(0)
for name, cls in [("FLUX_G", LegacySurveyFluxG), ("FLUX_R", LegacySurveyFluxR), ("FLUX_I", LegacySurveyFluxI), ("FLUX_Z", LegacySurveyFluxZ)]:
    c = LogScalarCodec(name, 1024, 100000); c.quantizer._update_reservoirs(torch.tensor(r.lognormal(1, 1.5, 100000), dtype=torch.float32))
    c.save_pretrained(sys.argv[1], modality=cls)
c = ScalarCodec("EBV", 1024, 100000); c.quantizer._update_reservoirs(torch.tensor(r.gamma(2, 0.02, 100000), dtype=torch.float32))
c.save_pretrained(sys.argv[1], modality=LegacySurveyEBV)
'''

AION = r'''
import json, os, sys, time, types, numpy as np, torch
t0 = time.perf_counter()
if not hasattr(torch, "compiler"):
    torch.compiler = types.SimpleNamespace(disable=lambda fn=None, recursive=True: fn if fn else (lambda f: f))
torch.set_num_threads(2)
from safetensors.torch import load_file
from aion import AION
from aion.codecs import LogScalarCodec, ScalarCodec
from aion.modalities import LegacySurveyFluxG, LegacySurveyFluxR, LegacySurveyFluxI, LegacySurveyFluxZ, LegacySurveyEBV
snap, csv, out, bf16 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
model = AION.from_pretrained(snap).eval()
mods = [("FLUX_G", LegacySurveyFluxG, LogScalarCodec), ("FLUX_R", LegacySurveyFluxR, LogScalarCodec), ("FLUX_I", LegacySurveyFluxI, LogScalarCodec),
        ("FLUX_Z", LegacySurveyFluxZ, LogScalarCodec), ("EBV", LegacySurveyEBV, ScalarCodec)]
codecs = {}
for name, cls, kind in mods:
    d = os.path.join(snap, "codecs", name)
    c = kind(**json.load(open(os.path.join(d, "config.json"))))
    c.load_state_dict(load_file(os.path.join(d, "model.safetensors")))
    codecs[name] = (cls, c.eval())
data = np.genfromtxt(csv, delimiter=",", names=True, dtype=None, encoding="utf-8")
embs = []
with torch.inference_mode(), (torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else torch.autocast("cpu", enabled=False)):
    for s in range(0, len(data), 64):
        rows = data[s:s + 64]
        tok = {cls.token_key: c.encode(cls(value=torch.tensor(rows[n].astype(np.float32)))) for n, (cls, c) in codecs.items()}
        embs.append(model.encode(tok, num_encoder_tokens=len(tok)).float().mean(1).numpy())
np.save(out, np.concatenate(embs))
print(json.dumps({"wall_s": time.perf_counter() - t0}))
'''

with tempfile.TemporaryDirectory() as tmp:
    if not all(os.path.isdir(os.path.join(a.snapshot, "codecs", c)) for c in COLS):
        with open(os.path.join(tmp, "make.py"), "w") as f:
            f.write(MAKE)
        subprocess.run([a.aion_python, os.path.join(tmp, "make.py"), a.snapshot], check=True, env=env)
    r = np.random.default_rng(1)
    csv = os.path.join(tmp, "cat.csv")
    with open(csv, "w") as f:
        f.write("object_id,ra,dec," + ",".join(COLS) + "\n")
        for i in range(a.objects):
            v = list(r.lognormal(1, 1.5, 4)) + [r.gamma(2, 0.02)]
            f.write(f"{i},{150 + r.random():.6f},{2 + r.random():.6f}," + ",".join(f"{x:.6g}" for x in v) + "\n")
    subprocess.run([a.astrofm, "-q", "import", "csv", csv, "--out", os.path.join(tmp, "cat")], check=True)
    with open(os.path.join(tmp, "aion_side.py"), "w") as f:
        f.write(AION)
    res = {}
    t = time.perf_counter()
    cmd = ["/usr/bin/time", "-f", "%M", a.astrofm, "-q", "embed", "--model", a.snapshot, "--data", os.path.join(tmp, "cat"), "--out",
           os.path.join(tmp, "emb"), "--batch", "64", "--inputs", ",".join("tok_" + c for c in COLS)] + (["--dtype", "bfloat16"] if a.bf16 else [])
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    res["astrofm_s"] = time.perf_counter() - t
    res["astrofm_rss_gb"] = int(p.stderr.strip().splitlines()[-1]) / 1e6 if p.returncode == 0 else None
    if p.returncode != 0:
        sys.exit(p.stderr)
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", a.aion_python, os.path.join(tmp, "aion_side.py"), a.snapshot, csv, os.path.join(tmp, "aion.npy"),
                        "1" if a.bf16 else "0"], capture_output=True, text=True, env=env)
    res["aion_s"] = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(p.stderr)
    res["aion_rss_gb"] = int(p.stderr.strip().splitlines()[-1]) / 1e6
    sys.path.insert(0, os.environ.get("ASTROFM_BUILD", "build"))
    import astrofm
    mine = astrofm._core.Dataset(os.path.join(tmp, "emb")).read()
    order = np.argsort(mine["object_id"].astype(np.int64))
    ref = np.load(os.path.join(tmp, "aion.npy"))
    res["max_rel_diff"] = float(np.abs(mine["embedding_aion"][order] - ref).max() / np.abs(ref).max())
    res["objects"] = a.objects
    res["ratio"] = res["aion_s"] / res["astrofm_s"]
    print(json.dumps(res))
