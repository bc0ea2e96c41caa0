"""The Python bindings against astrofm's own CLI and against scikit-learn."""
import numpy as np
import pytest

import astrofm
from conftest import run


def test_batches_are_dicts_of_numpy_arrays(sim):
    import h5py
    ds = astrofm.open_dataset(str(sim / "sim"))
    assert ds.rows == 12 and "image_array" in ds.columns
    seen = []
    for b in ds.batches(columns=["object_id", "image_array", "image_band"], batch_rows=5):
        assert set(b) == {"object_id", "image_array", "image_band"}
        assert b["image_array"].dtype == np.float32 and b["image_array"].shape[1:] == (3, 64, 64)
        assert len(b["object_id"]) <= 5
        seen.extend(b["object_id"].tolist())
    assert len(seen) == 12 and len(set(seen)) == 12
    # Same values as h5py reading the partition files.
    whole = ds.read(columns=["object_id", "image_array"])
    import glob
    ids, imgs = [], []
    files = glob.glob(str(sim / "sim" / "*" / "healpix=*" / "*.hdf5"))
    for f in sorted(files, key=lambda f: int(f.split("healpix=")[1].split("/")[0])):
        with h5py.File(f) as h:
            ids += [x.decode() if isinstance(x, bytes) else x for x in h["object_id"][:]]
            imgs.append(h["image_array"][:])
    assert ids == whole["object_id"].tolist()
    assert np.array_equal(np.concatenate(imgs), whole["image_array"])


def test_encoder_is_bit_identical_to_the_cli(sim):
    ds = astrofm.open_dataset(str(sim / "sim"))
    data = ds.read(columns=["object_id", "image_array", "image_band"])
    cli = astrofm.open_dataset(str(sim / "emb")).read(columns=["object_id", "embedding_image"])
    assert cli["object_id"].tolist() == data["object_id"].tolist()
    enc = astrofm.Encoder("galaxy-cnn-ssl")
    assert enc.modalities == ["image"] and enc.meta["architecture"] == "cnn"
    # The same batches as `astrofm embed --batch 64` (a batch never spans two partitions).
    emb = np.concatenate([enc.embed(images=b["image_array"], bands=list(b["image_band"][0]))
                          for b in ds.batches(columns=["image_array", "image_band"], batch_rows=64)])
    assert emb.shape == cli["embedding_image"].shape
    assert np.array_equal(emb, cli["embedding_image"])
    both = astrofm.Encoder("clip-sim").embed(images=data["image_array"], bands=list(data["image_band"][0]),
                                            spectra=np.ones((12, 1556), np.float32))
    assert set(both) == {"embedding_image", "embedding_spectrum"}


def test_knn_matches_sklearn_and_works_in_sklearn_tools():
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    y = X[:, 0] * 2 + np.sin(X[:, 1]) + 0.1 * rng.normal(size=300)
    Xt = rng.normal(size=(100, 8)).astype(np.float32)
    for w in ("uniform", "distance"):
        ours = astrofm.KNeighborsRegressor(n_neighbors=7, weights=w).fit(X, y).predict(Xt)
        ref = KNeighborsRegressor(n_neighbors=7, weights=w, algorithm="brute").fit(X, y).predict(Xt)
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)
    labels = np.where(y > 0, "spiral", "elliptical")
    ours = astrofm.KNeighborsClassifier(n_neighbors=5).fit(X, labels).predict(Xt)
    ref = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(X, labels).predict(Xt)
    assert (ours == ref).all()
    est = astrofm.KNeighborsRegressor()
    assert est.get_params() == {"n_neighbors": 5, "weights": "uniform", "standardize": False}
    est.set_params(n_neighbors=3)
    assert est.n_neighbors == 3
    scores = cross_val_score(astrofm.KNeighborsRegressor(n_neighbors=5), X, y, cv=3)
    ref_scores = cross_val_score(KNeighborsRegressor(n_neighbors=5, algorithm="brute"), X, y, cv=3)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-6)
    pipe = Pipeline([("scale", StandardScaler()), ("knn", astrofm.KNeighborsRegressor(n_neighbors=5))]).fit(X, y)
    assert pipe.score(Xt, Xt[:, 0] * 2 + np.sin(Xt[:, 1])) > 0.5
    ridge = astrofm.RidgeProbe().fit(X, y)
    assert ridge.score(X, y) > 0.8
    logit = astrofm.LogisticProbe().fit(X, labels)
    assert set(logit.predict(Xt)) <= {"spiral", "elliptical"} and logit.score(X, labels) > 0.8


