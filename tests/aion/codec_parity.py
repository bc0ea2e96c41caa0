"""Parity of astrofm's codecs with AION's own package (polymathic-aion).

Builds AION's image, spectrum and scalar codecs with tiny configs and random
weights (never its hub loaders), saves their state dicts, converts them with
`astrofm convert --kind aion-codec-*`, and checks that astrofm gives the same
tokens, the same preprocessing and the same decodes (1e-5). Run by CTest
(AION.CodecParity) with the virtual environment of scripts/aion-venv.sh:
  ASTROFM_BUILD=build build/aion-venv/bin/python tests/aion/codec_parity.py
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import BIN, astrofm, check, close, finish  # noqa: E402  (Debian torch shims, astrofm, the report)
from aion.codecs import (CatalogCodec, GridScalarCodec, ImageCodec, LogScalarCodec, MultiScalarCodec,  # noqa: E402
                         ScalarCodec, ScalarFieldCodec, SpectrumCodec)
from aion.modalities import (DESISpectrum, HSCImage, LegacySurveyCatalog, LegacySurveyImage,  # noqa: E402
                             LegacySurveySegmentationMap, ScalarModalities)

torch.manual_seed(0)
rng = np.random.default_rng(0)
tmp = tempfile.mkdtemp(prefix="aion-parity-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # also when a check fails


def randomize(module, scale=0.3):
    """Perturb every parameter so that no zero-initialised gate hides a mistake."""
    with torch.no_grad():
        for n, p in module.named_parameters():
            p.add_(scale * torch.randn_like(p) / max(1.0, p[0].numel() ** 0.5 if p.dim() > 1 else 1.0))


def convert(codec, kind, stem, *sets):
    pt = os.path.join(tmp, stem + ".pt")
    out = os.path.join(tmp, stem + ".afm")
    torch.save(codec.state_dict(), pt)
    cmd = [BIN, "-q", "convert", pt, "--kind", kind, "--out", out]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True)
    return astrofm._core.CodecSet([out])


# ---------------------------------------------------------------- image
img = ImageCodec(quantizer_levels=[7, 5, 5, 5, 5], hidden_dims=32, n_compressions=2, num_consecutive=1)
randomize(img)
img.eval()
cs = convert(img, "aion-codec-image", "image")


def galaxies(n, bands, size, peak):
    y, x = np.mgrid[0:size, 0:size] - (size - 1) / 2
    out = rng.normal(0, 0.05 * peak, (n, bands, size, size))
    for i in range(n):
        r = rng.uniform(2, 8)
        out[i] += peak * rng.uniform(0.2, 3, (bands, 1, 1)) * np.exp(-(x**2 + y**2) / (2 * r * r))
    return out.astype(np.float32)


for label, cls, bands, peak in [
    ("Legacy Survey g r i z", LegacySurveyImage, ["DES-G", "DES-R", "DES-I", "DES-Z"], 5.0),
    ("Legacy Survey g r z (a band missing)", LegacySurveyImage, ["DES-G", "DES-R", "DES-Z"], 5.0),
    ("HSC g r i z y", HSCImage, ["HSC-G", "HSC-R", "HSC-I", "HSC-Z", "HSC-Y"], 300.0),
]:
    flux = galaxies(3, len(bands), 100, peak)  # 100 px: both crop
    with torch.no_grad():
        ref = img.encode(cls(flux=torch.tensor(flux), bands=bands)).numpy()
        # AION's preprocessing, step by step (it modifies its input in place).
        x = img.center_crop(torch.tensor(flux))
        x = img.clamp(x, bands)
        x = img.rescaler.forward(x, img._get_survey(bands))
        x = img._range_compress(x)
        x, _ = img.image_padder.forward(x, bands)
    cols = {"image_array": flux, "image_band": np.array([bands] * 3), "image_ivar": np.ones_like(flux)}
    tok = cs.encode("image", cols)
    check(f"image tokens, {label}", tok.shape == ref.shape and np.array_equal(tok, ref),
          f"{int((tok != ref).sum()) if tok.shape == ref.shape else 'shape'} of {ref.size} differ")
    close(f"image preprocessing, {label}", cs.preprocess("image", cols), x.numpy(), 1e-6)
    if cls is LegacySurveyImage:  # AION's decode of HSC bands fails (RescaleToLegacySurvey.backward calls a missing method)
        with torch.no_grad():
            dec = img.decode(torch.tensor(ref).long(), bands=bands).flux.numpy()
        mine = cs.decode("image", ref, {"image_band": np.array([bands] * 3)})["image_array"]
        close(f"image decode, {label}", mine, dec)

# ---------------------------------------------------------------- spectrum
spec = SpectrumCodec(encoder_depths=(1, 1, 2), encoder_dims=(16, 32, 48), decoder_depths=(1, 1, 1), decoder_dims=(32, 16, 1),
                     num_pixels=1024, resolution=6.0, latent_channels=48, embedding_dim=10)
randomize(spec)
spec.eval()
ss = convert(spec, "aion-codec-spectrum", "spectrum")
lam = np.tile(np.arange(3600.0, 9824.0, 0.8, dtype=np.float32), (4, 1))
cont = rng.uniform(0.5, 40, (4, 1)) * (1 + 0.3 * np.sin(lam / 700.0))
flux = (cont + rng.normal(0, 1, lam.shape)).astype(np.float32)
flux[0] *= 0.001  # a faint one: normalisation clamps at 0.1
ivar = rng.uniform(0.1, 200, lam.shape).astype(np.float32)  # above the 100 clip too
mask = rng.random(lam.shape) < 0.05
with torch.no_grad():
    s_in = DESISpectrum(flux=torch.tensor(flux), ivar=torch.tensor(ivar), mask=torch.tensor(mask), wavelength=torch.tensor(lam))
    ref = spec.encode(s_in).numpy()
    x_ref, _ = None, None
    h = spec._encode(DESISpectrum(flux=torch.tensor(flux), ivar=torch.tensor(ivar), mask=torch.tensor(mask), wavelength=torch.tensor(lam)))
cols = {"spectrum_flux": flux, "spectrum_ivar": ivar, "spectrum_mask": mask, "spectrum_lambda": lam}
tok = ss.encode("spectrum", cols)
check("spectrum tokens (normalisation token included)", tok.shape == ref.shape and np.array_equal(tok, ref),
      f"{int((tok != ref).sum()) if tok.shape == ref.shape else 'shape'} of {ref.size} differ")


# AION's preprocessing: the two arcsinh channels on the latent grid (recomputed as its _encode does).
def aion_spectrum_input(codec, flux, ivar, mask, lam):
    f = torch.nan_to_num(torch.tensor(flux))
    iv = torch.clamp(torch.nan_to_num(torch.tensor(ivar)), 0, codec.clip_ivar)
    istd = torch.sqrt(iv)
    m = torch.tensor(mask)
    n = (f * (1.0 - m.float())).sum(dim=-1) / (torch.count_nonzero(~m, dim=-1) + 1.0)
    n = torch.log10(torch.clamp(n, 0.1) + 1.0)
    n = codec.normalization_quantizer.quantize(n)
    nn_ = torch.clamp(10 ** n[..., None] - 1.0, 0.1)
    sp = codec.latent_grid.to_latent((f / nn_ - 1.0) * codec.input_scaling, torch.tensor(lam))
    st = codec.latent_grid.to_latent(istd / nn_ * codec.input_scaling, torch.tensor(lam))
    return torch.arcsinh(torch.stack([sp, st], dim=1)).numpy()


close("spectrum preprocessing (grid, normalisation, channels)", ss.preprocess("spectrum", cols), aion_spectrum_input(spec, flux, ivar, mask, lam), 1e-6)
with torch.no_grad():
    dec = spec.decode(torch.tensor(ref).long(), wavelength=torch.tensor(lam)).flux.numpy()
mine = ss.decode("spectrum", ref, {"spectrum_lambda": lam})
inside = ~mine["spectrum_mask"]  # beyond the latent grid AION writes the normalisation, astrofm 0 with mask = true
check("spectrum decode masks what lies beyond the latent grid", bool((lam[~inside] > 3500 + 6.0 * 1023).all()) and inside.sum() > 0)
close("spectrum decode on the observed grid", mine["spectrum_flux"][inside], dec[inside])

# ---------------------------------------------------------------- scalars
for label, codec, column, sets, values in [
    ("log (FLUX_G)", LogScalarCodec("FLUX_G", 1024, 2000), "FLUX_G", ["modality=FLUX_G"], rng.lognormal(1, 1.5, 3000)),
    ("linear (g_cmodel_mag)", ScalarCodec("g_cmodel_mag", 1024, 2000), "g_cmodel_mag", ["modality=g_cmodel_mag"], rng.normal(22, 1.5, 3000)),
    ("grid (Z)", GridScalarCodec("Z", 1024), "Z", [], rng.uniform(-0.05, 1.1, 3000)),
]:
    v = torch.tensor(values, dtype=torch.float32)
    if not isinstance(codec, GridScalarCodec):
        codec.quantizer._update_reservoirs(v[:2000])
    sc = convert(codec, "aion-codec-scalar", "scalar_" + column, *sets)
    test = v[2000:].clone()
    test[:5] = torch.tensor([1e-9, 0.0, -1.0, 1e6, float(v.min()) - 1])  # floor, zero, negative, above, below
    with torch.no_grad():
        ref = codec.encode(ScalarModalities[column](value=test)).numpy()
        dec = codec.decode(torch.tensor(ref)).value.numpy()
    tok = sc.encode(column, {column: test.numpy()})
    check(f"scalar tokens, {label}", np.array_equal(tok[:, 0], ref), f"{int((tok[:, 0] != ref).sum())} of {ref.size} differ")
    close(f"scalar decode, {label}", sc.decode(column, ref.reshape(-1, 1))[column], dec)

xp = MultiScalarCodec("bp_coefficients", ["arcsinh"], ["sinh"], 1024, 1000, 4)
vals = torch.tensor(rng.normal(0, 50, (1500, 4)), dtype=torch.float32)
xp.quantizer._update_reservoirs(vals[:1000])
xs = convert(xp, "aion-codec-scalar", "scalar_xp", "modality=bp_coefficients")
with torch.no_grad():
    ref = xp.encode(ScalarModalities["bp_coefficients"](value=vals[1000:])).numpy()
    dec = xp.decode(torch.tensor(ref)).value.numpy()
tok = xs.encode("bp_coefficients", {"bp_coefficients": vals[1000:].numpy()})
check("vector scalar tokens (Gaia XP, arcsinh, 4 coefficients)", np.array_equal(tok, ref), f"{int((tok != ref).sum())} of {ref.size} differ")
close("vector scalar decode", xs.decode("bp_coefficients", ref)["bp_coefficients"], dec)

# ---------------------------------------------------------------- catalog
cat = CatalogCodec()
for key, scale in [("SHAPE_E1", 0.2), ("SHAPE_E2", 0.2), ("SHAPE_R", 1.5)]:
    cat.quantizer.quantizers[key]._update_reservoirs(torch.tensor(rng.normal(0, scale, 5000), dtype=torch.float32))
B, L = 6, 10
entries = {"X": rng.integers(0, 96, (B, L)).astype(np.float64), "Y": rng.integers(0, 96, (B, L)).astype(np.float64),
           "SHAPE_E1": rng.normal(0, 0.2, (B, L)), "SHAPE_E2": rng.normal(0, 0.2, (B, L)), "SHAPE_R": np.abs(rng.normal(0, 1.5, (B, L)))}
n_real = rng.integers(1, L + 1, B)  # objects with fewer detections: the rest masked with 9999, as AION pads
for key in entries:
    for i in range(B):
        entries[key][i, n_real[i]:] = 9999
cs_cat = convert(cat, "aion-codec-catalog", "catalog")
with torch.no_grad():
    ref = cat.encode(LegacySurveyCatalog(X=torch.tensor(entries["X"]).long(), Y=torch.tensor(entries["Y"]).long(),
                                         **{k: torch.tensor(entries[k], dtype=torch.float32) for k in ("SHAPE_E1", "SHAPE_E2", "SHAPE_R")})).numpy()
tok = cs_cat.encode("catalog", {"catalog_" + k: v for k, v in entries.items()})
mine = np.where(tok == -1, 9999, tok)  # astrofm's missing token where AION writes its mask value
check("catalog tokens (positions, shapes, masked entries)", mine.shape == ref.shape and np.array_equal(mine, ref),
      f"{int((mine != ref).sum()) if mine.shape == ref.shape else (mine.shape, ref.shape)} of {ref.size} differ")
dec = cs_cat.decode("catalog", tok)
with torch.no_grad():
    real = torch.tensor(ref[0, :5 * int(n_real[0])]).reshape(1, -1)  # AION decodes unmasked entries only
    back = cat.decode(real)
for k in ("X", "Y", "SHAPE_E1", "SHAPE_E2", "SHAPE_R"):
    close(f"catalog decode, {k}", dec["catalog_" + k][0, :int(n_real[0])], getattr(back, k).numpy().reshape(-1).astype(np.float64))

# ---------------------------------------------------------------- segmentation map
# AION's default embedding_dim is encoder_output_dim, which its FSQ of four
# levels cannot quantise: a working codec sets it to the number of levels.
seg = ScalarFieldCodec(encoder_output_dim=16, embedding_dim=4, res_hidden_dims=8)
randomize(seg)
with torch.no_grad():  # BatchNorm statistics away from 0 and 1, so that eval mode is exercised
    for m in seg.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
seg.eval()
cs_seg = convert(seg, "aion-codec-field", "segmap")
yy, xx = np.mgrid[0:110, 0:104]
maps = np.zeros((4, 110, 104), np.float32)  # not square, larger than the crop: both axes crop
for i in range(4):
    for _ in range(3):
        cy, cx, r = rng.uniform(20, 90), rng.uniform(20, 84), rng.uniform(4, 20)
        maps[i][(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.3, 1)
with torch.no_grad():
    ref = seg.encode(LegacySurveySegmentationMap(field=torch.tensor(maps))).numpy()
    dec = seg.decode(torch.tensor(ref)).field.numpy()
tok = cs_seg.encode("segmentation_map", {"segmentation_map": maps})
check("segmentation-map tokens (96 px crop, 12 x 12 of FSQ 8 5 5 5)", tok.shape == ref.shape == (4, 144) and np.array_equal(tok, ref),
      f"{tok.shape} vs {ref.shape}" if tok.shape != ref.shape else f"{int((tok != ref).sum())} of {ref.size} differ")
close("segmentation-map decode", cs_seg.decode("segmentation_map", ref)["segmentation_map"], dec)
pre = cs_seg.preprocess("segmentation_map", {"segmentation_map": maps})
close("segmentation-map preprocessing (AION's CenterCrop)", pre, seg.center_crop(torch.tensor(maps)[:, None])[:, 0].numpy())

finish("parity")
