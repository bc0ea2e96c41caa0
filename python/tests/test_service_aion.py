"""AION models in `astrofm serve`: generation by ids and embeddings from raw
inputs, in memory, with the model and its codecs loaded once."""
import os
import urllib.request

import numpy as np
import pytest

import astrofm
from astrofm import Client
from conftest import run
from servers import sim_images, start_server, stop


@pytest.fixture(scope="module")
def served(sim, aion_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("serve-aion")
    p, url = start_server(d, "--model", aion_model, "--data", f"tok={sim / 'tok'}")
    yield {"url": url, "sim": sim, "client": Client(url)}
    stop(p)


def test_generate_with_an_aion_model(served):
    ids, _, _, _ = sim_images(served["sim"])
    out = served["client"].generate(ids[:2], to="Z", data="tok", inputs=["image"])
    assert len(out) == 2 and out[0]["object_id"] == ids[0]
    assert out[0]["Z_p16"] <= out[0]["Z_median"] <= out[0]["Z_p84"]
    assert abs(sum(out[0]["Z_pdf"]) - 1) < 1e-3


def test_aion_embeds_raw_images_as_from_their_tokens(served, tmp_path):
    """An AION model served with its codecs takes raw cutouts: the service
    tokenizes them (codecs loaded once) and embeds in memory, giving what
    `astrofm embed` gives from the tokenized dataset with the image alone."""
    sim = served["sim"]
    ids, images, bands, _ = sim_images(sim)
    run("embed", "--model", str(sim / "aion.afm"), "--data", str(sim / "tok"), "--inputs", "tok_image", "--out", str(tmp_path / "e"))
    t = astrofm.open_dataset(str(tmp_path / "e")).read()
    ref = dict(zip([i.decode() if isinstance(i, bytes) else str(i) for i in t["object_id"]], t["embedding_aion"]))
    got = served["client"].embeddings(images[:4], model="aion", bands=bands)
    assert got.shape == (4, len(ref[ids[0]]))
    np.testing.assert_allclose(got, np.stack([ref[i] for i in ids[:4]]), rtol=1e-4, atol=1e-5)
    again = served["client"].embeddings(images[:4], model="aion", bands=bands)
    np.testing.assert_array_equal(got, again)


def test_every_route_writes_no_scratch_files(served, aion_model, tmp_path):
    """TMPDIR names a regular file, so any scratch folder would fail even as
    root: every route answers, in memory (AION's model and codecs loaded once)."""
    sim = served["sim"]
    run("xmatch", str(sim / "emb"), str(sim / "sim"), "--radius", "0.1", "--config", "withz", "--out", str(tmp_path / "embz"))
    run("probe", "knn", "--train", str(tmp_path / "embz"), "--features", "embedding_image", "--target", "Z", "--k", "3",
        "--save", str(tmp_path / "z.probe"))
    not_a_dir = tmp_path / "not-a-directory"
    not_a_dir.write_text("")
    p, url = start_server(tmp_path, "--model", "galaxy-cnn-ssl", "--model", aion_model, "--index", f"sim={sim / 'ix'}",
                          "--data", f"simdata={sim / 'sim'}", "--data", f"tok={sim / 'tok'}", "--probe", f"z={tmp_path / 'z.probe'}",
                          env=dict(os.environ, TMPDIR=str(not_a_dir)))
    try:
        ids, images, bands, _ = sim_images(sim)
        c = Client(url)
        assert c.health()
        assert {m["name"] for m in c.models()["models"]} >= {"galaxy-cnn-ssl", "aion"}
        obj = c.object(ids[0])
        assert len(c.cutout(ids[0])) > 100
        for path in ("/", "/static/app.js", "/static/discover.js", "/static/style.css",
                     f"/scs/simdata?RA={obj['ra']}&DEC={obj['dec']}&SR=0.5"):
            with urllib.request.urlopen(url + path) as r:
                assert r.status == 200, path
        assert c.embeddings(images[:2], model="galaxy-cnn-ssl", bands=bands).shape[0] == 2
        assert c.embeddings(images[:2], model="aion", bands=bands).shape[0] == 2
        assert len(c.search(id=ids[0], index="sim", k=3)) > 0
        assert len(c.predict("z", ids=ids[:2])) > 0
        assert c.discover(index="sim", positives=ids[:2], suggest=2)
        first = c.generate(ids[:3], to="Z", data="tok", inputs=["image"])
        again = c.generate(ids[:3], to="Z", data="tok", inputs=["image"])
        assert [o["object_id"] for o in first] == ids[:3]
        assert first == again  # same seed, same answer, from the one loaded model
    finally:
        stop(p)