def test_search_by_vector_and_id_with_a_cone(sim):
    ix = astrofm.open_index(str(sim / "ix"))
    emb = astrofm.open_dataset(str(sim / "emb")).read(columns=["object_id", "ra", "dec", "embedding_image"])
    v = emb["embedding_image"]
    q = 3
    hits = ix.search(vector=v[q], k=5)
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    best = np.argsort(-(unit @ unit[q]))[:5]
    assert hits["object_id"].tolist() == emb["object_id"][best].tolist()
    by_id = ix.search(id=emb["object_id"][q], k=4)
    assert emb["object_id"][q] not in by_id["object_id"].tolist() and len(by_id["object_id"]) == 4
    ra, dec = float(emb["ra"][q]), float(emb["dec"][q])
    cone = ix.search(vector=v[q], k=12, cone=(ra, dec, 0.5))
    sep = np.degrees(np.arccos(np.clip(np.sin(np.radians(dec)) * np.sin(np.radians(cone["dec"])) +
                                       np.cos(np.radians(dec)) * np.cos(np.radians(cone["dec"])) *
                                       np.cos(np.radians(cone["ra"] - ra)), -1, 1)))
    assert (sep <= 0.5 + 1e-9).all() and cone["object_id"][0] == emb["object_id"][q]


def test_errors_are_python_exceptions_with_astrofm_messages(sim, tmp_path):
    with pytest.raises(KeyError, match="no-such-model"):
        astrofm.Encoder("no-such-model")
    with pytest.raises(OSError, match="nowhere"):
        astrofm.open_dataset(str(tmp_path / "nowhere"))
    enc = astrofm.Encoder("galaxy-cnn-ssl")
    with pytest.raises(ValueError, match="DES-Z"):
        enc.embed(images=np.zeros((2, 3, 64, 64), np.float32), bands=["DES-G", "DES-R", "DES-I"])
    with pytest.raises(ValueError, match="images"):
        enc.embed(images=np.zeros((2, 64, 64), np.float32))
    with pytest.raises(ValueError, match="row 1 column 2"):
        X = np.ones((3, 4), np.float32)
        X[1, 2] = np.nan
        astrofm.KNeighborsRegressor(n_neighbors=1).fit(X, np.ones(3))
    ix = astrofm.open_index(str(sim / "ix"))
    with pytest.raises(KeyError, match="nobody"):
        ix.search(id="nobody")
    bad = tmp_path / "bad.afm"
    bad.write_bytes(b"ASTROFM\0" + b"\x02\0\0\0" + b"\0" * 12)
    with pytest.raises(ValueError, match="bad.afm"):
        astrofm.Encoder(str(bad))


def test_shipped_scalar_codecs_round_trip_within_a_bin_and_keep_missing_apart():
    c = astrofm.Codecs("codecs-scalar")
    assert {"mag_r", "z", "FLUX_G"} <= set(c.modalities)
    info = c.info("mag_r")
    assert info["kind"] == "scalar" and info["vocab_size"] == 1024
    mags = np.array([17.2, 19.5, 21.0, np.nan, 18.3])
    tok = c.encode("mag_r", {"mag_r": mags})
    assert tok.dtype == np.int32 and tok.shape == (5, 1)
    assert tok[3, 0] == -1
    back = c.decode("mag_r", tok)["mag_r"]
    assert np.isnan(back[3])
    ok = ~np.isnan(mags)
    # Each value lies in its bin: between the previous bin's value and its own.
    lower = c.decode("mag_r", np.maximum(tok - 1, 0))["mag_r"]
    assert np.all((lower[ok] <= mags[ok] + 1e-5) & (mags[ok] <= back[ok] + 1e-5))
    assert np.median(np.abs(back[ok] - mags[ok])) < 0.01
    with pytest.raises(ValueError, match="outside the codec's vocabulary"):
        c.decode("mag_r", np.array([[5000]], dtype=np.int32))
    with pytest.raises(KeyError, match="no codec for modality 'image'"):
        c.encode("image", {})


