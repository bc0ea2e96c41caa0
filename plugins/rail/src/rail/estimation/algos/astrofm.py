"""astrofm's photometric redshifts as RAIL stages.

Training rows whose redshift is NaN are unlabelled: with enough of them the
networks are first pre-trained on their magnitudes (few-label training).

AstrofmInformer trains astrofm.photoz.PhotoZ (an ensemble of mixture-density
networks in astrofm's C++ core) on a training table; AstrofmEstimator turns
table chunks into qp interp Ensembles on RAIL's z grid, with the zmode,
zmedian and zmean ancillary columns RAIL's evaluation reads.

Missing magnitudes (RAIL's `nondetect_val`, NaN, +-99) are not replaced by
limiting magnitudes: astrofm's networks see a "missing" flag per band and
were trained with bands dropped at random, so such galaxies get wider PDFs.
"""
import numpy as np
import qp
from ceci.config import StageParameter as Param
from rail.core.common_params import SHARED_PARAMS
from rail.estimation.estimator import CatEstimator
from rail.estimation.informer import CatInformer

from astrofm.photoz import PhotoZ, point_estimates

__all__ = ["AstrofmInformer", "AstrofmEstimator"]


def _table(stage, data):
    if stage.config.hdf5_groupname:
        data = data[stage.config.hdf5_groupname]
    return data


def _with_nondetects_as_nan(stage, table, columns):
    """Columns as float arrays, RAIL's nondetect_val turned into NaN."""
    out = {}
    nd = stage.config.nondetect_val
    for c in columns:
        if c not in table:
            raise KeyError(f"{stage.name}: the input has no column '{c}' (it has: {', '.join(list(table.keys())[:30])})")
        a = np.array(table[c], dtype=np.float32)
        if nd is not None and np.isfinite(nd):
            a[np.isclose(a, nd)] = np.nan
        out[c] = a
    return out


# Settings passed to astrofm.photoz.PhotoZ as they are (same names).
_ESTIMATOR_SETTINGS = ("zmin", "zmax", "nzbins", "members", "components", "epochs", "batch", "patience", "lr",
                       "calibration_fraction", "band_dropout", "seed", "pretrain_epochs")


class AstrofmInformer(CatInformer):
    """Trains astrofm's photo-z estimator (astrofm.photoz.PhotoZ)."""

    name = "AstrofmInformer"
    entrypoint_function = "inform"
    config_options = CatInformer.config_options.copy()
    config_options.update(
        zmin=SHARED_PARAMS,
        zmax=SHARED_PARAMS,
        nzbins=SHARED_PARAMS,
        bands=SHARED_PARAMS,
        err_bands=SHARED_PARAMS,
        nondetect_val=SHARED_PARAMS,
        redshift_col=SHARED_PARAMS,
        hdf5_groupname=SHARED_PARAMS,
        use_errors=Param(bool, True, msg="use the magnitude errors (err_bands) as inputs"),
        extra_cols=Param(list, [], msg="further feature columns, e.g. frozen embeddings ([n, d] columns count d)"),
        aion_model=Param(str, "", msg="an AION model (shipped name, .afm file or released snapshot folder): its encoder's "
                                      "mean output for the bands joins the features (AION from magnitudes); empty: none"),
        aion_codecs=Param(str, "", msg="codecs that tokenize the bands for aion_model; empty: astrofm's shipped scalar codecs"),
        members=Param(int, 5, msg="networks in the ensemble"),
        components=Param(int, 6, msg="Gaussians per network"),
        hidden=Param(list, [128, 128, 128], msg="hidden layer widths"),
        epochs=Param(int, 150, msg="maximum training epochs per network"),
        batch=Param(int, 256, msg="minibatch size"),
        patience=Param(int, 30, msg="early-stopping patience in epochs"),
        lr=Param(float, 2e-3, msg="peak learning rate (one-cycle schedule)"),
        calibration_fraction=Param(float, 0.1, msg="held out to test (and if needed correct) the PIT calibration; 0: none"),
        band_dropout=Param(float, 0.05, msg="training rows that lose one band at random (teaches missing bands)"),
        seed=Param(int, 0, msg="random seed"),
        pretrain_epochs=Param(int, 30, msg="self-supervised pre-training on the magnitudes of training rows whose redshift is NaN "
                                           "(unlabelled; at least 100 needed); 0: none"),
    )

    def run(self):
        table = _table(self, self.get_data("input"))
        c = self.config
        if c.redshift_col not in table:
            raise ValueError(f"{self.name}: the training data has no redshift column '{c.redshift_col}' "
                             f"(set redshift_col; columns: {', '.join(list(table.keys())[:30])})")
        errors = list(c.err_bands) if c.use_errors else []
        if errors and len(errors) != len(c.bands):
            raise ValueError(f"{self.name}: {len(errors)} err_bands for {len(c.bands)} bands")
        cols = _with_nondetects_as_nan(self, table, list(c.bands) + errors)
        for name in c.extra_cols:
            cols[name] = np.asarray(table[name], dtype=np.float32)
        cols["z"] = np.asarray(table[c.redshift_col], dtype=np.float64)
        est = PhotoZ(c.bands, errors, extra=c.extra_cols, aion=c.aion_model or None, aion_codecs=c.aion_codecs or None,
                     hidden=[int(h) for h in c.hidden], **{k: getattr(c, k) for k in _ESTIMATOR_SETTINGS})
        est.fit(cols, redshift="z")
        self.model = est
        self.add_data("model", self.model)


class AstrofmEstimator(CatEstimator):
    """p(z) from a trained astrofm photo-z model, as qp interp Ensembles."""

    name = "AstrofmEstimator"
    entrypoint_function = "estimate"
    config_options = CatEstimator.config_options.copy()
    config_options.update(
        nondetect_val=SHARED_PARAMS,
        input_bands=Param(list, [], msg="the input's columns for the model's bands, in the model's order; empty: the model's own names"),
        input_err_bands=Param(list, [], msg="the input's columns for the model's error bands; empty: the model's own names"),
    )

    def open_model(self, **kwargs):
        CatEstimator.open_model(self, **kwargs)
        if self.model is not None and not isinstance(self.model, PhotoZ):
            raise TypeError(f"{self.name}: the model is a {type(self.model).__name__}, not an astrofm PhotoZ (made by AstrofmInformer)")

    def _columns(self, given, own, what):
        if not given:
            return list(own)
        if len(given) != len(own):
            raise ValueError(f"{self.name}: {len(given)} {what} ({', '.join(given)}) for a model trained on "
                             f"{len(own)} ({', '.join(own)}); a band the model was not trained on cannot be used")
        return list(given)

    def _process_chunk(self, start, end, data, first):
        m = self.model
        bands = self._columns(self.config.input_bands, m.bands, "input_bands")
        errors = self._columns(self.config.input_err_bands, m.errors, "input_err_bands") if m.errors else []
        cols = _with_nondetects_as_nan(self, data, bands + errors)
        table = {own: cols[given] for own, given in zip(m.bands + m.errors, bands + errors)}
        for name in m.extra_columns:
            table[name] = np.asarray(data[name], dtype=np.float32)
        pdf = m.pdf(table)
        grid = m.grid
        ens = qp.Ensemble(qp.interp, data=dict(xvals=grid, yvals=pdf))
        ens.set_ancil(point_estimates(grid, pdf))
        self._do_chunk_output(ens, start, end, first, data=data)
