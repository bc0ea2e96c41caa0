"""astrofm's photo-z against RAIL's own estimators on real BOSS DR10 galaxies,
each trained and applied by RAIL's stages with RAIL's defaults (only the
columns, magnitude limits and SDSS filters are set), all scored by RAIL's
evaluation (PointToPointEvaluator, DistToPointEvaluator) and qp's PIT.

    bench/photoz/run.sh            # sets up the environment, then runs this

Split: the 20% of galaxies that astrofm's fixed split (a hash of the object id
`galaxies-<row>` that `astrofm import csv` gives) puts in the test set; the rest
is the training pool, from which 200 and 1,000 labels are drawn at random.
Results accumulate in results.json (a rerun skips what is there; delete an
entry to redo it); figures go to docs/photoz/.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BANDS = [f"mag_{b}" for b in "ugriz"]
ERRS = [f"magerr_{b}" for b in "ugriz"]
# SDSS 5-sigma depths (DR10 imaging); RAIL's estimators replace non-detections with these.
LIMITS = {"mag_u": 22.0, "mag_g": 22.2, "mag_r": 22.2, "mag_i": 21.3, "mag_z": 20.5}
COMMON = dict(hdf5_groupname="", bands=BANDS, err_bands=ERRS, ref_band="mag_i", redshift_col="z",
              nondetect_val=99.0, mag_limits=LIMITS, zp_errors=[0.01] * 5, replace_error_vals=[0.1] * 5)


def fnv1a(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def in_test(object_id):  # include/astrofm/hash.h: in_fixed_test_split
    return (fnv1a(object_id) >> 7) % 5 == 0


def load(csv):
    d = np.genfromtxt(csv, delimiter=",", names=True)
    t = {n: np.asarray(d[n], dtype=np.float64) for n in d.dtype.names}
    test = np.array([in_test(f"{Path(csv).stem}-{i}") for i in range(len(d))])
    return t, np.where(~test)[0], np.where(test)[0]


def take(t, rows):
    return {k: v[rows] for k, v in t.items()}


def bpz_reference(tmp):
    """BPZ's SED templates with the SDSS filter curves (speclite) as BPZ .res files."""
    import desc_bpz
    src = Path(desc_bpz.__file__).parent / "data_files"
    dst = Path(tmp) / "bpz_data"
    if dst.exists():
        return str(dst)
    shutil.copytree(src, dst)
    shared = ROOT.parent / "shared/data/filters"
    if not shared.exists():
        shared = ROOT / "data/sample/filters"
    for b in "ugriz":
        rows = [l.split() for l in (shared / f"sdss2010-{b}.ecsv").read_text().splitlines() if l and not l.startswith("#")][1:]
        (dst / "FILTER" / f"SDSS_{b}.res").write_text("".join(f"{float(w):.1f} {float(r):.6f}\n" for w, r in rows))
    return str(dst)


