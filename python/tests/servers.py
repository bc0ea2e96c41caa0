"""Starting and stopping `astrofm serve` for the service tests, and the
simulated survey's images as the tests send them."""
import subprocess
import time

import numpy as np

import astrofm
from conftest import ASTROFM

TOKEN = "test-token-0123456789abcdef"


def start_server(tmp, *args, env=None):
    port_file = tmp / f"port-{time.monotonic_ns()}"
    p = subprocess.Popen([ASTROFM, "-q", "serve", "--port", "0", "--port-file", str(port_file), "--quiet-log", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for _ in range(600):
        if port_file.exists():
            return p, "http://127.0.0.1:" + port_file.read_text().strip()
        if p.poll() is not None:
            raise AssertionError("serve exited: " + p.stderr.read())
        time.sleep(0.05)
    p.kill()
    raise AssertionError("serve did not start")


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()


def sim_images(sim):
    t = astrofm.open_dataset(str(sim / "sim")).read()
    bands = [b.decode() if isinstance(b, bytes) else str(b) for b in t["image_band"][0]]
    ids = [i.decode() if isinstance(i, bytes) else str(i) for i in t["object_id"]]
    return ids, t["image_array"].astype(np.float32), bands, t
