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

from . import _core
from ._core import set_models_dir, shipped_models
from .probes import (KNeighborsClassifier, KNeighborsRegressor, LogisticProbe,
                     MLPProbe, RidgeProbe)

__all__ = ["open_dataset", "Dataset", "Encoder", "open_index", "SearchIndex", "KNeighborsRegressor",
           "KNeighborsClassifier", "RidgeProbe", "LogisticProbe", "MLPProbe", "shipped_models", "set_models_dir",
           "Codecs"]

Dataset = _core.Dataset


def open_dataset(path):
    """An MMU dataset (a config folder, a root with one config, or one .hdf5 file)."""
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