def estimators(tmp):
    """(name, informer, estimator, extra config) with RAIL's defaults otherwise.

    Not here: PZFlow. RAIL's PZFlow stage (pz-rail-pzflow 2.0.4) hard-codes the
    LSST ugrizy column names and a 'redshift' column in its standardisation
    (pzflow_nf.py, computemeanstd), so it cannot run on SDSS ugriz without
    editing its source."""
    from rail.estimation.algos.astrofm import AstrofmEstimator, AstrofmInformer
    from rail.estimation.algos.bpz_lite import BPZliteEstimator, BPZliteInformer
    from rail.estimation.algos.cmnn import CMNNEstimator, CMNNInformer
    from rail.estimation.algos.dnf import DNFEstimator, DNFInformer
    from rail.estimation.algos.flexzboost import FlexZBoostEstimator, FlexZBoostInformer
    from rail.estimation.algos.gpz import GPzEstimator, GPzInformer
    from rail.estimation.algos.k_nearneigh import KNearNeighEstimator, KNearNeighInformer
    from rail.estimation.algos.sklearn_neurnet import SklNeurNetEstimator, SklNeurNetInformer
    from rail.estimation.algos.tpz_lite import TPZliteEstimator, TPZliteInformer
    from rail.estimation.algos.train_z import TrainZEstimator, TrainZInformer
    bpz = dict(bpz_ref_data_path=bpz_reference(tmp), filter_list=[f"SDSS_{b}" for b in "ugriz"])
    return [
        ("astrofm", AstrofmInformer, AstrofmEstimator, {}),
        # The same without the unlabelled magnitudes (no pre-training).
        ("astrofm-labelled-only", AstrofmInformer, AstrofmEstimator, {"pretrain_epochs": 0}),
        # AION from magnitudes: the shipped aion-default's encoder output joins the inputs.
        ("astrofm+AION", AstrofmInformer, AstrofmEstimator, {"aion_model": "aion-default", "pretrain_epochs": 0}),
        ("FlexZBoost", FlexZBoostInformer, FlexZBoostEstimator, {}),
        ("GPz", GPzInformer, GPzEstimator, {}),
        ("DNF", DNFInformer, DNFEstimator, {}),
        ("KNearNeigh", KNearNeighInformer, KNearNeighEstimator, {}),
        ("CMNN", CMNNInformer, CMNNEstimator, {}),
        ("TPZ", TPZliteInformer, TPZliteEstimator, {}),
        ("SklNeurNet", SklNeurNetInformer, SklNeurNetEstimator, {}),
        ("BPZ", BPZliteInformer, BPZliteEstimator, bpz),
        ("TrainZ", TrainZInformer, TrainZEstimator, {}),
    ]


def config_for(cls, extra):
    """The shared settings each stage declares, plus its extras."""
    opts = {k: v for k, v in {**COMMON, **extra}.items() if k in cls.config_options}
    return opts


