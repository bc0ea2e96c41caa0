"""HATS interoperability, with independent tools on both sides (CTest HATS.Interop).

Catalogues written by hats-import and by LSDB are read by astrofm; catalogues
astrofm writes are read by LSDB and by pyarrow; values are compared object for
object against the v1 HDF5 data they came from (read with h5py).

Run: build/hats-venv/bin/python tests/hats/interop.py BUILD_DIR
"""
import glob
import shutil
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

BUILD = os.path.abspath(sys.argv[1])
ASTROFM = os.path.join(BUILD, "tools", "astrofm", "astrofm")
ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1")


def run(*args, ok=True):
    p = subprocess.run([ASTROFM, *map(str, args)], capture_output=True, text=True, env=ENV)
    if ok and p.returncode != 0:
        raise AssertionError(f"astrofm {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
    return p


def h5_objects(root):
    """{column: {object_id: value}} of a v1 HDF5 dataset, with h5py."""
    out = {}
    files = sorted(glob.glob(os.path.join(root, "**", "healpix=*", "*.hdf5"), recursive=True))
    assert files, f"no HDF5 partitions under {root}"
    for f in files:
        with h5py.File(f, "r") as h:
            ids = [x.decode() for x in h["object_id"][:]]
            for k in h.keys():
                vals = h[k][:]
                col = out.setdefault(k, {})
                for i, v in zip(ids, vals):
                    col[i] = v.decode() if isinstance(v, bytes) else v
    return out


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return np.array_equal(a.astype(np.float64), b.astype(np.float64), equal_nan=True)
    return np.array_equal(a, b)


def assert_same_objects(want, got, columns, what):
    for c in columns:
        assert set(want[c]) == set(got[c]), f"{what}: column {c}: object ids differ"
        for i in want[c]:
            assert same(want[c][i], got[c][i]), f"{what}: column {c} object {i}: {want[c][i]!r} != {got[c][i]!r}"
    print(f"ok: {what}: {len(columns)} columns x {len(want[columns[0]])} objects equal")


def simulate(tmp, n=240):
    src = os.path.join(tmp, "sim")
    run("simulate", "--objects", n, "--out", src, "--image-size", 64, "--spectrum-step", 4, "--region", 10, 40, -10, 20,
        "--compression", "gzip", "--threads", 1)
    return src


def mmu_v15_table(v1):
    """The objects of a v1 dataset as the MMU v1.5 HATS catalogues hold them:
    image and spectrum structs, scalars as columns (what UniverseTBD's
    mmu-hdf-to-hats converter builds)."""
    ids = sorted(v1["object_id"])
    cols = {"object_id": pa.array(ids), "ra": pa.array([float(v1["ra"][i]) for i in ids]),
            "dec": pa.array([float(v1["dec"][i]) for i in ids]), "Z": pa.array([float(v1["Z"][i]) for i in ids])}
    img = {"band": pa.array([[b.decode() if isinstance(b, bytes) else b for b in v1["image_band"][i]] for i in ids]),
           "flux": pa.array([v1["image_array"][i].tolist() for i in ids], type=pa.list_(pa.list_(pa.list_(pa.float32())))),
           "ivar": pa.array([v1["image_ivar"][i].tolist() for i in ids], type=pa.list_(pa.list_(pa.list_(pa.float32())))),
           "mask": pa.array([v1["image_mask"][i].tolist() for i in ids], type=pa.list_(pa.list_(pa.list_(pa.bool_())))),
           "psf_fwhm": pa.array([v1["image_psf_fwhm"][i].tolist() for i in ids], type=pa.list_(pa.float32())),
           "scale": pa.array([v1["image_scale"][i].tolist() for i in ids], type=pa.list_(pa.float32()))}
    spec = {k: pa.array([v1["spectrum_" + k][i].tolist() for i in ids], type=pa.list_(pa.float32())) for k in ("flux", "ivar", "lambda")}
    spec["mask"] = pa.array([v1["spectrum_mask"][i].tolist() for i in ids], type=pa.list_(pa.bool_()))
    cols["image"] = pa.StructArray.from_arrays(list(img.values()), list(img.keys()))
    cols["spectrum"] = pa.StructArray.from_arrays(list(spec.values()), list(spec.keys()))
    return pa.table(cols)


def test_hats_import_catalogue(tmp, src, v1):
    """hats-import (its own pipeline on a Dask client) writes an MMU v1.5-style
    catalogue over several orders; astrofm reads it as the v1 data."""
    from dask.distributed import Client
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client

    inp = os.path.join(tmp, "v15.parquet")
    pq.write_table(mmu_v15_table(v1), inp)
    args = ImportArguments(output_artifact_name="mmu_sim", output_path=os.path.join(tmp, "imported"), input_file_list=[inp],
                           file_reader="parquet", ra_column="ra", dec_column="dec", sort_columns="object_id",
                           lowest_healpix_order=1, highest_healpix_order=7, pixel_threshold=40,
                           tmp_dir=os.path.join(tmp, "imp_tmp"), progress_bar=False)
    with Client(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as client:
        pipeline_with_client(args, client)
    cat = os.path.join(tmp, "imported", "mmu_sim")
    info = json.loads(run("info", cat, "--json").stdout)
    orders = sorted({p["order"] for p in info["partitions"]})
    assert info["objects"] == len(v1["object_id"]) and info["format"] == "hats", info
    assert len(orders) > 1, f"hats-import used one order only ({orders}); the test wants several"
    names = {c["name"]: c for c in info["columns"]}
    assert names["image_array"]["shape"] == [3, 64, 64] and names["spectrum_flux"]["dtype"] == "float32", names
    print(f"ok: astrofm info on hats-import's catalogue: {len(info['partitions'])} partitions at orders {orders}")
    p = run("validate", cat, ok=False)
    out = p.stdout
    assert p.returncode == 0, out[-3000:]
    assert "valid" in out, out
    print("ok: astrofm validate: hats-import's _healpix_29 agrees with astrofm's for every object")
    back = os.path.join(tmp, "imported_v1")
    run("copy", cat, "--out", back, "--out-format", "hdf5")
    got = h5_objects(back)
    assert_same_objects(v1, got, ["ra", "dec", "Z", "image_array", "image_ivar", "image_psf_fwhm", "image_band", "image_mask", "image_scale", "spectrum_flux",
                                  "spectrum_lambda", "spectrum_mask"], "hats-import catalogue read by astrofm")
    # The folder-per-partition variant (hats_npix_suffix=/: Npix=P/ holds the files).
    args = ImportArguments(output_artifact_name="mmu_sim_dirs", output_path=os.path.join(tmp, "imported"), input_file_list=[inp],
                           file_reader="parquet", ra_column="ra", dec_column="dec", sort_columns="object_id", npix_suffix="/",
                           lowest_healpix_order=1, highest_healpix_order=7, pixel_threshold=40,
                           tmp_dir=os.path.join(tmp, "imp_tmp_dirs"), progress_bar=False)
    with Client(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as client:
        pipeline_with_client(args, client)
    dirs = os.path.join(tmp, "imported", "mmu_sim_dirs")
    assert glob.glob(os.path.join(dirs, "dataset", "Norder=*", "Dir=*", "Npix=*", "*.parquet")), "hats-import wrote no Npix=P/ folders"
    back = os.path.join(tmp, "imported_dirs_v1")
    run("copy", dirs, "--out", back, "--out-format", "hdf5")
    assert_same_objects(v1, h5_objects(back), ["ra", "Z", "image_array", "spectrum_flux"], "hats-import catalogue with Npix=P/ folders")
    return cat


def test_lsdb_collection(tmp, v1):
    """LSDB's own writer: a collection with a margin catalogue; astrofm opens its primary."""
    import lsdb
    ids = sorted(v1["object_id"])
    df = pd.DataFrame({"object_id": ids, "ra": [v1["ra"][i] for i in ids], "dec": [v1["dec"][i] for i in ids],
                       "FLUX_R": [v1["FLUX_R"][i] for i in ids], "objid": np.arange(len(ids), dtype=np.int64)})
    cat = lsdb.from_dataframe(df, catalog_name="lsdb_sim", ra_column="ra", dec_column="dec", lowest_order=0, highest_order=6,
                              partition_rows=60)
    out = os.path.join(tmp, "lsdb_collection")
    cat.to_hats(out)
    assert os.path.exists(os.path.join(out, "collection.properties"))
    info = json.loads(run("info", out, "--json").stdout)
    assert info["objects"] == len(ids), info
    back = os.path.join(tmp, "lsdb_v1")
    run("copy", out, "--out", back, "--out-format", "hdf5")
    assert_same_objects(v1, h5_objects(back), ["ra", "dec", "FLUX_R"], "LSDB collection read by astrofm")


def test_astrofm_writes(tmp, src, v1):
    """astrofm's catalogues opened by LSDB and pyarrow; an LSDB crossmatch and
    join with the source give each object its row."""
    import lsdb
    hats_src = os.path.join(tmp, "sim.hats")
    run("copy", src, "--out", hats_src)
    emb_h = os.path.join(tmp, "emb_v1")
    emb = os.path.join(tmp, "emb.hats")
    run("embed", "--model", "galaxy-cnn-ssl", "--data", src, "--out", emb_h)
    run("embed", "--model", "galaxy-cnn-ssl", "--data", hats_src, "--out", emb, "--out-format", "hats")
    want = h5_objects(emb_h)

    # pyarrow: every leaf, the image struct and the embedding lists.
    t = pq.read_table(os.path.join(hats_src, "dataset"))
    ids = t.column("object_id").to_pylist()
    flux = t.column("image").combine_chunks().field("flux").to_pylist()
    for i, f in zip(ids, flux):
        assert same(np.asarray(f, dtype=np.float32), v1["image_array"][i]), i
    print(f"ok: pyarrow reads astrofm's catalogue: {len(ids)} images equal to the HDF5 source")
    h29 = t.column("_healpix_29").to_numpy()
    import cdshealpix
    from astropy.coordinates import Latitude, Longitude
    import astropy.units as u
    ra = t.column("ra").to_numpy()
    dec = t.column("dec").to_numpy()
    ref = cdshealpix.lonlat_to_healpix(Longitude(ra * u.deg), Latitude(dec * u.deg), 29).astype(np.int64)
    assert np.array_equal(h29, ref), "astrofm's _healpix_29 differs from cdshealpix's (what hats uses)"
    print("ok: astrofm's _healpix_29 equals cdshealpix.lonlat_to_healpix(..., 29) for every object")

    src_cat = lsdb.open_catalog(hats_src)
    emb_cat = lsdb.open_catalog(emb)
    assert src_cat.get_healpix_pixels() == emb_cat.get_healpix_pixels(), "embeddings are not partitioned like their source"
    e = emb_cat.compute()
    assert len(e) == len(want["object_id"])
    for oid, v in zip(e["object_id"], e["embedding_image"]):
        assert same(np.asarray(v, dtype=np.float32), want["embedding_image"][oid]), oid
    print(f"ok: LSDB opens astrofm's embedding catalogue: {len(e)} embeddings equal to the HDF5 run's")
    joined = src_cat.join(emb_cat, left_on="object_id", right_on="object_id", suffixes=("", "_emb")).compute()
    assert len(joined) == len(e) and (joined["object_id"] == joined["object_id_emb"]).all()
    xm = src_cat.crossmatch(emb_cat, radius_arcsec=0.01, n_neighbors=1, suffixes=("", "_emb")).compute()
    assert len(xm) == len(e) and (xm["object_id"] == xm["object_id_emb"]).all(), "crossmatch paired other objects"
    print(f"ok: LSDB join and crossmatch of source and embeddings: {len(xm)} objects, each with its own row")
    # Probe predictions as a catalogue LSDB opens, one row per test object.
    truth = os.path.join(tmp, "emb_truth.hats")
    preds = os.path.join(tmp, "preds.hats")
    run("xmatch", emb, hats_src, "--radius", 0.5, "--config", "truth", "--out", truth, "--out-format", "hats")
    run("probe", "knn", "--train", truth, "--features", "embedding_image", "--target", "Z", "--out", preds, "--out-format", "hats")
    p = lsdb.open_catalog(preds).compute()
    assert len(p) > 0 and set(p["object_id"]) <= set(e["object_id"]) and p["predicted"].notna().all(), p.head()
    assert np.allclose(p["true"].to_numpy(dtype=float), [float(v1["Z"][i]) for i in p["object_id"]])
    print(f"ok: probe predictions as HATS: LSDB opens {len(p)} test objects, true Z equal to the source's")
    # and back to v1, losslessly
    back = os.path.join(tmp, "sim_back")
    run("copy", hats_src, "--out", back, "--out-format", "hdf5")
    got = h5_objects(back)
    assert_same_objects(v1, got, sorted(c for c in v1 if c != "healpix"), "v1 -> HATS -> v1")
    return hats_src


def test_bad_catalogues(tmp, hats_src):
    """Damaged catalogues: one error naming the file (and column), exit 1."""
    def broken(name, damage, at_open=True):
        """at_open: `info` already fails (else only reading every row finds it)."""
        d = os.path.join(tmp, "bad_" + name)
        shutil.copytree(hats_src, d)
        damage(d)
        p = run("info", d, ok=False)
        q = run("copy", d, "--out", d + ".out", ok=False)
        assert q.returncode == 1 and (p.returncode == 1 or not at_open), (name, p.returncode, q.returncode, p.stderr)
        assert not os.path.exists(d + ".out") and not os.path.exists(d + ".out.partial"), f"{name}: output left behind"
        return q.stderr.strip().splitlines()[-1]
    leaves = sorted(glob.glob(os.path.join(hats_src, "dataset", "Norder=*", "Dir=*", "*.parquet")))
    rel = os.path.relpath(leaves[0], hats_src)

    def nrows(d):
        p = os.path.join(d, "hats.properties")
        s = open(p).read().replace("hats_nrows=", "hats_nrows=9")
        open(p, "w").write(s)
    msg = broken("nrows", nrows)
    assert "hats_nrows" in msg and "hats.properties" in msg, msg
    msg = broken("missing_leaf", lambda d: os.remove(os.path.join(d, rel)))
    assert "missing" in msg and os.path.basename(rel) in msg, msg

    def truncate(d):
        f = os.path.join(d, rel)
        data = open(f, "rb").read()
        open(f, "wb").write(data[: len(data) // 2])
    msg = broken("truncated", truncate)
    assert os.path.basename(rel) in msg, msg

    def rewrite(d, change):
        f = os.path.join(d, rel)
        t = pq.read_table(f)
        pq.write_table(change(t), f)

    def ragged(t):
        img = t.column("image").combine_chunks()
        flux = img.field("flux").to_pylist()
        flux[-1] = flux[-1][:2]  # two bands where the others have three
        fields = [pa.array(flux, type=img.type.field("flux").type) if img.type.field(i).name == "flux" else img.field(i)
                  for i in range(img.type.num_fields)]
        new = pa.StructArray.from_arrays(fields, [img.type.field(i).name for i in range(img.type.num_fields)])
        return t.set_column(t.schema.get_field_index("image"), "image", new)
    msg = broken("ragged", lambda d: rewrite(d, ragged), at_open=False)
    assert "image_array" in msg and os.path.basename(rel) in msg, msg

    def ra_as_text(t):
        i = t.schema.get_field_index("ra")
        return t.set_column(i, "ra", pa.array([str(x) for x in t.column("ra").to_pylist()]))

    def ra_everywhere(d):
        for leaf in glob.glob(os.path.join(d, "dataset", "Norder=*", "Dir=*", "*.parquet")) + [os.path.join(d, "dataset", "_common_metadata")]:
            if leaf.endswith(".parquet"):
                pq.write_table(ra_as_text(pq.read_table(leaf)), leaf)
    msg = broken("ra_text", ra_everywhere)
    assert "'ra'" in msg and "float" in msg, msg

    # _healpix_29 that disagrees with ra/dec: validate names the file, the column and the row.
    d = os.path.join(tmp, "bad_h29")
    shutil.copytree(hats_src, d)

    def shift(t):
        h = t.column("_healpix_29").to_numpy().copy()
        h[0] += 1 << 20
        return t.set_column(0, "_healpix_29", pa.array(h))
    rewrite(d, shift)
    p = run("validate", d, ok=False)
    assert p.returncode == 1 and "_healpix_29" in p.stdout and os.path.basename(rel) in p.stdout, p.stdout + p.stderr
    print("ok: bad catalogues: hats_nrows, missing leaf, truncated leaf, ragged image, text ra -> exit 1 naming file and column,"
          " nothing written; a wrong _healpix_29 -> validate names it")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        src = simulate(tmp)
        v1 = h5_objects(src)
        test_hats_import_catalogue(tmp, src, v1)
        test_lsdb_collection(tmp, v1)
        hats_src = test_astrofm_writes(tmp, src, v1)
        test_bad_catalogues(tmp, hats_src)
    print("HATS interop: all passed")


if __name__ == "__main__":
    main()
