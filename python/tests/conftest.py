import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ASTROFM_BUILD", os.path.join(ROOT, "build"))
ASTROFM = os.path.join(BUILD, "tools", "astrofm", "astrofm")
sys.path.insert(0, BUILD)


def run(*args):
    r = subprocess.run([ASTROFM, "-q", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    """A small simulated survey with images and spectra, and its embeddings."""
    d = tmp_path_factory.mktemp("sim")
    run("simulate", "--objects", "12", "--seed", "5", "--spectrum-step", "4", "--out", str(d / "sim"))
    run("embed", "--model", "galaxy-cnn-ssl", "--data", str(d / "sim"), "--batch", "64", "--out", str(d / "emb"))
    run("index", "build", str(d / "emb"), "--kind", "flat", "--out", str(d / "ix"))
    return d


@pytest.fixture(scope="session")
def aion_model(sim):
    """A tiny AION trained a few steps on the survey's tokens (shipped codecs)."""
    codecs = ["codecs-scalar", "codec-image", "codec-spectrum"]
    run("tokenize", "--codecs", *codecs, "--data", str(sim / "sim"), "--out", str(sim / "tok"))
    cfg = sim / "aion.json"
    cfg.write_text('{"model": {"dim": 32, "encoder_depth": 1, "decoder_depth": 1, "num_heads": 2, "mlp_hidden": 64},'
                   ' "steps": 4, "batch": 4, "val_every": 2, "checkpoint_every": 2}')
    run("train", "aion", "--codecs", *codecs, "--data", str(sim / "tok"), "--config", str(cfg), "--out", str(sim / "aion.afm"))
    return str(sim / "aion.afm")
