"""The released layout, end to end: a small AION-1 snapshot written by AION's
own package (polymathic-aion's save_pretrained: config.json, model.safetensors
with shared-tensor aliases, codecs/<name>/{config.json, model.safetensors}),
random weights, never the hub. Checks that AION's own from_pretrained reads the
files back, then that astrofm opens the folder directly (and as a converted
bundle) with AION's tokens, embeddings and logits; then that broken snapshots
give one error naming the file and field, exit 1 and no output.
Run by CTest (AION.SnapshotParity) with scripts/aion-venv.sh's environment:
  ASTROFM_BUILD=build build/aion-venv/bin/python tests/aion/snapshot_parity.py
"""
import json
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import BIN, astrofm, check, close, finish  # noqa: E402
from aion import AION  # noqa: E402
from aion.codecs import (CatalogCodec, GridScalarCodec, ImageCodec, LogScalarCodec, MultiScalarCodec, ScalarCodec, ScalarFieldCodec,  # noqa: E402
                         SpectrumCodec)
from aion.modalities import (DESISpectrum, GaiaXpBp, HSCMagG, LegacySurveyCatalog, LegacySurveyFluxG, LegacySurveyImage,  # noqa: E402
                             LegacySurveySegmentationMap, Z, ScalarModalities)
from safetensors import safe_open  # noqa: E402

torch.manual_seed(0)
rng = np.random.default_rng(0)
tmp = tempfile.mkdtemp(prefix="aion-snapshot-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # also when a check fails
# The layout of the hub's cache, so provenance can be read off the path.
snap = os.path.join(tmp, "models--polymathic-ai--aion-base", "snapshots", "0123456789abcdef0123456789abcdef01234567")


def randomize(module, scale=0.3):
    with torch.no_grad():
        for n, p in module.named_parameters():
            p.add_(scale * torch.randn_like(p) / max(1.0, p[0].numel() ** 0.5 if p.dim() > 1 else 1.0))


# ------------------------------------------------------------ the snapshot, by AION's package
MODS = ["tok_image", "tok_spectrum_desi", "tok_flux_g", "tok_z", "tok_mag_g", "tok_xp_bp", "tok_segmap", "catalog"]
CONFIG = dict(domains_in=MODS, domains_out=MODS, dim=64, encoder_depth=2, decoder_depth=2, num_heads=4, mlp_ratio=4.0,
              qkv_bias=False, proj_bias=False, mlp_bias=False, norm_bias=False, act_layer="SiLU", gated_mlp=True, qk_norm=True,
              decoder_causal_mask=False, decoder_sep_mask=True, num_register_tokens=0, share_modality_embeddings=True)
model = AION(CONFIG).eval()
with torch.no_grad():
    for n, p in model.named_parameters():
        if n.endswith("weight") and p.dim() == 1:
            p.add_(0.1 * torch.randn_like(p))
model.save_pretrained(snap)

img = ImageCodec(quantizer_levels=[7, 5, 5, 5, 5], hidden_dims=32, n_compressions=2, num_consecutive=1)
randomize(img)
img.save_pretrained(snap, modality=LegacySurveyImage)
spec = SpectrumCodec(encoder_depths=(1, 1, 1, 1), encoder_dims=(8, 16, 24, 32), decoder_depths=(1, 1, 1, 1), decoder_dims=(24, 16, 8, 1),
                     latent_channels=32, embedding_dim=10)
randomize(spec)
spec.save_pretrained(snap, modality=DESISpectrum)
flux_g = LogScalarCodec("FLUX_G", 1024, 2000)
flux_g.quantizer._update_reservoirs(torch.tensor(rng.lognormal(1, 1.5, 2000), dtype=torch.float32))
flux_g.save_pretrained(snap, modality=LegacySurveyFluxG)
mag_g = ScalarCodec("g_cmodel_mag", 1024, 2000)
mag_g.quantizer._update_reservoirs(torch.tensor(rng.normal(22, 1.5, 2000), dtype=torch.float32))
mag_g.save_pretrained(snap, modality=HSCMagG)
zc = GridScalarCodec("Z", 1024)
zc.save_pretrained(snap, modality=Z)
xp = MultiScalarCodec("bp_coefficients", ["arcsinh"], ["sinh"], 1024, 300, 55)
xp.quantizer._update_reservoirs(torch.tensor(rng.normal(0, 50, (300, 55)), dtype=torch.float32))
xp.save_pretrained(snap, modality=GaiaXpBp)
seg = ScalarFieldCodec(encoder_output_dim=16, embedding_dim=4, res_hidden_dims=8)  # embedding_dim: one channel per FSQ level
randomize(seg)
seg.save_pretrained(snap, modality=LegacySurveySegmentationMap)
cat = CatalogCodec()
for key, scale in [("SHAPE_E1", 0.2), ("SHAPE_E2", 0.2), ("SHAPE_R", 1.5)]:
    cat.quantizer.quantizers[key]._update_reservoirs(torch.tensor(rng.normal(0, scale, 5000), dtype=torch.float32))
cat.save_pretrained(snap, modality=LegacySurveyCatalog)

# The files are the release's layout, and AION's own loaders read them back.
with safe_open(os.path.join(snap, "model.safetensors"), "pt") as f:
    meta = f.metadata() or {}
aliases = [k for k in meta if k.endswith("mod_emb")]
check("model.safetensors stores each shared mod_emb once, the other name as a metadata alias", len(aliases) >= len(MODS) - 1,
      f"{len(aliases)} aliases")
back = AION.from_pretrained(snap).eval()
same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))
check("AION.from_pretrained reads the snapshot back unchanged", same)