def test_tokenize_and_fine_tuned_model_the_mission_example(sim, aion_model):
    d = astrofm.open_dataset(str(sim / "sim")).read(columns=["image_array", "FLUX_G", "Z"])
    x = astrofm.tokenize(d["image_array"], modality="LegacySurvey")
    assert x["tok_image"].shape == (12, 256) and x["tok_image"].dtype == np.int32
    assert x["tok_image"].min() >= 0 and x["tok_image"].max() < 4375
    fused = {**x, **astrofm.tokenize(d["FLUX_G"], modality="FLUX_G")}  # data fusion: image + photometry
    y = d["Z"]
    for adaptation in ("AttentivePooling", "MeanPooling"):
        model = astrofm.FineTunedModel(base=aion_model, adaptation=adaptation)
        model.fit({k: v[:8] for k, v in fused.items()}, y[:8])
        p = model.predict({k: v[8:] for k, v in fused.items()})
        assert p.shape == (4,) and np.all(np.isfinite(p))
    # The same tokens give the same embedding-based prediction: no randomness at inference.
    assert np.array_equal(model.predict({k: v[8:] for k, v in fused.items()}), p)
    with pytest.raises(KeyError, match="no modality 'tok_mag_r'"):
        model.predict({"tok_mag_r": np.zeros((2, 1), np.int32)})
    with pytest.raises(ValueError, match="pass bands"):
        astrofm.tokenize(np.zeros((2, 7, 64, 64)), modality="image")
    # HSC images get AION's HSC key, so one model tells the two surveys apart.
    hsc = astrofm.tokenize(np.ones((2, 5, 64, 64), np.float32), modality="HSC")
    assert list(hsc) == ["tok_image_hsc"] and hsc["tok_image_hsc"].shape == (2, 256)


def test_mission_example_with_the_shipped_aion_model(tmp_path):
    """The mission's example as written, on HSC-like images of galaxies the shipped model never saw."""
    run("simulate", "--objects", "240", "--seed", "77", "--imaging", "hsc", "--no-spectra", "--region", "200,210,5,15",
        "--out", str(tmp_path / "hsc"))
    d = astrofm.open_dataset(str(tmp_path / "hsc")).read(columns=["image_array", "Z"])
    x = astrofm.tokenize(d["image_array"], modality="HSC")
    y = d["Z"]
    train = {k: v[:180] for k, v in x.items()}
    test = {k: v[180:] for k, v in x.items()}
    model = astrofm.FineTunedModel(base="aion-default", adaptation="AttentivePooling")
    model.fit(train, y[:180])
    p = model.predict(test)
    r2 = 1 - np.sum((p - y[180:]) ** 2) / np.sum((y[180:] - y[180:].mean()) ** 2)
    assert r2 > 0.25, r2  # measured 0.41 (image only, 180 labels)


