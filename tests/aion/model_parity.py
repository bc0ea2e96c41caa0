"""Parity of astrofm's AION transformer with AION's own package: a tiny AION
built with random weights (never its hub loaders), its state dict converted
with `astrofm convert --kind aion`, then the same encoder output (AION's
model.encode) and the same logits to 1e-5. Run by CTest (AION.ModelParity).
"""
import atexit
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import BIN, astrofm, close, finish  # noqa: E402  (Debian torch shims, astrofm, the report)
from aion import AION  # noqa: E402
from aion.modalities import LegacySurveyFluxG, LegacySurveyImage, Z  # noqa: E402

torch.manual_seed(0)
MODS = ["tok_z", "tok_flux_g", "tok_image", "tok_spectrum_desi"]
CONFIG = dict(domains_in=MODS, domains_out=MODS, dim=64, encoder_depth=2, decoder_depth=2, num_heads=4, mlp_ratio=4.0,
              qkv_bias=False, proj_bias=False, mlp_bias=False, norm_bias=False, act_layer="SiLU", gated_mlp=True, qk_norm=True,
              decoder_causal_mask=False, decoder_sep_mask=True, num_register_tokens=0, share_modality_embeddings=True)
model = AION(CONFIG).eval()
with torch.no_grad():  # every LayerNorm weight off 1, so a wrong norm shows
    for n, p in model.named_parameters():
        if n.endswith("weight") and p.dim() == 1:
            p.add_(0.1 * torch.randn_like(p))
tmp = tempfile.mkdtemp(prefix="aion-model-parity-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # also when a check fails
pt, afm = os.path.join(tmp, "aion.pt"), os.path.join(tmp, "aion.afm")
torch.save(model.state_dict(), pt)
subprocess.run([BIN, "-q", "convert", pt, "--kind", "aion", "--out", afm], check=True)
mine = astrofm._core.AionModel(afm)

B = 2
g = torch.Generator().manual_seed(123)
inputs = {"tok_image": torch.randint(0, 4375, (B, 576), generator=g), "tok_flux_g": torch.randint(0, 1024, (B, 1), generator=g),
          "tok_spectrum_desi": torch.randint(0, 1024, (B, 273), generator=g)}
masks = {"tok_image": torch.zeros(B, 576, dtype=torch.bool), "tok_spectrum_desi": torch.zeros(B, 273, dtype=torch.bool)}
masks["tok_image"][0, :10] = True
masks["tok_spectrum_desi"][1, 200:] = True
np_in = {k: v.numpy() for k, v in inputs.items()}
np_mask = {k: v.numpy() for k, v in masks.items()}

with torch.no_grad():
    for n in (850, 256):  # all tokens; AION's default budget (truncating)
        ref = model.encode(inputs, input_mask=masks, num_encoder_tokens=n).numpy()
        close(f"encode, {n} encoder tokens, masked inputs", mine.encode(np_in, np_mask, n), ref)
    ref = model.encode({"tok_flux_g": inputs["tok_flux_g"]}, num_encoder_tokens=1).numpy()
    close("encode, one scalar input", mine.encode({"tok_flux_g": np_in["tok_flux_g"]}, {}, 1), ref)
    # Logits of one target, then of two (AION orders targets by random.sample: replay its draw).
    ref = model(inputs, target_modality=[Z], input_mask=masks)
    close("logits tok_z from image + flux + spectrum", mine.logits(np_in, np_mask, ["tok_z"], 850)["tok_z"], ref["tok_z"].numpy())
    random.seed(7)
    order = [k for k, _ in random.sample(list({"tok_z": 0, "tok_image": 0}.items()), 2)]
    random.seed(7)
    ref = model(inputs, target_modality=[Z, LegacySurveyImage], input_mask=masks)
    got = mine.logits(np_in, np_mask, order, 850)
    for k in ("tok_z", "tok_image"):
        close(f"logits {k} (two targets, order {order})", got[k], ref[k].numpy())
    ref = model({"tok_image": inputs["tok_image"]}, target_modality=[LegacySurveyFluxG])
    close("logits tok_flux_g from the image alone", mine.logits({"tok_image": np_in["tok_image"]}, {}, ["tok_flux_g"], 576)["tok_flux_g"],
          ref["tok_flux_g"].numpy())

finish("model parity")
