"""Photometric redshifts with calibrated PDFs (docs/photoz.md).

    from astrofm.photoz import PhotoZ, point_estimates, write_qp
    est = PhotoZ(bands=["mag_u", "mag_g", "mag_r", "mag_i", "mag_z"],
                 errors=["magerr_u", "magerr_g", "magerr_r", "magerr_i", "magerr_z"])
    est.fit(table)                       # any mapping of column -> array (dict, pandas, astropy, numpy record)
    pdf = est.pdf(table)                 # [objects, nzbins] densities on est.grid
    write_qp("z.hdf5", est.grid, pdf, point_estimates(est.grid, pdf))   # qp.read() opens it

The estimator is the C++ core `astrofm._core.PhotoZ` (an ensemble of
mixture-density networks with PIT recalibration); this layer takes
columns by name. It pickles (RAIL keeps models as pickles).
"""
import numpy as np

from . import _core

__all__ = ["PhotoZ", "point_estimates", "write_qp", "read_qp", "to_qp", "metrics"]


def _column(table, name, where):
    try:
        col = table[name]
    except (KeyError, ValueError, IndexError):
        cols = list(table.keys()) if hasattr(table, "keys") else list(getattr(getattr(table, "dtype", None), "names", None) or [])
        raise KeyError(f"{where}: no column '{name}' (columns: {', '.join(map(str, cols[:30]))})") from None
    return np.asarray(col, dtype=np.float32)


def _stack(table, names, where):
    return np.stack([_column(table, n, where) for n in names], 1) if names else None


class PhotoZ:
    """Photo-z estimator on magnitude columns named `bands` (blue to red) and
    their `errors`; `extra` names columns of further features (an embedding
    column of shape [n, d] counts as d features). `aion` (a model file,
    shipped name or released snapshot) adds the AION encoder's mean output
    token for the bands as features: AION from magnitudes, tokenized by
    `aion_codecs` (default: the shipped scalar codecs; the band columns must
    be modalities of both). Keyword options are the C++ core's (members,
    components, hidden, epochs, zmin, zmax, nzbins, pretrain_epochs, ...)."""

    def __init__(self, bands, errors=(), extra=(), aion=None, aion_codecs=None, **options):
        self.bands, self.errors, self.extra_columns = list(bands), list(errors), list(extra)
        self.aion, self.aion_codecs = aion, aion_codecs
        self._options = options
        self._core = None
        self._aion_model = None

    @classmethod
    def _wrap(cls, core, extra_columns, aion=None, aion_codecs=None):
        self = cls.__new__(cls)
        self.bands, self.errors, self.extra_columns = list(core.bands), list(core.errors), list(extra_columns)
        self.aion, self.aion_codecs = aion, aion_codecs
        self._options, self._core, self._aion_model = {}, core, None
        return self

    def _aion_features(self, table, where):
        """Mean of AION's encoder output over the bands' tokens, [n, dim]."""
        from . import FineTunedModel, tokenize
        if self._aion_model is None:
            self._aion_model = FineTunedModel(self.aion, adaptation="MeanPooling")
        tokens = {}
        for b in self.bands:
            mags = _column(table, b, where).astype(np.float64)
            mags[~np.isfinite(mags) | (np.abs(mags) >= 90)] = np.nan  # missing: an absent token
            tokens.update(tokenize(mags, b, codecs=[self.aion_codecs] if self.aion_codecs else None))
        out = []
        for s in range(0, len(mags), 4096):
            part = {k: v[s:s + 4096] for k, v in tokens.items()}
            out.append(self._aion_model._features(part)[0])
        return np.concatenate(out, 0).astype(np.float32)

    def _extra(self, table, where):
        parts = []
        for name in self.extra_columns:
            a = _column(table, name, where)
            parts.append(a.reshape(len(a), -1))
        if self.aion:
            parts.append(self._aion_features(table, where))
        return np.concatenate(parts, 1) if parts else None

    def fit(self, table, redshift="z", progress=None):
        where = "training data"
        z = _column(table, redshift, where)
        extra = self._extra(table, where)
        if self._core is None:
            self._core = _core.PhotoZ(self.bands, self.errors, extra=0 if extra is None else extra.shape[1], **self._options)
        self._core.fit(_stack(table, self.bands, where), _stack(table, self.errors, where), z, extra, progress)
        return self

    def pdf(self, table):
        """Densities on `grid`, one row per object, each integrating to 1."""
        if self._core is None:
            raise ValueError("PhotoZ: fit() or load() first")
        where = "input"
        return self._core.pdf(_stack(table, self.bands, where), _stack(table, self.errors, where), self._extra(table, where))

    grid = property(lambda self: self._core.grid)
    info = property(lambda self: __import__("json").loads(self._core.info_json))

    def save(self, path):
        self._core.save(path)

    @classmethod
    def load(cls, path, extra=(), aion=None, aion_codecs=None):
        """A model file from save() or `astrofm photoz fit`; give the same
        extra columns and AION model it was fitted with."""
        return cls._wrap(_core.PhotoZ.load(path), extra, aion, aion_codecs)

    def __getstate__(self):
        return {"model": None if self._core is None else self._core.to_bytes(), "extra": self.extra_columns,
                "bands": self.bands, "errors": self.errors, "options": self._options,
                "aion": self.aion, "aion_codecs": self.aion_codecs}

    def __setstate__(self, s):
        self.bands, self.errors, self.extra_columns, self._options = s["bands"], s["errors"], s["extra"], s["options"]
        self.aion, self.aion_codecs, self._aion_model = s.get("aion"), s.get("aion_codecs"), None
        self._core = None if s["model"] is None else _core.PhotoZ.from_bytes(s["model"])


def point_estimates(grid, pdf):
    """zmode, zmedian and zmean of densities on a grid (trapezoid CDF, as qp),
    by the same code as `astrofm photoz predict`."""
    return _core.grid_point_estimates(grid, pdf)


def write_qp(path, grid, pdf, ancil=None):
    """An interp ensemble in qp's HDF5 layout (no qp needed to write it)."""
    _core.write_qp(str(path), "interp", grid, pdf, dict(ancil or {}))


def read_qp(path):
    """{'kind', 'x', 'y', 'ancil'} from a qp interp or hist file."""
    return _core.read_qp(str(path))


def to_qp(grid, pdf, ancil=None):
    """A qp.Ensemble (needs qp-prob installed)."""
    import qp
    ens = qp.Ensemble(qp.interp, data=dict(xvals=np.asarray(grid), yvals=np.asarray(pdf)))
    if ancil:
        ens.set_ancil({k: np.asarray(v) for k, v in ancil.items()})
    return ens


def metrics(grid, pdf, truth, point="zmode"):
    """astrofm's metrics of densities on a grid against true redshifts: PIT KS,
    CvM and outlier rate, CRPS, CDE loss, coverage, and the point statistics
    (sigma_NMAD, outlier fraction, bias) of `point`."""
    import json
    m, pit = _core.grid_pdf_metrics(grid, pdf, truth)
    m = json.loads(m)
    zp = point_estimates(grid, pdf)[point]
    truth = np.asarray(truth, dtype=np.float64)
    dz = (zp - truth) / (1 + truth)
    m.update(sigma_nmad=float(1.4826 * np.median(np.abs(dz - np.median(dz)))), eta_015=float(np.mean(np.abs(dz) > 0.15)),
             bias=float(np.median(dz)), point=point)
    return m, pit