def evaluate(ens, truth):
    """RAIL's evaluation stages and qp's PIT, plus CRPS and coverage from astrofm's
    grid metrics (which agree with qp's PIT, KS and CvM: tests/rail)."""
    from qp.metrics.pit import PIT
    from rail.core.data import QPHandle, TableHandle
    from rail.evaluation.dist_to_point_evaluator import DistToPointEvaluator
    from rail.evaluation.point_to_point_evaluator import PointToPointEvaluator
    import astrofm.photoz as apz
    th = TableHandle("truth", data={"photometry": {"z": truth}})
    grid = np.linspace(0, 3, 301)
    if ens.ancil is None or "zmode" not in ens.ancil:
        # What RAIL's point-estimation mixin adds when asked (calculated_point_estimates).
        ens.set_ancil({**(ens.ancil or {}), "zmode": ens.mode(grid)})
    qh = QPHandle("pz", data=ens)
    p2p = PointToPointEvaluator.make_stage(name="p2p", metrics=["point_stats_sigma_mad", "point_bias", "point_outlier_rate", "point_stats_iqr"],
                                           point_estimate_key="zmode", reference_dictionary_key="z", hdf5_groupname="photometry",
                                           force_exact=True, output_mode="return")
    r = p2p.evaluate(qh, th)
    summary = {k: float(np.squeeze(v)) for k, v in r["summary"].data.items()}
    d2p = DistToPointEvaluator.make_stage(name="d2p", metrics=["cdeloss"], reference_dictionary_key="z", hdf5_groupname="photometry",
                                          force_exact=True, output_mode="return")
    r2 = d2p.evaluate(qh, th)
    summary.update({k: float(np.squeeze(v)) for k, v in r2["summary"].data.items()})
    pit = PIT(ens, truth)
    zmode = np.squeeze(ens.ancil["zmode"])
    ez = (zmode - truth) / (1 + truth)
    ours, pits = apz.metrics(grid, ens.pdf(grid), truth)
    return {
        "sigma_nmad": summary.get("point_stats_sigma_mad"),
        "eta_0.15": float(np.mean(np.abs(ez) > 0.15)),
        "outlier_rate_rail": summary.get("point_outlier_rate"),
        "bias": summary.get("point_bias"),
        "sigma_iqr": summary.get("point_stats_iqr"),
        "pit_ks": float(pit.evaluate_PIT_KS().statistic),
        "pit_cvm": float(pit.evaluate_PIT_CvM().statistic),
        "crps": ours["crps"],
        "cde_loss": summary.get("cdeloss"),
        "coverage_68": ours["coverage_68"],
        "pit_histogram": np.histogram(pit.pit_samps, bins=20, range=(0, 1))[0].tolist(),
        "zmode_sample": [float(x) for x in zmode[:2000]],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=str(ROOT.parent / "shared/data/boss_dr10_photoz/galaxies.csv"))
    ap.add_argument("--labels", default="all,1000,200")
    ap.add_argument("--only", default="", help="comma-separated estimator names")
    ap.add_argument("--results", default=str(HERE / "results.json"))
    args = ap.parse_args()
    t, pool, test_rows = load(args.csv)
    test = take(t, test_rows)
    res_path = Path(args.results)
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    results["_meta"] = {"csv": args.csv, "train_pool": int(len(pool)), "test": int(len(test_rows)),
                        "cpu": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
                        "split": "astrofm's fixed split: test = (fnv1a(object_id) >> 7) % 5 == 0, object_id galaxies-<row>"}
    only = set(filter(None, args.only.split(",")))
    with tempfile.TemporaryDirectory() as tmp:
        for labels in args.labels.split(","):
            rows = pool if labels == "all" else np.sort(np.random.default_rng(1).permutation(pool)[: int(labels)])
            train = take(t, rows)
            # astrofm also takes the rest of the pool's magnitudes, unlabelled (z = NaN).
            semi = take(t, pool)
            semi["z"] = np.where(np.isin(pool, rows), semi["z"], np.nan)
            for name, Inf, Est, extra in estimators(tmp):
                key = f"{name}/{labels}"
                if (only and name not in only) or (key in results and "error" not in results[key]):
                    continue
                if name == "astrofm-labelled-only" and labels == "all":
                    continue  # no unlabelled objects: the same as astrofm
                print(f"== {key}: training on {len(rows)} galaxies", flush=True)
                entry = {"estimator": name, "labels": labels, "train_objects": int(len(rows))}
                try:
                    t0 = time.time()
                    inf = Inf.make_stage(name=f"inform_{name}_{labels}", model=os.path.join(tmp, f"{name}_{labels}.pkl"), **config_for(Inf, extra))
                    inf.inform(semi if name == "astrofm" else train)
                    t1 = time.time()
                    est = Est.make_stage(name=f"estimate_{name}_{labels}", model=inf.get_handle("model"), output_mode="return",
                                         **config_for(Est, extra))
                    ens = est.estimate(test).data
                    t2 = time.time()
                    entry.update(evaluate(ens, test["z"]), inform_s=round(t1 - t0, 1), estimate_s=round(t2 - t1, 1))
                    print(f"   sigma_NMAD {entry['sigma_nmad']:.4f} eta {entry['eta_0.15']:.4f} PIT KS {entry['pit_ks']:.4f} "
                          f"CRPS {entry['crps']:.4f} CDE {entry['cde_loss']:.3f} ({entry['inform_s']} s + {entry['estimate_s']} s)", flush=True)
                except Exception as e:  # one estimator failing must not lose the others' results
                    entry["error"] = f"{type(e).__name__}: {e}"
                    traceback.print_exc()
                results[key] = entry
                # Merged with what other runs (--only) wrote meanwhile.
                on_disk = json.loads(res_path.read_text()) if res_path.exists() else {}
                results = {**on_disk, **{k: v for k, v in results.items() if k not in on_disk or k == key}}
                res_path.write_text(json.dumps(results, indent=1))
    results = {**(json.loads(res_path.read_text()) if res_path.exists() else {}), "_truth_sample": [float(x) for x in test["z"][:2000]]}
    res_path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
