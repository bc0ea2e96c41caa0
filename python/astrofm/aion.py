"""AION-1 as one object: the transformer and its codecs opened once, raw
survey columns in; tokens, embeddings and generated modalities out.

    aion = astrofm.AION("aion-base")   # a bundle, a released snapshot folder or a registered name
    emb = aion.embed(LegacySurveyImage=flux, LegacySurveyFluxG=g)   # [n, dim]
    z = aion.generate("Z", LegacySurveyImage=flux)                  # Z_mean, Z_pdf, ...

Inputs are AION's modality names (LegacySurveyImage, HSCImage, DESISpectrum,
SDSSSpectrum, LegacySurveyFluxG, LegacySurveySegmentationMap, Z, ...), so an AION notebook ports line by
line, or a dict of MMU columns (image_array + image_band, spectrum_flux +
spectrum_lambda + ..., FLUX_G, ...). Images are flux in nanomaggies, [n,
bands, h, w], their bands by survey unless `bands=` names them.
"""
import numpy as np

from . import _core

_SURVEY_OF_IMAGE = {"LegacySurveyImage": "LegacySurvey", "HSCImage": "HSC"}
# survey -> {band count: band names}, from the C++ band table (bands.h), so the
# service, the encoders and Python agree.
SURVEY_BANDS = {}
for _survey, _names in _core.image_band_sets():
    SURVEY_BANDS.setdefault(_survey, {})[len(_names)] = list(_names)


class AION:
    def __init__(self, model, codecs=None, dtype="float32"):
        self._core = _core.Aion(model, list(codecs or []), dtype)
        self._release = {r["aion_class"]: r for r in _core.aion_modalities()}

    @property
    def name(self):
        return self._core.name

    @property
    def token_columns(self):
        return self._core.token_columns

    def columns(self, data=None, bands=None, **modalities):
        """The MMU columns of `data` (a dict) and of AION-named modalities."""
        cols = dict(data or {})
        for name, value in modalities.items():
            r = self._release.get(name)
            if r is None:
                raise KeyError(f"{name!r} is not an AION modality (known: {', '.join(sorted(self._release))})")
            if r["kind"] == "image":
                flux = np.asarray(value, dtype=np.float32)
                if flux.ndim != 4:
                    raise ValueError(f"{name}: expected [n, bands, h, w] flux, got shape {flux.shape}")
                names = bands or SURVEY_BANDS.get(_SURVEY_OF_IMAGE.get(name, ""), {}).get(flux.shape[1])
                if names is None:
                    raise ValueError(f"{name}: {flux.shape[1]}-band images; pass bands=[...]")
                cols["image_array"] = flux
                cols["image_band"] = np.array([list(names)] * len(flux))
            elif r["kind"] == "field":  # a map per object [n, h, w], e.g. LegacySurveySegmentationMap
                cols[r["codec"]] = np.asarray(value, dtype=np.float32)
            elif r["kind"] in ("spectrum", "catalog"):
                cols.update(dict(value))  # its MMU columns (spectrum_flux, spectrum_lambda, ... / catalog_X, ...)
            else:
                cols[r["codec"]] = np.asarray(value, dtype=np.float64)
        if not cols:
            raise ValueError("no inputs: pass MMU columns or AION modalities (LegacySurveyImage=..., Z=...)")
        return cols

    def tokenize(self, data=None, bands=None, **modalities):
        """Every column with the token columns (tok_*) the model's codecs make
        (redshift and position only when named as modalities, as in embed)."""
        named = [self._release[m]["column"] for m in modalities]
        return self._core.tokenize(self.columns(data, bands, **modalities), named)

    def embed(self, data=None, bands=None, tokens=False, **modalities):
        """The joint embedding [n, dim]; with tokens=True also the encoder's tokens [n, T, dim].
        Redshift and position in `data` stay out unless named as modalities (Z=...)."""
        named = [self._release[m]["column"] for m in modalities]
        out = self._core.embed(self.columns(data, bands, **modalities), tokens, named)
        emb = next(v for k, v in out.items() if k.startswith("embedding_"))
        if tokens:
            return emb, next(v for k, v in out.items() if k.startswith("tokens_"))
        return emb

    def generate(self, to, data=None, bands=None, from_=None, steps=8, temperature=1.0, seed=1, **modalities):
        """`to` (an AION name, a column or tok_ name) from the inputs: one-token
        targets as their distribution (<to>_mean, _median, _mode, _p16, _p84, _pdf, ...),
        many-token targets as MMU columns decoded by the codec."""
        to = self._release[to]["column"] if to in self._release else to
        from_ = [self._release[f]["column"] if f in self._release else f for f in (from_ or [])]
        return self._core.generate(self.columns(data, bands, **modalities), to, from_, int(steps), float(temperature), int(seed))
