"""A random-weight AION-1 snapshot in the release layout, at a release size.

  build/aion-venv/bin/python bench/aion_release/make_snapshot.py base|large|xlarge OUT [--dtype float32|bfloat16]

Writes OUT/config.json and OUT/model.safetensors exactly as polymathic-aion's
save_pretrained would for AION(config) (39 modalities, each mod_emb stored once
with its decoder alias in the metadata), without ever holding a float32 copy of
the whole model: the tensor names and shapes come from AION's own module built
one block deep, the blocks are repeated to the full depth, and each tensor is
drawn at the target dtype. The weights are random (the released ones cannot be
downloaded here): for load time, memory and speed, not for science.
"""
import argparse
import json
import os
import re
import types

import torch

if not hasattr(torch, "compiler"):
    torch.compiler = types.SimpleNamespace(disable=lambda fn=None, recursive=True: fn if fn else (lambda f: f))
from aion import AION  # noqa: E402
from aion.fourm.modality_info import MODALITY_INFO  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

SIZES = {"base": (768, 12, 12), "large": (1024, 24, 16), "xlarge": (2048, 24, 32)}  # dim, depth (encoder = decoder), heads
ap = argparse.ArgumentParser()
ap.add_argument("size", choices=SIZES)
ap.add_argument("out")
ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
a = ap.parse_args()
dim, depth, heads = SIZES[a.size]
mods = [k for k in MODALITY_INFO if k != "tok_segmap"]  # the 39 modalities of the release
config = dict(domains_in=mods, domains_out=mods, dim=dim, encoder_depth=depth, decoder_depth=depth, num_heads=heads, mlp_ratio=4.0,
              qkv_bias=False, proj_bias=False, mlp_bias=False, norm_bias=False, act_layer="SiLU", gated_mlp=True, qk_norm=True,
              decoder_causal_mask=False, decoder_sep_mask=True, num_register_tokens=0, share_modality_embeddings=True)
shallow = AION(dict(config, encoder_depth=1, decoder_depth=1))
dtype = getattr(torch, a.dtype)
g = torch.Generator().manual_seed(0)
tensors, seen = {}, {}
aliases = {}
block = re.compile(r"^(encoder|decoder)\.0\.(.*)$")


def draw(t):
    if not t.is_floating_point():
        return t.clone()
    if t.dim() == 1:  # norms: about 1
        return (1 + 0.1 * torch.randn(t.shape, generator=g)).to(dtype)
    return (torch.randn(t.shape, generator=g) * 0.02).to(dtype)


for name, t in shallow.state_dict(keep_vars=False).items():
    m = block.match(name)
    names = [f"{m[1]}.{i}.{m[2]}" for i in range(depth)] if m else [name]
    for n in names:
        if name.endswith("pos_emb"):
            tensors[n] = t.to(dtype).contiguous()  # fixed sin-cos buffer
        elif name.startswith("decoder_embeddings.") and name.endswith("mod_emb"):
            aliases[n] = n.replace("decoder_embeddings.", "encoder_embeddings.", 1)  # shared with the encoder's
        else:
            tensors[n] = draw(t).contiguous()
os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "config.json"), "w") as f:
    json.dump(config, f, indent=2, sort_keys=True)
meta = {"format": "pt"}
meta.update(aliases)
save_file(tensors, os.path.join(a.out, "model.safetensors"), metadata=meta)
n = sum(t.numel() for t in tensors.values())
print(f"{a.out}: AION-1 {a.size} layout, {n / 1e6:.0f} M parameters stored as {a.dtype}, {len(aliases)} shared mod_emb aliases")
