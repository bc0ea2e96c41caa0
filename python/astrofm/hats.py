"""astrofm on HATS catalogues with LSDB and Dask: embed every partition of a
catalogue on a dask.distributed cluster and write a HATS catalogue.

    from dask.distributed import Client
    import astrofm.hats
    with Client(n_workers=2, threads_per_worker=1):
        astrofm.hats.embed("mmu_hsc", "galaxy-cnn-ssl", "hsc_embeddings")

LSDB plans the work (`Catalog.map_partitions`, one task per partition) and
writes the result (`Catalog.write_catalog`); each task reads its partition's
columns with astrofm's Parquet reader and embeds them with astrofm's C++ core.
A worker builds the model once and reuses it for all its partitions. Dask
reruns the partitions of a worker that dies; the output appears only when
complete (written beside it, then renamed). The catalogue must be on a file
system the workers share (local disk, NFS, Lustre).
"""
import functools
import glob
import os
import shutil
import threading

from . import _core

_JOBS = {}
_LOADS = [0]
_LOCK = threading.Lock()  # a worker may run several tasks at once; a job runs one batch at a time


class _Embed:
    """`astrofm embed` on rows: object_id, ra, dec, embeddings, model_id."""

    def __init__(self, model, have, dtype, inputs, tokens):
        self.core = _core.CatalogueEmbedder(model, list(have), dtype, list(inputs), tokens)
        self.columns = self.core.columns

    def run(self, rows):
        return self.core.embed(rows)


class _Predict:
    """A saved probe (`astrofm probe --save`) on rows: object_id, ra, dec, predicted."""

    def __init__(self, probe):
        self.probe = _core.SavedProbe(probe)
        self.columns = ["object_id", "ra", "dec", *self.probe.feature_columns]

    def run(self, rows):
        import numpy as np

        n = len(rows["object_id"])
        x = np.concatenate([np.asarray(rows[c], dtype=np.float32).reshape(n, -1) for c in self.probe.feature_columns], axis=1)
        pred = self.probe.predict(x)
        if self.probe.classification:
            names = np.asarray(self.probe.class_names, dtype=object)
            pred = names[pred.astype(np.int64)].astype(str)
        return {"object_id": rows["object_id"], "ra": rows["ra"], "dec": rows["dec"], "predicted": pred}


class _Tokenize:
    """`astrofm tokenize` on rows: object_id, ra, dec, one tok_<modality> list column per modality."""

    def __init__(self, codecs, have, modalities):
        self.core = _core.CatalogueTokenizer(list(codecs), list(have), list(modalities))
        self.columns = self.core.columns

    def run(self, rows):
        return self.core.tokenize(rows)


_KINDS = {"embed": _Embed, "predict": _Predict, "tokenize": _Tokenize}


def _job(spec):
    """The job for `spec` = (kind, *arguments), built once per process."""
    with _LOCK:
        if spec not in _JOBS:
            _JOBS[spec] = (_KINDS[spec[0]](*spec[1:]), threading.Lock())
            _LOADS[0] += 1
        return _JOBS[spec]


def models_built():
    """How many models (or probes) this process has built: one per model on a worker."""
    return _LOADS[0]


def _leaf_files(root, order, pixel):
    base = os.path.join(root, "dataset", f"Norder={order}", f"Dir={pixel // 10000 * 10000}", f"Npix={pixel}")
    if os.path.isfile(base + ".parquet"):
        return [base + ".parquet"]
    files = sorted(glob.glob(os.path.join(base, "*.parquet")))
    if not files:
        raise FileNotFoundError(f"{base}.parquet: partition Norder={order} Npix={pixel} has no file")
    return files


def _to_frame(rows, index, embedding_columns):
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    arrays, names = [], []
    for name, v in rows.items():
        v = np.asarray(v)
        if v.ndim > 1:  # per-object arrays: Arrow lists, as LSDB stores them
            flat = pa.array(v.reshape(len(v), -1).ravel())
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, int(np.prod(v.shape[1:]))).cast(pa.list_(flat.type)))
        else:
            arrays.append(pa.array(v if v.dtype.kind != "U" else v.astype(object)))
        names.append(name)
    frame = pa.table(arrays, names=names).to_pandas(types_mapper=pd.ArrowDtype)
    frame.index = index
    return frame


