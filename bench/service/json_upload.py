"""POST /v1/embeddings with images as JSON numbers: latency and the server's
peak resident memory.

    python3 bench/service/json_upload.py build/tools/astrofm/astrofm [N] [SIDE] [ROUNDS]

N images of 3 x SIDE x SIDE random flux values (default 64 x 3 x 64 x 64,
786,432 numbers, about 8 MB of JSON) to galaxy-cnn-ssl. Prints JSON."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

A = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 64
SIDE = int(sys.argv[3]) if len(sys.argv) > 3 else 64
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 10
tmp = Path(tempfile.mkdtemp())
port_file = tmp / "port"
p = subprocess.Popen([A, "-q", "serve", "--port", "0", "--port-file", str(port_file), "--quiet-log", "--model", "galaxy-cnn-ssl",
                      "--max-body", str(512 << 20)], env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
for _ in range(600):
    if port_file.exists() and port_file.read_text().strip():
        break
    time.sleep(0.1)
url = f"http://127.0.0.1:{port_file.read_text().strip()}/v1/embeddings"
x = np.random.default_rng(0).normal(0, 0.05, (N, 3, SIDE, SIDE)).astype(np.float32)
body = json.dumps({"model": "galaxy-cnn-ssl", "images": x.tolist(), "bands": ["DES-G", "DES-R", "DES-Z"]}).encode()


def post():
    t = time.perf_counter()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    out = json.load(urllib.request.urlopen(req, timeout=300))
    assert len(out["embeddings"]) == N
    return (time.perf_counter() - t) * 1e3


def hwm_mb():
    for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


base = hwm_mb()
times = [post() for _ in range(ROUNDS)]
peak = hwm_mb()
p.terminate()
p.wait()
print(json.dumps({"images": N, "side": SIDE, "json_mb": round(len(body) / 1e6, 1), "ms_median": round(statistics.median(times), 1),
                  "ms_min": round(min(times), 1), "server_peak_rss_mb": round(peak, 1), "server_rss_before_mb": round(base, 1)}))
