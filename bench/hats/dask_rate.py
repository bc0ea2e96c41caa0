"""Objects per second per Dask worker for astrofm.hats.embed, against one
`astrofm embed` process on the same HATS catalogue (single-threaded workers).

    PYTHONPATH=build build/hats-venv/bin/python bench/hats/dask_rate.py CATALOGUE ASTROFM_BIN [workers...]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
os.environ.update(OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", TQDM_DISABLE="1")

import astrofm  # noqa: E402
import astrofm.hats  # noqa: E402
from dask.distributed import Client, LocalCluster  # noqa: E402


def main():
    cat, astrofm_bin = sys.argv[1], sys.argv[2]
    workers = [int(w) for w in sys.argv[3:]] or [1, 2]
    n = astrofm.open_dataset(cat).rows
    tmp = tempfile.mkdtemp()
    res = {"objects": n}
    t = time.perf_counter()
    subprocess.run([astrofm_bin, "-q", "embed", "--model", "galaxy-cnn-ssl", "--data", cat, "--out", f"{tmp}/cli", "--out-format", "hats"],
                   check=True)
    res["cli_one_process_objects_per_s"] = n / (time.perf_counter() - t)
    for w in workers:
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None) as cl, Client(cl):
            astrofm.hats.embed(cat, "galaxy-cnn-ssl", f"{tmp}/warm{w}")  # workers start and build the model
            t = time.perf_counter()
            astrofm.hats.embed(cat, "galaxy-cnn-ssl", f"{tmp}/d{w}")
            dt = time.perf_counter() - t
        res[f"dask_{w}_workers_objects_per_s"] = n / dt
        res[f"dask_{w}_workers_per_worker"] = n / dt / w
        print(f"{w} worker(s): {n / dt:.0f} objects/s, {n / dt / w:.0f} per worker")
    print(f"one astrofm embed process: {res['cli_one_process_objects_per_s']:.0f} objects/s")
    shutil.rmtree(tmp)
    json.dump(res, open(os.path.join(os.path.dirname(__file__), "dask_results.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
