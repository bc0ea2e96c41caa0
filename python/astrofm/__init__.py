"""astrofm: multimodal foundation models for survey astronomy, from Python.

    import astrofm
    ds = astrofm.open_dataset("out/demo/gz")
    for batch in ds.batches(columns=["object_id", "image_array"], batch_rows=256):
        ...                                   # dicts of numpy arrays
    enc = astrofm.Encoder("galaxy-cnn-ssl")
    emb = enc.embed(images=batch["image_array"], bands=["SDSS-I", "SDSS-R", "SDSS-G"])
    knn = astrofm.KNeighborsRegressor(n_neighbors=5).fit(emb, y)   # a scikit-learn estimator
    index = astrofm.open_index("out/demo/spec_index")
    hits = index.search(id="...", k=10, cone=(150.1, 2.2, 2.0))

Errors from astrofm arrive as ValueError (bad input, corrupt file), KeyError
(an unknown id, model or column) or OSError (a file that cannot be read or
written), with astrofm's message naming the file, field and value.
"""
import json as _json

from .client import Client, ServerError  # pure Python: usable without the compiled module's models
from . import _core
from ._core import display_rgb, set_models_dir, shipped_models
from .aion import AION, SURVEY_BANDS as _SURVEY_BANDS
from .probes import (KNeighborsClassifier, KNeighborsRegressor, LogisticProbe,
                     MLPProbe, RidgeProbe)

__all__ = ["open_dataset", "Dataset", "Encoder", "open_index", "SearchIndex", "KNeighborsRegressor",
           "KNeighborsClassifier", "RidgeProbe", "LogisticProbe", "MLPProbe", "shipped_models", "set_models_dir",
           "Codecs", "tokenize", "FineTunedModel", "AION", "Client", "ServerError", "display_rgb"]

Dataset = _core.Dataset


def open_dataset(path):
    """An MMU dataset (a config folder, a root with one config, or one .hdf5
    file) or a HATS catalogue (a catalogue or collection folder, or one leaf
    .parquet file): docs/formats/hats.md."""
    return _core.Dataset(path)


class Encoder:
    """A model (shipped name or .afm path) that embeds numpy arrays in memory.

    embed(images=[N, bands, H, W], bands=[...]) or embed(spectra=[N, L]) returns
    the [N, D] embeddings; with both (or tokens=True) a dict of arrays
    (embedding_image, embedding_spectrum, tokens_*). Identical to
    `astrofm embed` on the same objects.
    """

    def __init__(self, model, device="cpu"):
        self._enc = _core.Encoder(model, device)

    name = property(lambda self: self._enc.name)
    path = property(lambda self: self._enc.path)
    architecture = property(lambda self: self._enc.architecture)
    modalities = property(lambda self: list(self._enc.modalities))

    @property
    def meta(self):
        return _json.loads(self._enc.meta_json)

    def embed(self, images=None, bands=None, spectra=None, tokens=False):
        out = self._enc.embed_table(images=images, bands=bands, spectra=spectra, tokens=tokens)
        if len(out) == 1:
            return next(iter(out.values()))
        return out

    def __repr__(self):
        return f"Encoder({self.name!r}, architecture={self.architecture!r}, modalities={self.modalities})"


class SearchIndex:
    """A saved similarity index (`astrofm index build`)."""

    def __init__(self, path):
        self._ix = _core.SearchIndex(path)

    def __len__(self):
        return len(self._ix)

    @property
    def meta(self):
        return _json.loads(self._ix.meta_json)

    def search(self, vector=None, id="", k=10, cone=None, dedup_arcsec=0.0, query_column=""):
        """Nearest neighbours of a vector or of a catalogue object's id; cone=(ra, dec, radius_deg).

        Returns a dict of arrays: object_id, ra, dec, score.
        """
        return self._ix.search(vector=vector, id=id, k=k, cone=None if cone is None else tuple(cone),
                               dedup_arcsec=dedup_arcsec, query_column=query_column)


def open_index(path):
    return SearchIndex(path)


class Codecs:
    """Modality codecs (tokenizers) from one or several codec files or shipped
    names (docs/codecs.md). Columns are dicts of numpy arrays in the MMU
    layout; tokens are int32 arrays [n, num_tokens], -1 where a value is missing.

    >>> c = astrofm.Codecs("codecs-scalar")
    >>> tok = c.encode("mag_r", {"mag_r": mags})
    >>> c.decode("mag_r", tok)["mag_r"]
    """

    def __init__(self, *paths):
        self._set = _core.CodecSet(list(paths))

    @property
    def modalities(self):
        return self._set.modalities

    def info(self, modality):
        """kind, num_tokens, vocab_size and config of one modality's codec."""
        return _json.loads(self._set.info_json(modality))

    def encode(self, modality, columns):
        return self._set.encode(modality, dict(columns))

    def decode(self, modality, tokens, context=None):
        return self._set.decode(modality, tokens, dict(context or {}))


_SHIPPED_CODECS = ("codecs-scalar", "codec-image", "codec-spectrum")
# Survey names for images (AION's modality names too) -> band names, by channel count.
# Token keys follow AION's: tok_image for the Legacy Survey (and SDSS, which AION
# lacks), tok_image_hsc for HSC (astrofm tokenize --as image=image_hsc).
_SURVEY_KEYS = {"HSC": "tok_image_hsc"}