def test_discovery_loop_in_python(tmp_path):
    from astrofm import discover
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(0, 1, (300, 6)), rng.normal(3, 1, (10, 6))]).astype(np.float32)
    ids = [f"g{i}" for i in range(len(x))]
    rare = set(ids[300:])
    # Anomalies: scikit-learn's isolation forest and the core's LOF both put the rare group near the top.
    for method in discover.ANOMALY_METHODS:
        s = discover.anomalies(x, method=method, k=15)
        top = {ids[i] for i in np.argsort(-s)[:20]}
        assert len(top & rare) >= 7, method
    with pytest.raises(ValueError, match="method"):
        discover.anomalies(x, method="magic")
    # Active learning: two examples, a round of suggestions answered, labels saved and read back.
    d = discover.Discovery(x, ids).label(["g300", "g301"], True)
    sug = d.suggest(8)
    assert not {"g300", "g301"} & set(sug) and len(set(sug) & rare) >= 6
    d.label([i for i in sug if i in rare], True).label([i for i in sug if i not in rare], False)
    m = discover.ranking_metrics(d.scores(), [int(i in rare) for i in ids])
    assert m["average_precision"] > 0.9
    d.save_labels(tmp_path / "labels.csv")
    again = discover.Discovery(x, ids).load_labels(tmp_path / "labels.csv")
    assert (again.labels == d.labels).all()
    (tmp_path / "bad.csv").write_text("object_id,label\nnosuch,1\n")
    with pytest.raises(KeyError, match="nosuch"):
        discover.Discovery(x, ids).load_labels(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="dimensions"):
        discover.similar(x, np.zeros((1, 5), np.float32))
    # A prior (rarity) blended in: at weight 1 the order is the prior's, at 0 the examples'.
    prior = discover.anomalies(x, method="lof", k=15)
    alone = discover.similar(x, [0, 1], method="mean")
    assert (np.argsort(discover.similar(x, [0, 1], method="mean", prior=prior, prior_weight=1.0)) == np.argsort(prior, kind="stable")).all()
    assert (np.argsort(discover.similar(x, [0, 1], method="mean", prior=prior, prior_weight=0.0)) == np.argsort(alone, kind="stable")).all()
    with pytest.raises(ValueError, match="prior scores"):
        discover.blend(alone, prior[:-1])
    looped = discover.Discovery(x, ids, method="mean", prior=prior, prior_weight=1.0).label(["g0"], True)
    assert looped.suggest(5) == [ids[i] for i in np.argsort(-prior, kind="stable") if ids[i] != "g0"][:5]
    with pytest.raises(ValueError, match="prior"):
        discover.Discovery(x, ids, prior=prior[:3])


def test_morphology_and_canonical_pixels_of_a_pair_of_nuclei():
    from astrofm import discover
    yy, xx = np.mgrid[:40, :40]
    blob = lambda y, x, a: a * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0)
    imgs = np.stack([np.stack([blob(20, 12, 1) + blob(20, 28, 0.5)] * 2), np.stack([blob(12, 20, 1) + blob(28, 20, 0.5)] * 2)])
    m = discover.morphology(imgs.astype(np.float32))
    assert len(m) == 14 and all(v.shape == (2,) for v in m.values())
    np.testing.assert_array_equal(m["peaks"], [2, 2])
    np.testing.assert_allclose(m["second_peak"], 0.5, atol=0.03)
    np.testing.assert_allclose(m["peak_separation"], 16, atol=1)
    c = discover.canonical_pixels(imgs)  # the same pair turned 90 degrees lines up
    assert c.shape == imgs.shape
    np.testing.assert_allclose(c[0], c[1], atol=1e-4)
    with pytest.raises(ValueError, match="morphology"):
        discover.morphology(np.zeros((2, 40, 40), np.float32))


def test_display_rgb_is_the_web_pages_stretch():
    # Flux in DECam g, r, z gets the asinh stretch (z r g as R G B); the same
    # pixels as 8-bit colour cutouts are shown as they are.
    rng = np.random.default_rng(3)
    flux = rng.uniform(0, 0.5, size=(2, 3, 8, 8)).astype(np.float32)
    rgb = astrofm.display_rgb(flux, ["DES-G", "DES-R", "DES-Z"])
    assert rgb.shape == (2, 8, 8, 3) and rgb.dtype == np.float32
    g, r, z = flux[1, 0, 2, 5] * 6.0, flux[1, 1, 2, 5] * 3.4, flux[1, 2, 2, 5] * 2.2
    i = (g + r + z) / 3 + 1e-6
    k = np.arcsinh(20 * i) / np.sqrt(20) / i
    np.testing.assert_allclose(rgb[1, 2, 5], np.clip([z * k, r * k, g * k], 0, 1), rtol=1e-5)
    # Bands in another order are found by name.
    swapped = astrofm.display_rgb(flux[:, ::-1], ["DES-Z", "DES-R", "DES-G"])
    np.testing.assert_allclose(swapped, rgb, rtol=1e-6)
    plain = astrofm.display_rgb(flux)
    np.testing.assert_allclose(plain, np.moveaxis(flux, 1, -1), rtol=1e-6)
    with pytest.raises(ValueError, match="bands name 2 values"):
        astrofm.display_rgb(flux, ["DES-G", "DES-R"])