# AION 0.0.2's codec from_pretrained cannot read a local folder (huggingface_hub
# looks for "codecs/<name>/config.json" in os.listdir of the root), so the codecs
# are read back the way it would from the hub: the class built from
# config.json, the weights loaded from model.safetensors.
def codec_back(cls, name, original):
    from safetensors.torch import load_file
    with open(os.path.join(snap, "codecs", name, "config.json")) as f:
        c = cls(**json.load(f))
    c.load_state_dict(load_file(os.path.join(snap, "codecs", name, "model.safetensors")))
    same = all(torch.equal(a, b) for a, b in zip(original.state_dict().values(), c.state_dict().values()))
    check(f"codecs/{name}: {cls.__name__}(**config.json) + model.safetensors equals the codec saved", same)
    return c.eval()


img_back = codec_back(ImageCodec, "image", img)
codec_back(SpectrumCodec, "spectrum", spec)
codec_back(LogScalarCodec, "FLUX_G", flux_g)
codec_back(GridScalarCodec, "Z", zc)
seg_back = codec_back(ScalarFieldCodec, "segmentation_map", seg)
print("snapshot:", snap, sorted(os.listdir(snap)), sorted(os.listdir(os.path.join(snap, "codecs"))))

# ------------------------------------------------------------ astrofm opens the folder as it is
mine = astrofm._core.AionModel(snap)
cfg = json.loads(mine.config_json)
keys = sorted(m["key"] for m in cfg["modalities"])
check("astrofm's model from the folder has every modality, the catalog included", keys == sorted(MODS), str(keys))
B = 3
g = torch.Generator().manual_seed(5)
inputs = {"tok_image": torch.randint(0, 4375, (B, 576), generator=g), "tok_flux_g": torch.randint(0, 1024, (B, 1), generator=g),
          "tok_spectrum_desi": torch.randint(0, 1024, (B, 273), generator=g), "tok_mag_g": torch.randint(0, 1024, (B, 1), generator=g),
          "tok_xp_bp": torch.randint(0, 1024, (B, 55), generator=g), "tok_segmap": torch.randint(0, 1000, (B, 144), generator=g)}