def tokenize(data, modality, codecs=None, bands=None):
    """Tokens of one modality, as the AION models take them: a dict
    {"tok_<modality>": int32 array [n, num_tokens]} (HSC images: "tok_image_hsc",
    AION's key). `data` is an array of
    flux images [n, bands, h, w] (modality "HSC", "LegacySurvey", "SDSS" or
    "image" with `bands`), a dict of MMU spectrum columns (modality "spectrum"),
    or an array of values (a scalar column name such as "Z" or "FLUX_G").
    Uses the shipped codecs unless `codecs` (files, a bundle or a released
    snapshot folder) are given. AION's class names work as modalities too
    (LegacySurveyImage, HSCImage, DESISpectrum, SDSSSpectrum,
    LegacySurveyFluxG, Z, ...), so an AION notebook ports line by line. Dicts
    of several modalities can be merged for data fusion: {**a, **b}."""
    import numpy as np
    release = {r["aion_class"]: r for r in _core.aion_modalities()}
    if modality in release:
        r = release[modality]
        if r["kind"] == "image":
            modality = "HSC" if modality == "HSCImage" else "LegacySurvey"
        elif r["kind"] == "spectrum":
            return {r["column"]: tokenize(data, "spectrum", codecs)["tok_spectrum"]}
        else:
            modality = r["codec"]
    c = Codecs(*(codecs or _SHIPPED_CODECS))
    if modality in _SURVEY_BANDS or modality == "image":
        flux = np.asarray(data, dtype=np.float32)
        if flux.ndim != 4:
            raise ValueError(f"{modality} images: expected [n, bands, h, w], got shape {flux.shape}")
        if bands is None:
            bands = _SURVEY_BANDS.get(modality, {}).get(flux.shape[1])
            if bands is None:
                raise ValueError(f"{modality}: {flux.shape[1]}-band images; pass bands=[...]")
        cols = {"image_array": flux, "image_band": np.array([list(bands)] * len(flux)),
                "image_ivar": np.ones_like(flux)}  # flux images (not 8-bit display cutouts)
        return {_SURVEY_KEYS.get(modality, "tok_image"): c.encode("image", cols)}
    if modality == "spectrum":
        return {"tok_spectrum": c.encode("spectrum", dict(data))}
    return {"tok_" + modality: c.encode(modality, {modality: np.asarray(data)})}


class FineTunedModel:
    """Adaptation of a frozen AION model, scikit-learn style (AION's
    posttraining): `fit(tokens, y)` / `predict(tokens)` where tokens is a dict
    from `astrofm.tokenize` (merge several for any mix of input modalities).
    adaptation: "AttentivePooling" (a learned query attending over the
    encoder's output tokens, AION's CrossAttentionProbing) or "MeanPooling"
    (ridge regression on the mean of those tokens, AION's LinearProbing).
    task: "regression" or "classification"."""

    def __init__(self, base, adaptation="AttentivePooling", task="regression", seed=0):
        self.base = base  # a model file, a bundle, a released snapshot folder or a registered name
        self.adaptation = adaptation
        self.task = task
        self.seed = seed
        self._model = None

    def _aion(self):
        if self._model is None:  # opened once, for every fit and predict
            self._model = _core.AionModel(self.base)
            cfg = _json.loads(self._model.config_json)
            self._by_name = {}
            for m in cfg["modalities"]:
                self._by_name[m["column"]] = self._by_name[m["key"]] = m
            # AION's own class names (LegacySurveyImage, Z, ...) as an AION notebook writes them.
            for r in _core.aion_modalities():
                if r["token_key"] in self._by_name:
                    self._by_name[r["aion_class"]] = self._by_name[r["token_key"]]
        return self._model

    def _tokens(self, X):
        import numpy as np
        model = self._aion()
        by_col = self._by_name
        toks, total = {}, 0
        for col, arr in dict(X).items():
            if col not in by_col:
                raise KeyError(f"the AION model has no modality {col!r} (it knows {', '.join(sorted(by_col))})")
            arr = np.asarray(arr, dtype=np.int64)
            toks[by_col[col]["key"]] = arr.reshape(len(arr), -1)
            total += toks[by_col[col]["key"]].shape[1]
        if not toks:
            raise ValueError("no tokens: pass the dict astrofm.tokenize returns")
        masks = {k: v < 0 for k, v in toks.items()}  # missing values are absent tokens
        return model.encode(toks, masks, total)  # [n, tokens, dim]

    def _features(self, X):
        t = self._tokens(X)
        if self.adaptation == "MeanPooling":
            return t.mean(axis=1), 0
        return t.reshape(len(t), -1), t.shape[1]

    def fit(self, X, y):
        import numpy as np
        if self.adaptation not in ("AttentivePooling", "MeanPooling"):
            raise ValueError(f"adaptation must be 'AttentivePooling' or 'MeanPooling', got {self.adaptation!r}")
        feats, ntok = self._features(X)
        y = np.asarray(y)
        if self.task == "classification":
            self.classes_, yi = np.unique(y, return_inverse=True)
            kind = "attentive" if ntok else "logistic"
            self._impl = _core.Probe(kind, True, len(self.classes_), int(self.seed), False, int(ntok))
            self._impl.fit(feats, yi.astype(np.float64))
        else:
            kind = "attentive" if ntok else "ridge"
            self._impl = _core.Probe(kind, False, 0, int(self.seed), False, int(ntok))
            self._impl.fit(feats, y.astype(np.float64))
        return self

    def predict(self, X):
        import numpy as np
        feats, _ = self._features(X)
        p = self._impl.predict(feats)
        if self.task == "classification":
            return self.classes_[np.asarray(p, dtype=np.int64)]
        return p