def _map_partition(df, pixel, root, spec, batch, meta=None):
    job, lock = _job(spec)
    import numpy as np

    wanted = df["object_id"].astype(str).to_numpy()
    if len(wanted) == 0:
        return meta.set_axis(df.index[:0])
    wanted_set = set(wanted)
    got = {}
    for f in _leaf_files(root, pixel.order, pixel.pixel):
        ds = _core.Dataset(f)
        for b in ds.batches(job.columns, batch):
            keep = np.fromiter((str(o) in wanted_set for o in b["object_id"]), bool, len(b["object_id"]))
            if not keep.any():
                continue
            with lock:
                out = job.run({k: v[keep] for k, v in b.items()})
            for k, v in out.items():
                got.setdefault(k, []).append(v)
    if not got:
        raise KeyError(f"{root}: partition {pixel}: none of its {len(wanted)} objects is in its files")
    rows = {k: np.concatenate(v) for k, v in got.items()}
    # The catalogue's rows, in its order (a filtered catalogue embeds only what it kept).
    where = {oid: i for i, oid in enumerate(rows["object_id"].astype(str))}
    missing = [o for o in wanted if o not in where]
    if missing:
        raise KeyError(f"{root}: partition {pixel}: objects {missing[:3]} not in its files")
    order = np.array([where[o] for o in wanted])
    return _to_frame({k: v[order] for k, v in rows.items()}, df.index, None)


def map_catalog(catalog, spec, out, *, batch=64, overwrite=False):
    """Runs the job `spec` (("embed", model, columns, dtype, inputs, tokens),
    ("tokenize", codecs, columns, modalities) or ("predict", probe_file)) on every partition of a HATS catalogue (a
    path, or an LSDB catalogue opened from one, possibly filtered) on the
    current Dask client; writes a HATS catalogue at `out`, partitioned like
    the input, and returns `out`."""
    import lsdb
    import pandas as pd

    if isinstance(catalog, (str, os.PathLike)):
        cat = lsdb.open_catalog(str(catalog), columns=["object_id", "ra", "dec"])
        root = _core.Dataset(str(catalog)).path  # a collection's primary catalogue
    else:
        cat = catalog
        root = str(cat.hc_structure.catalog_path)
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True to replace it)")
    job, _ = _job(spec)
    # One object's output fixes the result's columns and types (LSDB's meta).
    sample = job.run(next(iter(_core.Dataset(root).batches(job.columns, 1))))
    meta = _to_frame(sample, pd.Index([0], name="_healpix_29"), None).iloc[:0]
    work = functools.partial(_map_partition, meta=meta)
    result = cat.map_partitions(work, root, spec, batch, include_pixel=True, meta=meta)
    partial = str(out) + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    name = os.path.basename(os.path.normpath(str(out)))
    result.write_catalog(partial, catalog_name=name, as_collection=False)
    old = str(out) + ".old"
    if os.path.exists(out):  # moved aside, never half-deleted in place
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
    os.replace(partial, out)
    shutil.rmtree(old, ignore_errors=True)
    return str(out)


def embed(catalog, model, out, *, dtype="float32", inputs=(), tokens=False, batch=64, overwrite=False):
    """Embeds every object of a HATS catalogue with `model` (`astrofm embed`
    per partition, the model built once per worker); see map_catalog."""
    root = catalog if isinstance(catalog, (str, os.PathLike)) else str(catalog.hc_structure.catalog_path)
    have = tuple(_core.Dataset(str(root)).columns)
    return map_catalog(catalog, ("embed", model, have, dtype, tuple(inputs), tokens), out, batch=batch, overwrite=overwrite)


def tokenize(catalog, codecs, out, *, modalities=(), batch=64, overwrite=False):
    """AION tokens of every modality the codecs (files or shipped names) cover,
    one nested list column per modality (`astrofm tokenize` per partition);
    see map_catalog."""
    root = catalog if isinstance(catalog, (str, os.PathLike)) else str(catalog.hc_structure.catalog_path)
    have = tuple(_core.Dataset(str(root)).columns)
    codecs = tuple(codecs) if not isinstance(codecs, str) else (codecs,)
    return map_catalog(catalog, ("tokenize", codecs, have, tuple(modalities)), out, batch=batch, overwrite=overwrite)


def predict(catalog, probe, out, *, batch=4096, overwrite=False):
    """Applies a saved probe (`astrofm probe ... --save`) to every object of a
    HATS catalogue holding its feature columns (e.g. astrofm's embeddings);
    see map_catalog."""
    return map_catalog(catalog, ("predict", os.path.abspath(probe)), out, batch=batch, overwrite=overwrite)
