"""Reading the image and spectrum columns of a HATS catalogue: astrofm's reader
against pyarrow (the fast path a user would write) and LSDB (what most users
run), and against astrofm's own HDF5 reader and h5py on the same objects; then
embedding throughput from HATS and from HDF5. One run, ratios printed and
written to bench/hats/results.json.

    bash bench/hats/run.sh [objects]
"""
import glob
import json
import os
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pyarrow.parquet as pq

import astrofm

warnings.filterwarnings("ignore")
hats_dir, v1_dir, astrofm_bin, out_json = sys.argv[1:5]
COLS = ["image_array", "spectrum_flux"]


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        times.append(time.perf_counter() - t)
    return min(times), r


def astrofm_read(path):
    d = astrofm.open_dataset(path).read(COLS)
    return d["image_array"], d["spectrum_flux"]


def pyarrow_read():
    t = pq.read_table(os.path.join(hats_dir, "dataset"), columns=["image", "spectrum"])
    img = t.column("image").combine_chunks().field("flux")
    while hasattr(img, "flatten") and img.type.num_fields:  # list levels
        img = img.flatten()
    spec = t.column("spectrum").combine_chunks().field("flux").flatten()
    n = t.num_rows
    return img.to_numpy().reshape(n, 3, 64, 64), spec.to_numpy().reshape(n, -1)


def lsdb_read():
    import lsdb
    df = lsdb.open_catalog(hats_dir, columns=["image", "spectrum"]).compute(progress_bar=False)
    img = np.stack([np.asarray(f, dtype=np.float32) for f in df["image"].nest.to_lists()["flux"]]) if hasattr(df["image"], "nest") else None
    return img, None


def h5py_read():
    imgs, specs = [], []
    for f in sorted(glob.glob(os.path.join(v1_dir, "*", "healpix=*", "*.hdf5"))):
        with h5py.File(f, "r") as h:
            imgs.append(h["image_array"][:])
            specs.append(h["spectrum_flux"][:])
    return np.concatenate(imgs), np.concatenate(specs)


res = {}
n = astrofm.open_dataset(hats_dir).rows
res["objects"] = n
t_af_hats, (a_img, a_spec) = best(lambda: astrofm_read(hats_dir))
t_pa, (p_img, p_spec) = best(pyarrow_read)
t_af_h5, (h_img, h_spec) = best(lambda: astrofm_read(v1_dir))
t_h5py, _ = best(h5py_read)
assert a_img.shape == p_img.shape and np.array_equal(np.sort(a_spec.sum(1)), np.sort(p_spec.sum(1)))
try:
    t_lsdb, _ = best(lsdb_read, 1)
except Exception as e:  # noqa: BLE001 - LSDB's nested API moves; report and go on
    t_lsdb = float("nan")
    print("LSDB read failed:", e)
mb = (a_img.nbytes + a_spec.nbytes) / 1e6
res["read_s"] = {"astrofm_hats": t_af_hats, "pyarrow": t_pa, "lsdb": t_lsdb, "astrofm_hdf5": t_af_h5, "h5py": t_h5py}
res["read_MB"] = mb
res["ratio_pyarrow_over_astrofm_hats"] = t_pa / t_af_hats
res["ratio_lsdb_over_astrofm_hats"] = t_lsdb / t_af_hats
res["ratio_astrofm_hdf5_over_astrofm_hats"] = t_af_h5 / t_af_hats


def embed_rate(data, fmt):
    out = data.rstrip("/") + ".emb"
    times = []
    for _ in range(2):
        t = time.perf_counter()
        subprocess.run([astrofm_bin, "-q", "embed", "--model", "galaxy-cnn-ssl", "--data", data, "--out", out, "--overwrite",
                        "--out-format", fmt], check=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
        times.append(time.perf_counter() - t)
    return n / min(times)


res["embed_objects_per_s"] = {"from_hats": embed_rate(hats_dir, "hats"), "from_hdf5": embed_rate(v1_dir, "hdf5")}
res["embed_ratio_hats_over_hdf5"] = res["embed_objects_per_s"]["from_hats"] / res["embed_objects_per_s"]["from_hdf5"]
for k, v in res["read_s"].items():
    print(f"read {mb:.0f} MB ({n} objects) {k:14s} {v:7.3f} s  ({mb / v:7.1f} MB/s)")
print(f"pyarrow / astrofm (HATS): {res['ratio_pyarrow_over_astrofm_hats']:.2f}x; LSDB / astrofm: {res['ratio_lsdb_over_astrofm_hats']:.2f}x;"
      f" astrofm HDF5 / HATS: {res['ratio_astrofm_hdf5_over_astrofm_hats']:.2f}x")
print(f"embed galaxy-cnn-ssl: {res['embed_objects_per_s']['from_hats']:.0f}/s from HATS, {res['embed_objects_per_s']['from_hdf5']:.0f}/s from HDF5"
      f" (ratio {res['embed_ratio_hats_over_hdf5']:.3f})")
json.dump(res, open(out_json, "w"), indent=2)
