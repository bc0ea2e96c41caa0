"""astrofm.AION: the transformer and its codecs opened once; raw columns in,
the same embeddings and generated distributions as the file jobs give from
the tokenized dataset."""
import numpy as np
import pytest

import astrofm
from conftest import run

CODECS = ["codecs-scalar", "codec-image", "codec-spectrum"]


def by_id(t, column):
    ids = [i.decode() if isinstance(i, bytes) else str(i) for i in t["object_id"]]
    return dict(zip(ids, t[column]))


@pytest.fixture(scope="module")
def raw(sim):
    t = astrofm.open_dataset(str(sim / "sim")).read(["object_id", "image_array", "image_band", "image_ivar", "FLUX_G"])
    return t


def test_embeddings_from_raw_columns_equal_the_embed_job_on_tokens(sim, aion_model, raw, tmp_path):
    aion = astrofm.AION(aion_model, codecs=CODECS)
    run("embed", "--model", aion_model, "--data", str(sim / "tok"), "--inputs", "tok_image", "tok_FLUX_G", "--out", str(tmp_path / "e"))
    ref = by_id(astrofm.open_dataset(str(tmp_path / "e")).read(), "embedding_aion")
    got = aion.embed(raw)
    ids = [str(i) for i in raw["object_id"]]
    assert got.shape == (len(ids), len(ref[ids[0]]))
    np.testing.assert_allclose(got, np.stack([ref[i] for i in ids]), rtol=1e-4, atol=1e-5)
    # AION's names work as inputs (flux images get unit weights), and per-token outputs come too.
    named, toks = aion.embed(LegacySurveyImage=raw["image_array"], LegacySurveyFluxG=raw["FLUX_G"], tokens=True)
    assert named.shape == got.shape and toks.ndim == 3 and toks.shape[0] == len(ids)
    np.testing.assert_allclose(named, toks.mean(axis=1), rtol=1e-4, atol=1e-5)
    # Redshift joins an embedding only when named: Z=... changes it, a Z column in `data` does not.
    z = np.full(len(ids), 0.3)
    np.testing.assert_array_equal(aion.embed({**raw, "Z": z}), got)
    assert np.abs(aion.embed(raw, Z=z) - got).max() > 1e-4


def test_generated_redshifts_equal_the_generate_job(sim, aion_model, raw, tmp_path):
    aion = astrofm.AION(aion_model, codecs=CODECS)
    run("generate", "--model", aion_model, "--codecs", *CODECS, "--data", str(sim / "tok"), "--from", "image", "FLUX_G",
        "--to", "Z", "--out", str(tmp_path / "g"))
    ref = by_id(astrofm.open_dataset(str(tmp_path / "g")).read(), "Z_mean")
    got = aion.generate("Z", raw, from_=["image", "LegacySurveyFluxG"])
    np.testing.assert_allclose(got["Z_mean"], [ref[str(i)] for i in got["object_id"]], rtol=1e-5)
    assert got["Z_pdf"].shape[0] == len(raw["object_id"])
    np.testing.assert_allclose(got["Z_pdf"].sum(axis=1), 1.0, rtol=1e-4)


def test_bad_inputs_name_what_is_wrong(aion_model):
    aion = astrofm.AION(aion_model, codecs=CODECS)
    with pytest.raises(KeyError, match="LegacySurveyImages"):
        aion.embed(LegacySurveyImages=np.zeros((1, 3, 64, 64)))
    with pytest.raises(ValueError, match="pass bands"):
        aion.embed(LegacySurveyImage=np.zeros((1, 7, 64, 64), dtype=np.float32))
    with pytest.raises(ValueError, match="not an AION model"):
        astrofm.AION("galaxy-cnn-ssl")