np_in = {k: v.numpy() for k, v in inputs.items()}
with torch.no_grad():
    n_all = sum(v.shape[1] for v in inputs.values())
    close("embedding (AION's model.encode), every input, from the folder", mine.encode(np_in, {}, n_all), back.encode(inputs, num_encoder_tokens=n_all).numpy())
    close("embedding, AION's default 256-token budget", mine.encode(np_in, {}, 256), back.encode(inputs, num_encoder_tokens=256).numpy())
    ref = back(inputs, target_modality=[Z])["tok_z"].numpy()
    got = mine.logits(np_in, {}, ["tok_z"], n_all)["tok_z"]
    check("tok_z logits have AION's 1,025 values", got.shape[-1] == 1025 and ref.shape[-1] == 1025, str(got.shape))
    close("logits of tok_z from image + spectrum + fluxes + XP", got, ref)
    ref = back({"tok_image": inputs["tok_image"]}, target_modality=[HSCMagG])["tok_mag_g"].numpy()
    close("logits of HSC g from the image alone", mine.logits({"tok_image": np_in["tok_image"]}, {}, ["tok_mag_g"], 576)["tok_mag_g"], ref)
    # AION.forward reads the target's num_tokens, which LegacySurveySegmentationMap lacks in
    # polymathic-aion 0.0.2: the same call with the 144 of modality_info (96 px / patch 8, squared).
    from types import SimpleNamespace
    from aion.fourm.modality_info import MODALITY_INFO
    info = MODALITY_INFO["tok_segmap"]
    segmap_target = SimpleNamespace(token_key="tok_segmap", num_tokens=(info["input_size"] // info["patch_size"]) ** 2)
    ref = back({"tok_image": inputs["tok_image"]}, target_modality=[segmap_target])["tok_segmap"].numpy()
    got = mine.logits({"tok_image": np_in["tok_image"]}, {}, ["tok_segmap"], 576)["tok_segmap"]
    close("logits of the segmentation map (144 tokens of 1,000) from the image", got, ref)

# The catalog, a 4M sequence: codec tokens shifted by modality_info's vocab_offset
# (204) into the transformer's vocabulary, absent entries (codec pad 9999) as
# 0 and masked, positions counted over the entries present. polymathic-aion
# leaves that mapping to its training code; this is what the model was fed.
L = 10
cat_cols = {k: np.full((B, L), 9999.0) for k in ("X", "Y", "SHAPE_E1", "SHAPE_E2", "SHAPE_R")}
n_cat = [3, 10, 6]
for i in range(B):
    for j in range(n_cat[i]):
        if i == 2 and j == 1:
            continue  # an absent entry between present ones: positions close up behind it
        cat_cols["X"][i, j], cat_cols["Y"][i, j] = rng.integers(0, 96), rng.integers(0, 96)
        cat_cols["SHAPE_E1"][i, j], cat_cols["SHAPE_E2"][i, j] = rng.normal(0, 0.2, 2)
        cat_cols["SHAPE_R"][i, j] = abs(rng.normal(0, 1.5))
cs_cat = astrofm._core.CodecSet([snap])
cat_tok = cs_cat.encode("catalog", {"catalog_" + k: v for k, v in cat_cols.items()})
with torch.no_grad():
    ref_tok = cat.encode(LegacySurveyCatalog(X=torch.tensor(cat_cols["X"]).long(), Y=torch.tensor(cat_cols["Y"]).long(),
                                             **{k: torch.tensor(cat_cols[k], dtype=torch.float32) for k in ("SHAPE_E1", "SHAPE_E2", "SHAPE_R")})).numpy()
check("catalog tokens from the folder's codec equal AION's (9999 where astrofm writes missing)", np.array_equal(np.where(cat_tok == -1, 9999, cat_tok), ref_tok))
cat_mask = torch.tensor(cat_tok == -1)
aion_cat = torch.tensor(np.where(cat_tok == -1, 0, cat_tok + 204)).long()
with_cat = dict(inputs, catalog=aion_cat)
n_cat_all = n_all + 5 * L
with torch.no_grad():
    close("embedding with the catalog (offset 204, positions over the entries present)",
          mine.encode(dict(np_in, catalog=cat_tok), {}, n_cat_all), back.encode(with_cat, input_mask={"catalog": cat_mask}, num_encoder_tokens=n_cat_all).numpy())
    only = back.encode({"catalog": aion_cat}, input_mask={"catalog": cat_mask}, num_encoder_tokens=5 * L).numpy()
    close("embedding of the catalog alone", mine.encode({"catalog": cat_tok}, {}, 5 * L), only)
    ref = back(with_cat, target_modality=[Z], input_mask={"catalog": cat_mask})["tok_z"].numpy()
    close("logits of tok_z from every input and the catalog", mine.logits(dict(np_in, catalog=cat_tok), {}, ["tok_z"], n_cat_all)["tok_z"], ref)
try:
    mine.logits({"tok_image": np_in["tok_image"]}, {}, ["catalog"], 576)
    check("generating the catalog is refused", False)
except Exception as e:
    check("generating the catalog is refused, saying it is an input only", "input only" in str(e), str(e)[:200])

# bfloat16 weights (half the memory; the matrix units of AVX512-BF16/AMX CPUs):
# the same model to bfloat16's precision.
half = astrofm._core.AionModel(snap, "bfloat16")
with torch.no_grad():
    ref = back.encode(inputs, num_encoder_tokens=n_all).numpy()
    got = half.encode(np_in, {}, n_all)
    check("bfloat16 weights: embeddings within 3% of AION's float32 (bfloat16 keeps 8 bits)",
          got.dtype == np.float32 and np.abs(got - ref).max() <= 0.03 * np.abs(ref).max(), f"max |diff| {np.abs(got - ref).max():.2e} of {np.abs(ref).max():.2e}")
    ref = torch.softmax(back(inputs, target_modality=[Z])["tok_z"][:, 0], -1).numpy()
    lg = half.logits(np_in, {}, ["tok_z"], n_all)["tok_z"][:, 0].astype(np.float64)
    p = np.exp(lg - lg.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    tv = 0.5 * np.abs(p - ref).sum(1).max()  # total variation: a near-uniform output would score ~0.5+
    check("bfloat16 weights: P(z) within 2% total variation of AION's float32, same most likely bin",
          tv <= 0.02 and (p.argmax(1) == ref.argmax(1)).all(), f"total variation {tv:.2e}")
try:
    astrofm._core.AionModel(snap, "float16")
    check("an unknown --dtype is refused", False)
except Exception as e:
    check("an unknown --dtype is refused, naming it", "float16" in str(e), str(e))

# Codecs straight from the folder: the same tokens as AION's codecs.
cs = astrofm._core.CodecSet([snap])
check("astrofm finds every codec in codecs/",
      sorted(cs.modalities) == sorted(["image", "spectrum", "FLUX_G", "g_cmodel_mag", "Z", "bp_coefficients", "segmentation_map", "catalog"]),
      str(sorted(cs.modalities)))
y, x = np.mgrid[0:100, 0:100] - 49.5
flux = (rng.normal(0, 0.2, (2, 4, 100, 100)) + 5 * np.exp(-(x**2 + y**2) / 30.0)).astype(np.float32)
bands = ["DES-G", "DES-R", "DES-I", "DES-Z"]
with torch.no_grad():
    ref = img_back.encode(LegacySurveyImage(flux=torch.tensor(flux), bands=bands)).numpy()
tok = cs.encode("image", {"image_array": flux, "image_band": np.array([bands] * 2), "image_ivar": np.ones_like(flux)})
check("image tokens from the folder's codec equal AION's", tok.shape == ref.shape and np.array_equal(tok, ref))
lam = np.tile(np.arange(3600.0, 9800.0, 0.8, dtype=np.float32), (2, 1))
sflux = (rng.uniform(1, 30, (2, 1)) * (1 + 0.3 * np.sin(lam / 500.0)) + rng.normal(0, 1, lam.shape)).astype(np.float32)
ivar = rng.uniform(0.5, 50, lam.shape).astype(np.float32)
smask = rng.random(lam.shape) < 0.02
with torch.no_grad():
    ref = spec.encode(DESISpectrum(flux=torch.tensor(sflux), ivar=torch.tensor(ivar), mask=torch.tensor(smask), wavelength=torch.tensor(lam))).numpy()
tok = cs.encode("spectrum", {"spectrum_flux": sflux, "spectrum_ivar": ivar, "spectrum_mask": smask, "spectrum_lambda": lam})
check("spectrum tokens (273 = 1 + 272) equal AION's", tok.shape == ref.shape == (2, 273) and np.array_equal(tok, ref), str(tok.shape))
for name, codec, col, vals in [("FLUX_G (log)", flux_g, "FLUX_G", rng.lognormal(1, 1.5, 50)), ("HSC g (linear)", mag_g, "g_cmodel_mag", rng.normal(22, 2, 50)),
                               ("Z (grid)", zc, "Z", rng.uniform(-0.1, 1.2, 50))]:
    v = torch.tensor(vals, dtype=torch.float32)
    with torch.no_grad():
        ref = codec.encode(ScalarModalities[col](value=v)).numpy()
    tok = cs.encode(col, {col: v.numpy()})
    check(f"scalar tokens, {name}", np.array_equal(tok[:, 0], ref), f"{int((tok[:, 0] != ref).sum())} differ")
xv = torch.tensor(rng.normal(0, 50, (4, 55)), dtype=torch.float32)
with torch.no_grad():
    ref = xp.encode(ScalarModalities["bp_coefficients"](value=xv)).numpy()
check("Gaia XP tokens (55 coefficients)", np.array_equal(cs.encode("bp_coefficients", {"bp_coefficients": xv.numpy()}), ref))
segmaps = (((np.mgrid[0:100, 0:100][0] - 50) ** 2 + (np.mgrid[0:100, 0:100][1] - 47) ** 2)[None] < rng.uniform(50, 600, (3, 1, 1))).astype(np.float32)
with torch.no_grad():
    ref = seg_back.encode(LegacySurveySegmentationMap(field=torch.tensor(segmaps))).numpy()
check("segmentation-map tokens from the folder's codec equal AION's", np.array_equal(cs.encode("segmentation_map", {"segmentation_map": segmaps}), ref))

# The Python face, with AION's own names: a notebook's lines port as they are.
import astrofm as afm  # noqa: E402
tok_py = afm.tokenize(flux, "LegacySurveyImage", codecs=[snap])
with torch.no_grad():
    ref = img_back.encode(LegacySurveyImage(flux=torch.tensor(flux), bands=bands)).numpy()
check("astrofm.tokenize(flux, 'LegacySurveyImage', codecs=[snapshot]) = AION's tokens", np.array_equal(tok_py["tok_image"], ref))
zv = rng.uniform(0, 1, 40).astype(np.float32)
fv = rng.lognormal(1, 1.5, 40).astype(np.float32)
X = {**afm.tokenize(fv, "LegacySurveyFluxG", codecs=[snap])}
ft = afm.FineTunedModel(base=snap, adaptation="MeanPooling").fit({"LegacySurveyFluxG": X["tok_FLUX_G"]}, zv)
first = ft._model
pred = ft.predict({"LegacySurveyFluxG": X["tok_FLUX_G"][:5]})
check("FineTunedModel(base=snapshot) fits and predicts on AION's modality names, opening the model once",
      pred.shape == (5,) and np.isfinite(pred).all() and ft._model is first)
# The AION object on raw catalog columns: its mean-pooled embedding is the mean of
# AION's encoder output over the tokens present.
emb_cat = aion_obj_cat = afm.AION(snap).embed(LegacySurveyCatalog={"catalog_" + k: v for k, v in cat_cols.items()})
with torch.no_grad():
    out = back.encode({"catalog": aion_cat}, input_mask={"catalog": cat_mask}, num_encoder_tokens=5 * L).numpy()
present = (~cat_mask.numpy()).sum(1)
close("AION(snapshot).embed(LegacySurveyCatalog=columns) = AION's encoder output averaged over the entries present",
      emb_cat, np.stack([out[i, :present[i]].mean(0) for i in range(B)]))

# Any modality to any: the segmentation map generated from the image, decoded by the folder's codec as AION's would.
aion_obj = afm.AION(snap)
gen = aion_obj.generate("LegacySurveySegmentationMap", LegacySurveyImage=flux, steps=4)
sm = gen.get("segmentation_map")
check("AION.generate('LegacySurveySegmentationMap', LegacySurveyImage=...) gives [n, 96, 96] maps in [0, 1]",
      sm is not None and sm.shape == (2, 96, 96) and (sm >= 0).all() and (sm <= 1).all(), str(None if sm is None else sm.shape))
if sm is not None:
    with torch.no_grad():
        ref = seg_back.decode(torch.tensor(gen["tok_segmentation_map"]).long()).field.numpy()
    close("the generated map = AION's codec decoding the generated tokens", sm, ref)

# ------------------------------------------------------------ one bundle file, and the CLI
bundle = os.path.join(tmp, "aion-base.afm")
r = subprocess.run([BIN, "-q", "convert", snap, "--out", bundle], capture_output=True, text=True)
check("astrofm convert SNAPSHOT --out bundle.afm", r.returncode == 0 and os.path.isfile(bundle), r.stderr[-500:])
if os.path.isfile(bundle):
    mb = astrofm._core.AionModel(bundle)
    close("the bundle's embedding equals the folder's", mb.encode(np_in, {}, n_all), mine.encode(np_in, {}, n_all), 0)
    cb = astrofm._core.CodecSet([bundle])
    check("the bundle carries every codec", sorted(cb.modalities) == sorted(cs.modalities), str(sorted(cb.modalities)))
    info = json.loads(subprocess.run([BIN, "models", "--json"], capture_output=True, text=True, env=dict(os.environ, ASTROFM_MODELS_DIR=tmp)).stdout or "[]")
    prov = [m for m in info if m.get("name") == "aion-base"]
    check("provenance: repository and revision read off the hub cache path",
          bool(prov) and prov[0].get("provenance", {}).get("repository") == "polymathic-ai/aion-base" and
          prov[0]["provenance"].get("revision") == "0123456789abcdef0123456789abcdef01234567", json.dumps(prov)[:300])


# The CLI on raw catalogue columns: tokenize with the folder's codecs, then
# generate Z with the folder as the model (AION's 1,025-value tok_z against a
# 1,024-bin Z codec): the PDF is AION's softmax over the codec's bins.
work = os.path.join(tmp, "cli")
os.makedirs(work)
with open(os.path.join(work, "cat.csv"), "w") as f:
    f.write("object_id,ra,dec,FLUX_G,g_cmodel_mag,Z\n")
    for i in range(24):
        f.write(f"{i},{150 + rng.random():.5f},{2 + rng.random():.5f},{rng.lognormal(1, 1.5):.5f},{rng.normal(22, 1.5):.4f},{rng.uniform(0, 1):.4f}\n")
steps = [[BIN, "-q", "import", "csv", os.path.join(work, "cat.csv"), "--out", os.path.join(work, "cat")],
         [BIN, "-q", "tokenize", "--codecs", snap, "--data", os.path.join(work, "cat"), "--out", os.path.join(work, "tok")],
         [BIN, "-q", "generate", "--model", snap, "--data", os.path.join(work, "tok", "cat"), "--to", "Z", "--from", "FLUX_G,g_cmodel_mag",
          "--out", os.path.join(work, "gen16"), "--dtype", "bfloat16"],
         [BIN, "-q", "generate", "--model", snap, "--data", os.path.join(work, "tok", "cat"), "--to", "Z", "--from", "FLUX_G,g_cmodel_mag",
          "--out", os.path.join(work, "gen")],
         # Raw catalogue columns straight in: the snapshot's codecs tokenize them on the way.
         [BIN, "-q", "generate", "--model", snap, "--data", os.path.join(work, "cat"), "--to", "Z", "--from", "FLUX_G,g_cmodel_mag",
          "--out", os.path.join(work, "gen_raw")],
         [BIN, "-q", "embed", "--model", snap, "--data", os.path.join(work, "cat"), "--inputs", "tok_FLUX_G,tok_g_cmodel_mag", "--out", os.path.join(work, "emb_raw")],
         [BIN, "-q", "embed", "--model", snap, "--data", os.path.join(work, "tok", "cat"), "--inputs", "tok_FLUX_G,tok_g_cmodel_mag", "--out", os.path.join(work, "emb_tok")]]
for cmd in steps:
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(" ".join(cmd[2:4]) + " with the snapshot folder", r.returncode == 0, r.stderr[-400:])
if r.returncode == 0:
    tok = astrofm._core.Dataset(os.path.join(work, "tok", "cat")).read()
    gen = astrofm._core.Dataset(os.path.join(work, "gen")).read()
    order = np.argsort(tok["object_id"]), np.argsort(gen["object_id"])
    t_in = {"tok_flux_g": torch.tensor(tok["tok_FLUX_G"][order[0]]).long(), "tok_mag_g": torch.tensor(tok["tok_g_cmodel_mag"][order[0]]).long()}
    with torch.no_grad():
        logits = back(t_in, target_modality=[Z])["tok_z"][:, 0, :]
        ref = torch.softmax(logits[:, :1024], -1).numpy()
    pdf = gen["Z_pdf"][order[1]]
    check("generate --to Z writes the 1,024 bins of AION's Z codec", pdf.shape == (24, 1024), str(pdf.shape))
    close("Z PDF = AION's softmax over the codec's bins", pdf, ref, 1e-5)
    with torch.no_grad():
        zc_vals = zc.decode(torch.arange(1024)).value.numpy()
    close("Z_mean = the PDF's mean over the codec's bin values", gen["Z_mean"][order[1]], (ref * zc_vals).sum(1), 1e-5)
    raw = astrofm._core.Dataset(os.path.join(work, "gen_raw")).read()
    close("generate from the raw catalogue = from its tokens", raw["Z_pdf"][np.argsort(raw["object_id"])], pdf, 0)
    e_raw = astrofm._core.Dataset(os.path.join(work, "emb_raw")).read()
    e_tok = astrofm._core.Dataset(os.path.join(work, "emb_tok")).read()
    close("embed from the raw catalogue = from its tokens", e_raw["embedding_aion"][np.argsort(e_raw["object_id"])],
          e_tok["embedding_aion"][np.argsort(e_tok["object_id"])], 0)
    with torch.no_grad():
        ref = back.encode(t_in, num_encoder_tokens=2).mean(1).numpy()
    close("the raw catalogue's embedding = AION's mean-pooled encoder output", e_raw["embedding_aion"][np.argsort(e_raw["object_id"])], ref, 1e-5)


# Segmentation maps and catalogs as a user holds them: an MMU file written with
# h5py, through the CLI's file jobs with the snapshot's own codecs.
import h5py  # noqa: E402
mmu = os.path.join(work, "fields", "legacysurvey", "healpix=-1")
os.makedirs(mmu)
nf = B
with h5py.File(os.path.join(mmu, "001-of-001.hdf5"), "w") as f:
    f["object_id"] = np.array([f"f{i}".encode() for i in range(nf)], dtype="S8")
    f["ra"] = np.full(nf, np.nan)
    f["dec"] = np.full(nf, np.nan)
    f["healpix"] = np.full(nf, -1, dtype=np.int64)
    f["segmentation_map"] = segmaps
    for k, v in cat_cols.items():
        f["catalog_" + k] = v
    f["FLUX_G"] = rng.lognormal(1, 1.5, nf).astype(np.float32)
fields = os.path.join(work, "fields")
jobs = [("validate", [BIN, "-q", "validate", fields]),
        ("tokenize", [BIN, "-q", "tokenize", "--codecs", snap, "--data", fields, "--out", os.path.join(work, "ftok")]),
        ("codec eval", [BIN, "-q", "codec", "eval", "--codecs", snap, "--data", fields, "--report", os.path.join(work, "feval")]),
        ("embed", [BIN, "-q", "embed", "--model", snap, "--data", fields, "--out", os.path.join(work, "femb")]),
        ("generate", [BIN, "-q", "generate", "--model", snap, "--data", fields, "--to", "segmentation_map", "--from", "catalog,FLUX_G",
                      "--out", os.path.join(work, "fgen")])]
done = {}
for label, cmd in jobs:
    r = subprocess.run(cmd, capture_output=True, text=True)
    done[label] = r.returncode == 0
    check(f"astrofm {label} on an h5py-written file of segmentation maps and catalogs", done[label], r.stderr[-400:])
if done["tokenize"]:
    ft = astrofm._core.Dataset(os.path.join(work, "ftok")).read()
    o = np.argsort(ft["object_id"])
    with torch.no_grad():
        ref = seg_back.encode(LegacySurveySegmentationMap(field=torch.tensor(segmaps))).numpy()
    check("tokenize: tok_segmentation_map = AION's codec", np.array_equal(ft["tok_segmentation_map"][o], ref))
    check("tokenize: tok_catalog = AION's codec (missing where AION writes 9999)", np.array_equal(np.where(ft["tok_catalog"][o] == -1, 9999, ft["tok_catalog"][o]), ref_tok))
if done["codec eval"]:
    with open(os.path.join(work, "feval", "metrics.json")) as f:
        mseg = json.load(f)["modalities"].get("segmentation_map", {})
    check("codec eval reports the maps' error and overlap", mseg.get("objects") == nf and 0 <= mseg.get("median_abs_error", -1) <= 1, json.dumps(mseg))
if done["generate"]:
    fg = astrofm._core.Dataset(os.path.join(work, "fgen")).read()
    o = np.argsort(fg["object_id"])
    with torch.no_grad():
        ref = seg_back.decode(torch.tensor(fg["tok_segmentation_map"][o]).long()).field.numpy()
    close("generate --to segmentation_map --from catalog,FLUX_G: maps = AION's decoding of the generated tokens", fg["segmentation_map"][o], ref)
r = subprocess.run([BIN, "generate", "--model", snap, "--data", fields, "--to", "catalog", "--out", os.path.join(work, "fcat")], capture_output=True, text=True)
check("generate --to catalog: exit 1 saying it is an input only, nothing written",
      r.returncode == 1 and "input only" in r.stderr and not os.path.exists(os.path.join(work, "fcat")), r.stderr[-300:])


# `models add`: registered once, then --model NAME anywhere, with its provenance and checksums.
reg_env = dict(os.environ, ASTROFM_MODELS_DIR=os.path.join(tmp, "registry"))
r = subprocess.run([BIN, "-q", "models", "add", snap], capture_output=True, text=True, env=reg_env)
check("models add SNAPSHOT (named aion-base from the hub path)", r.returncode == 0, r.stderr[-300:])
listed = json.loads(subprocess.run([BIN, "models", "--json"], capture_output=True, text=True, env=reg_env).stdout or "[]")
entry = [m for m in listed if m.get("name") == "aion-base"]
check("models lists the registered snapshot with its repository", bool(entry) and entry[0].get("kind") == "snapshot" and
      entry[0]["provenance"].get("repository") == "polymathic-ai/aion-base", json.dumps(entry)[:200])
with open(os.path.join(tmp, "registry", "aion-base.snapshot.json")) as f:
    files = json.load(f)["provenance"]["files"]
check("the registration records every file with a checksum", len(files) == 2 + 2 * 8 and all("fnv1a64" in x or "sha256" in x for x in files),
      f"{len(files)} files")
r = subprocess.run([BIN, "-q", "embed", "--model", "aion-base", "--data", os.path.join(work, "tok", "cat"), "--out", os.path.join(work, "emb_named")],
                   capture_output=True, text=True, env=reg_env)
check("embed --model aion-base (the registered name)", r.returncode == 0, r.stderr[-300:])


# ------------------------------------------------------------ broken snapshots: one error, exit 1, nothing written
def broken(label, mutate, expect):
    d = os.path.join(tmp, "broken-" + label.replace(" ", "-"))
    shutil.copytree(snap, d)
    mutate(d)
    out = os.path.join(tmp, "out-" + label.replace(" ", "-") + ".afm")
    r = subprocess.run([BIN, "convert", d, "--out", out], capture_output=True, text=True)
    msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    ok = r.returncode == 1 and all(e in msg for e in expect) and not os.path.exists(out) and not os.path.exists(out + ".tmp")
    check(f"broken snapshot: {label}", ok, f"exit {r.returncode}: {msg[:300]}")


def truncate(d):
    p = os.path.join(d, "model.safetensors")
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.truncate(size // 2)


def edit_json(rel, fn):
    def m(d):
        p = os.path.join(d, rel)
        with open(p) as f:
            j = json.load(f)
        fn(j)
        with open(p, "w") as f:
            json.dump(j, f)
    return m


broken("truncated weights", truncate, ["model.safetensors", "data_offsets"])
broken("unknown modality", edit_json("config.json", lambda j: j["domains_in"].append("tok_flux_q")), ["config.json", "domains_in", "tok_flux_q"])
broken("codec vocabulary", edit_json("codecs/Z/config.json", lambda j: j.update(codebook_size=512)), ["codecs/Z/config.json", "512"])
broken("missing codec", lambda d: shutil.rmtree(os.path.join(d, "codecs", "FLUX_G")), ["codecs/FLUX_G", "LegacySurveyFluxG"])
broken("wrong width", edit_json("config.json", lambda j: j.update(dim=128)), ["config.json", "dim is 128"])

shutil.rmtree(tmp, ignore_errors=True)
finish("snapshot parity")
