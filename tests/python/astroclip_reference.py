#!/usr/bin/python3
"""Independent PyTorch reference of the AstroCLIP architectures (SpecFormer,
DINOv2-style ViT, cross-attention heads) with AstroCLIP's parameter names,
written from AstroCLIP's and DINOv2's published code structure, for the C++
parity test. Tiny configs, random weights, fixed seed.

Usage: /usr/bin/python3 astroclip_reference.py OUTDIR
Writes astroclip.ckpt (Lightning-style), specformer.pt (plain state_dict),
astrodino.ckpt (DINOv2 block chunks, teacher prefix, DINO head), the inputs and
expected outputs as float32 .bin files, and manifest.json with their shapes.
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F



class SelfAttention(nn.Module):
    def __init__(self, dim, heads, qkv_name, proj_name):
        super().__init__()
        self.heads, self.qkv_name, self.proj_name = heads, qkv_name, proj_name
        setattr(self, qkv_name, nn.Linear(dim, 3 * dim))
        setattr(self, proj_name, nn.Linear(dim, dim))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = getattr(self, self.qkv_name)(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1) / math.sqrt(C // self.heads)).softmax(-1)
        return getattr(self, self.proj_name)((att @ v).transpose(1, 2).reshape(B, T, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden, a, b):
        super().__init__()
        self.a, self.b = a, b
        setattr(self, a, nn.Linear(dim, hidden))
        setattr(self, b, nn.Linear(hidden, dim))

    def forward(self, x):
        return getattr(self, self.b)(F.gelu(getattr(self, self.a)(x)))


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.randn(dim))

    def forward(self, x):
        return x * self.gamma


class ViTBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = SelfAttention(dim, heads, "qkv", "proj")
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim, "fc1", "fc2")
        self.ls2 = LayerScale(dim)

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, c, d, p):
        super().__init__()
        self.proj = nn.Conv2d(c, d, p, stride=p)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    def __init__(self, img, patch, dim, depth, heads):
        super().__init__()
        self.patch_embed = PatchEmbed(3, dim, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + (img // patch) ** 2, dim))
        self.blocks = nn.ModuleList([ViTBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward_cls(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        return self.norm(x)[:, 0]

    def forward_astroclip(self, x):  # AstroCLIP's ImageHead path: no cls, no pos_embed
        x = self.patch_embed(x)
        for b in self.blocks:
            x = b(x)
        return self.norm(x)


class SpecBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.layernorm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attention = SelfAttention(dim, heads, "attention", "projection")
        self.layernorm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, 4 * dim, "encoder", "decoder")

    def forward(self, x):
        x = x + self.attention(self.layernorm1(x))
        return x + self.mlp(self.layernorm2(x))


class SpecFormer(nn.Module):
    def __init__(self, input_dim, dim, layers, heads, max_len):
        super().__init__()
        self.data_embed = nn.Linear(input_dim, dim)
        self.position_embed = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList([SpecBlock(dim, heads) for _ in range(layers)])
        self.final_layernorm = nn.LayerNorm(dim, eps=1e-5)
        self.head = nn.Linear(dim, input_dim)

    @staticmethod
    def preprocess(x, section=20, overlap=10):  # x: [B, L]
        std = x.std(1, keepdim=True).clip(0.2)
        mean = x.mean(1, keepdim=True)
        x = (x - mean) / std
        starts = range(0, x.shape[1] - overlap, section - overlap)
        pieces = [x[:, s:s + section] for s in starts][:-1]
        x = torch.stack(pieces, 1)
        x = F.pad(x, (2, 0, 1, 0))
        x[:, 0, 0] = ((mean - 2) / 2)[:, 0]
        x[:, 0, 1] = ((std - 2) / 8)[:, 0]
        return x

    def forward(self, tokens):
        pos = torch.arange(tokens.shape[1])
        x = self.data_embed(tokens) + self.position_embed(pos)
        for b in self.blocks:
            x = b(x)
        return self.final_layernorm(x)


class CrossAttentionHead(nn.Module):
    def __init__(self, dim, heads, kv):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, dim))
        self.multihead_attn = nn.MultiheadAttention(dim, heads, batch_first=True, kdim=kv, vdim=kv)
        self.layernorm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.layernorm(self.multihead_attn(self.query.repeat(x.shape[0], 1, 1), x, x, need_weights=False)[0])


class Tower(nn.Module):
    def __init__(self, backbone, dim, heads, kv, hidden, residual):
        super().__init__()
        self.backbone = backbone
        self.cross_attention = CrossAttentionHead(dim, heads, kv)
        self.mlp = Mlp(dim, hidden, "encoder", "decoder")
        self.residual = residual

    def forward(self, tokens):
        x = self.cross_attention(tokens)
        return (x + self.mlp(x) if self.residual else self.mlp(x)).squeeze(1)


def to_rgb(flux):  # [B, 3 (g, r, z), H, W] -> [B, 3 (z, r, g), H, W], AstroCLIP's ToRGB
    scales, m, Q = (6.0, 3.4, 2.2), 0.03, 20.0
    b = [flux[:, i] * s + m for i, s in enumerate(scales)]
    I = sum(t.clamp(min=0) for t in b) / 3
    fI = torch.asinh(Q * I) / math.sqrt(Q)
    I = I + (I == 0) * 1e-6
    return torch.stack([b[2] * fI / I, b[1] * fI / I, b[0] * fI / I], 1).clamp(0, 1)


def randomize(m):  # random weights everywhere, so every parameter matters
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p) * 0.3)


def main(out):
    torch.manual_seed(1234)
    os.makedirs(out, exist_ok=True)
    img, patch, vdim, vdepth, vheads = 24, 6, 32, 2, 4
    sdim, slayers, sheads, L = 24, 2, 3, 211
    edim, eheads, hidden = 32, 4, 64
    vit = ViT(img, patch, vdim, vdepth, vheads)
    spec = SpecFormer(22, sdim, slayers, sheads, 40)
    image_tower = Tower(vit, edim, eheads, vdim, hidden, residual=False)
    spectrum_tower = Tower(spec, edim, eheads, sdim, hidden, residual=True)
    model = nn.Module()
    model.image_encoder, model.spectrum_encoder = image_tower, spectrum_tower
    randomize(model)
    model.eval()

    flux = torch.rand(3, 3, 30, 30) * 1.2 - 0.1
    lam = torch.linspace(3600, 9800, L)
    spectra = 5 + torch.randn(3, L) + 40 * torch.exp(-0.5 * ((lam - 6563) / 5) ** 2)
    with torch.no_grad():
        # MMU-layout [B, C, H, W] cutouts need no spatial swap: AstroCLIP's
        # collator permute (0, 3, 2, 1) undoes the .T its dataset export applied.
        images = to_rgb(flux)[..., 3:27, 3:27]
        tokens = SpecFormer.preprocess(spectra)
        outputs = {
            "image_embedding": image_tower(vit.forward_astroclip(images)),
            "spectrum_embedding": spectrum_tower(spec(tokens)),
            "specformer_tokens": spec(tokens),
            "vit_cls": vit.forward_cls(images),
            "image_input": images,
            "spectrum_tokens": tokens,
        }

    sd = model.state_dict()
    torch.save({"state_dict": sd, "hyper_parameters": {"n_head": eheads, "image_num_heads": vheads,
                "spectrum_num_heads": sheads, "image_residual": False, "spectrum_residual": True}, "epoch": 7},
               f"{out}/astroclip.ckpt")
    torch.save(spec.state_dict(), f"{out}/specformer.pt")
    # AstroDINO layout: chunked blocks under teacher.backbone, plus training-only tensors.
    dino = {}
    for k, v in vit.state_dict().items():
        if k.startswith("blocks."):
            i, rest = k.split(".", 2)[1:]
            k = f"blocks.{int(i) // 1}.{i}.{rest}"
        dino["teacher.backbone." + k] = v
    dino["teacher.backbone.mask_token"] = torch.zeros(1, vdim)
    dino["teacher.dino_head.mlp.0.weight"] = torch.zeros(8, vdim)
    torch.save(dino, f"{out}/astrodino.ckpt")
    # AstroCLIP's AstroDINO trainer: torch.save({"teacher": model.teacher.state_dict()}).
    teacher = {k[len("teacher."):]: v for k, v in dino.items()}
    torch.save({"teacher": teacher}, f"{out}/teacher_checkpoint.pth")

    manifest = {"inputs": {"flux": list(flux.shape), "spectra": list(spectra.shape)}, "outputs": {}}
    flux.numpy().astype("<f4").tofile(f"{out}/flux.bin")
    spectra.numpy().astype("<f4").tofile(f"{out}/spectra.bin")
    for k, v in outputs.items():
        v.numpy().astype("<f4").tofile(f"{out}/{k}.bin")
        manifest["outputs"][k] = list(v.shape)
    manifest["heads"] = {"image": vheads, "spectrum": sheads, "cross": eheads}
    json.dump(manifest, open(f"{out}/manifest.json", "w"))
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
