"""astrofm's RAIL plug-in (plugins/rail, installed by pip beside pz-rail-base)
run with RAIL's own machinery: the DataStore, make_stage/inform/estimate, a
ceci pipeline file run by ceci, RAIL's KNearNeigh on the same data, and
RAIL's evaluation stages and qp's PIT on astrofm's output. Data: the shipped
sample of real BOSS DR10 galaxies (ugriz, spectroscopic z)."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import qp
import yaml

from rail.core.data import TableHandle
from rail.estimation.algos.astrofm import AstrofmEstimator, AstrofmInformer
from rail.estimation.algos.k_nearneigh import KNearNeighEstimator, KNearNeighInformer
from rail.evaluation.dist_to_point_evaluator import DistToPointEvaluator
from rail.evaluation.metrics.cdeloss import CDELoss
from qp.metrics.pit import PIT

import astrofm.photoz as apz

trapezoid = getattr(np, "trapezoid", None) or np.trapz

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data/sample/boss_dr10_photoz/galaxies.csv"
BANDS = [f"mag_{b}" for b in "ugriz"]
ERRS = [f"magerr_{b}" for b in "ugriz"]
SMALL = dict(members=2, epochs=40, seed=3)  # enough to learn, quick on two cores


def table(rows):
    d = np.genfromtxt(SAMPLE, delimiter=",", names=True)[rows]
    return {n: np.asarray(d[n], dtype=np.float64) for n in d.dtype.names}


@pytest.fixture(scope="module")
def data():
    idx = np.random.default_rng(0).permutation(2000)
    train, test = table(np.sort(idx[:1500])), table(np.sort(idx[1500:]))
    return TableHandle("train", data=train), TableHandle("test", data=test), train, test


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory):
    train_h, test_h, _, _ = data
    out = tmp_path_factory.mktemp("rail")
    inform = AstrofmInformer.make_stage(name="inform_astrofm", model=str(out / "astrofm.pkl"), hdf5_groupname="",
                                        bands=BANDS, err_bands=ERRS, redshift_col="z", **SMALL)
    inform.inform(train_h)
    est = AstrofmEstimator.make_stage(name="estimate_astrofm", model=inform.get_handle("model"), hdf5_groupname="",
                                      output=str(out / "astrofm_pz.hdf5"))
    return out, inform, est.estimate(test_h)


def test_estimate_is_a_qp_ensemble_with_rail_point_estimates(fitted, data):
    out, _, handle = fitted
    ens = handle.data
    assert isinstance(ens, qp.Ensemble) and ens.npdf == 500
    for k in ("zmode", "zmedian", "zmean"):
        assert k in ens.ancil
    # The ancil point estimates are qp's own, computed from the same PDFs.
    assert np.allclose(np.squeeze(ens.ancil["zmedian"]), np.squeeze(ens.median()), atol=2e-3)
    assert np.allclose(np.squeeze(ens.ancil["zmean"]), np.squeeze(ens.mean()), atol=2e-3)
    # The file RAIL wrote reads back with qp.
    back = qp.read(str(out / "astrofm_pz.hdf5"))
    assert back.npdf == 500
    z = data[3]["z"]
    zmode = np.squeeze(ens.ancil["zmode"])
    dz = (zmode - z) / (1 + z)
    # Real photo-z from 1,500 BOSS galaxies: far better than guessing the mean.
    assert 1.4826 * np.median(np.abs(dz - np.median(dz))) < 0.035
    assert np.mean(np.abs(dz) > 0.15) < 0.05


def test_rail_evaluation_runs_on_the_output_and_agrees_with_astrofm_metrics(fitted, data):
    _, _, handle = fitted
    test_h, test = data[1], data[3]
    ev = DistToPointEvaluator.make_stage(name="eval_astrofm", metrics=["cdeloss", "pit", "brier"], hdf5_groupname="",
                                         reference_dictionary_key="z", force_exact=True, output_mode="return")
    res = ev.evaluate(handle, test_h)
    summary = res["summary"].data if isinstance(res, dict) else res.data
    assert summary is not None
    ens = handle.data
    grid = ens.dist.xvals if hasattr(ens.dist, "xvals") else np.linspace(0, 3, 301)
    pdf = ens.pdf(grid)
    ours, pits = apz.metrics(grid, pdf, test["z"])
    p = PIT(ens, test["z"])
    assert np.allclose(np.sort(pits), np.sort(p.pit_samps), atol=1e-6)
    assert ours["pit_ks"] == pytest.approx(p.evaluate_PIT_KS().statistic, abs=1e-6)
    assert ours["pit_cvm"] == pytest.approx(p.evaluate_PIT_CvM().statistic, rel=1e-4)
    # qp reads its outlier rate off a quantile fit of the PITs; astrofm counts them.
    samps = p.pit_samps
    assert ours["pit_outlier_rate"] == pytest.approx(np.mean((samps < 1e-4) | (samps > 0.9999)), abs=1e-9)
    assert ours["cde_loss"] == pytest.approx(CDELoss(ens, grid, test["z"]).evaluate().statistic, rel=1e-6)
    # CRPS: astrofm's exact piecewise integral against a fine numerical one.
    fine = np.linspace(grid[0], grid[-1], 6001)
    cdf = ens.cdf(fine)
    crps = np.mean(trapezoid((cdf - (fine[None, :] >= test["z"][:, None])) ** 2, fine, axis=1))
    assert ours["crps"] == pytest.approx(crps, rel=2e-3)


def test_beside_rails_own_knn_on_the_same_handles(data, tmp_path):
    train_h, test_h, _, test = data
    inform = KNearNeighInformer.make_stage(name="inform_knn", model=str(tmp_path / "knn.pkl"), hdf5_groupname="",
                                           bands=BANDS, ref_band="mag_i", redshift_col="z", nondetect_val=99.0,
                                           mag_limits={b: 28.0 for b in BANDS})
    inform.inform(train_h)
    est = KNearNeighEstimator.make_stage(name="estimate_knn", model=inform.get_handle("model"), hdf5_groupname="",
                                         bands=BANDS, ref_band="mag_i", nondetect_val=99.0, mag_limits={b: 28.0 for b in BANDS},
                                         output=str(tmp_path / "knn_pz.hdf5"))
    knn = est.estimate(test_h).data
    assert knn.npdf == len(test["z"])


def test_model_pickles_and_loads_by_path(fitted, data):
    out, inform, handle = fitted
    with open(out / "astrofm.pkl", "rb") as f:
        model = pickle.load(f)
    assert isinstance(model, apz.PhotoZ)
    again = model.pdf(data[3])
    assert np.allclose(again, handle.data.pdf(model.grid), atol=1e-6)


def test_missing_magnitudes_widen_the_pdf_not_crash(fitted, data):
    _, inform, _ = fitted
    model = inform.model
    test = {k: v[:200].copy() for k, v in data[3].items()}
    base = model.pdf(test)
    for bad in (99.0, -99.0, np.nan):
        t = {k: v.copy() for k, v in test.items()}
        t["mag_u"][:] = bad
        p = model.pdf(t)
        assert np.all(np.isfinite(p))
        g = model.grid

        def width(pdf):
            c = np.cumsum(pdf, 1)
            c /= c[:, -1:]
            return np.array([np.interp(0.84, r, g) - np.interp(0.16, r, g) for r in c])
        assert np.median(width(p)) > np.median(width(base))


def test_bad_inputs_get_one_clear_error(data, tmp_path):
    train_h, test_h, train, _ = data
    no_z = {k: v for k, v in train.items() if k != "z"}
    h = TableHandle("no_z", data=no_z)
    inform = AstrofmInformer.make_stage(name="inform_no_z", model=str(tmp_path / "m.pkl"), hdf5_groupname="",
                                        bands=BANDS, err_bands=ERRS, redshift_col="z", **SMALL)
    with pytest.raises(ValueError, match="no redshift column 'z'"):
        inform.inform(h)
    inform = AstrofmInformer.make_stage(name="inform_y", model=str(tmp_path / "m2.pkl"), hdf5_groupname="",
                                        bands=BANDS + ["mag_y"], err_bands=ERRS + ["magerr_y"], redshift_col="z", **SMALL)
    with pytest.raises(KeyError, match="no column 'mag_y'"):
        inform.inform(train_h)


def test_a_band_the_model_was_not_trained_on(fitted, data):
    _, inform, _ = fitted
    est = AstrofmEstimator.make_stage(name="estimate_six", model=inform.get_handle("model"), hdf5_groupname="",
                                      input_bands=BANDS + ["mag_y"], output_mode="return")
    with pytest.raises(ValueError, match="not trained on"):
        est.estimate(data[1])


def test_ceci_runs_the_stages_as_a_pipeline(data, tmp_path):
    """The stages as a RAIL user runs them: a ceci pipeline file and its
    config, run by `ceci pipe.yml`, each stage in its own process."""
    import tables_io
    train, test = data[2], data[3]
    tables_io.write(train, str(tmp_path / "train.hdf5"))
    tables_io.write(test, str(tmp_path / "test.hdf5"))
    pipe = {
        "modules": "rail.estimation.algos.astrofm",
        "inputs": {"input": str(tmp_path / "train.hdf5"), "test_input": str(tmp_path / "test.hdf5")},
        "stages": [
            {"name": "inform_pipe", "classname": "AstrofmInformer", "nprocess": 1, "aliases": {"model": "astrofm_model"}},
            {"name": "estimate_pipe", "classname": "AstrofmEstimator", "nprocess": 1,
             "aliases": {"model": "astrofm_model", "input": "test_input", "output": "astrofm_pz"}},
        ],
        "output_dir": str(tmp_path / "out"), "log_dir": str(tmp_path / "logs"), "resume": False,
        "config": str(tmp_path / "config.yml"), "pipeline_log": str(tmp_path / "log.txt"),
        "launcher": {"name": "mini", "interval": 0.5}, "site": {"name": "local", "max_threads": 1},
    }
    config = {
        "inform_pipe": dict(name="inform_pipe", bands=BANDS, err_bands=ERRS, redshift_col="z", hdf5_groupname="", **SMALL),
        "estimate_pipe": dict(name="estimate_pipe", hdf5_groupname=""),
    }
    (tmp_path / "pipe.yml").write_text(yaml.safe_dump(pipe))
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    import astrofm
    # As in an activated virtual environment: ceci starts each stage with `python3` from PATH.
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]), PYTHONPATH=os.pathsep.join([str(Path(astrofm.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([str(Path(sys.executable).parent / "ceci"), str(tmp_path / "pipe.yml")], capture_output=True, text=True,
                       timeout=900, cwd=tmp_path, env=env)
    logs = "".join(p.read_text()[-2000:] for p in (tmp_path / "logs").glob("*")) if (tmp_path / "logs").exists() else ""
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:] + logs
    ens = qp.read(str(tmp_path / "out" / "astrofm_pz.hdf5"))
    assert ens.npdf == len(test["z"]) and "zmode" in ens.ancil


def test_frozen_embeddings_and_aion_from_magnitudes_join_the_inputs(data, tmp_path):
    """extra_cols: an [n, d] column of the catalogue (here the colours, as a
    frozen embedding stands in); aion_model: the shipped AION model's encoder
    output for the magnitudes, tokenized by the shipped codecs."""
    _, _, train, test = data

    def with_emb(t):
        t = dict(t)
        t["emb"] = np.stack([t[a] - t[b] for a, b in zip(BANDS[:-1], BANDS[1:])], 1)
        return t
    inform = AstrofmInformer.make_stage(name="inform_extra", model=str(tmp_path / "x.pkl"), hdf5_groupname="",
                                        bands=BANDS, err_bands=ERRS, redshift_col="z", extra_cols=["emb"],
                                        aion_model="aion-default", **SMALL)
    inform.inform(with_emb(train))
    model = inform.model
    assert model.extra_columns == ["emb"] and model.aion == "aion-default"
    assert model._core.extra > 4  # 4 embedding values and AION's mean token
    est = AstrofmEstimator.make_stage(name="estimate_extra", model=inform.get_handle("model"), hdf5_groupname="",
                                      output_mode="return")
    ens = est.estimate(with_emb(test)).data
    z = test["z"]
    dz = (np.squeeze(ens.ancil["zmode"]) - z) / (1 + z)
    assert 1.4826 * np.median(np.abs(dz - np.median(dz))) < 0.04
    # The estimator needs the column the model was fitted with.
    est = AstrofmEstimator.make_stage(name="estimate_noemb", model=inform.get_handle("model"), hdf5_groupname="",
                                      output_mode="return")
    with pytest.raises(KeyError, match="'emb'"):
        est.estimate(test)
