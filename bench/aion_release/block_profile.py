"""Where an AION-Base encoder block spends its time in bfloat16, op by op as
astrofm's bfloat16 path computes it (src/models/aion.cc: layer norms in
float32, attention one object at a time, SwiGLU), 8 objects x 579 tokens, 2
threads, with whichever torch runs it:

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/aion_release/block_profile.py
"""
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
B, N, D, H, HID = 8, 579, 768, 12, 2048
bf = torch.bfloat16
W = {k: (torch.randn(*s) * 0.02).to(bf) for k, s in
     dict(qkv=(3 * D, D), proj=(D, D), fc1=(HID, D), fc2=(D, HID), fc3=(HID, D)).items()}
ln_w, qk_w = torch.ones(D), torch.ones(D // H)
mask = torch.zeros(B, N, dtype=torch.bool)
spent = {}


def ln(x, w):
    return F.layer_norm(x.float(), (x.shape[-1],), w, None, 1e-6).to(bf)


def lap(part, t0):
    spent[part] = spent.get(part, 0) + time.perf_counter() - t0
    return time.perf_counter()


def block(x):
    t = time.perf_counter()
    h = ln(x, ln_w)
    t = lap("layer norm 1", t)
    qkv = F.linear(h, W["qkv"]).reshape(B, N, 3, H, D // H).permute(2, 0, 3, 1, 4)
    t = lap("qkv", t)
    q, k, v = ln(qkv[0], qk_w), ln(qkv[1], qk_w), qkv[2]
    t = lap("q/k norms", t)
    out = []
    for b in range(B):
        a = torch.matmul(q[b] * (D // H) ** -0.5, k[b].transpose(-2, -1).contiguous())
        a.masked_fill_(mask[b].unsqueeze(0), -3.3895313892515355e38)
        out.append(torch.matmul(a.softmax(-1), v[b]))
    o = torch.stack(out)
    t = lap("attention", t)
    x = x + F.linear(o.transpose(1, 2).reshape(B, N, D), W["proj"])
    t = lap("proj", t)
    h = ln(x, ln_w)
    t = lap("layer norm 2", t)
    a, g = F.linear(h, W["fc1"]), F.linear(h, W["fc3"])
    t = lap("mlp fc1 + fc3", t)
    m = F.silu(a) * g
    t = lap("mlp silu * gate", t)
    m = F.linear(m, W["fc2"])
    lap("mlp fc2", t)
    return x + m


x = torch.randn(B, N, D).to(bf)
with torch.no_grad():
    for _ in range(2):
        block(x)
    spent.clear()
    t0 = time.perf_counter()
    for _ in range(6):
        block(x)
    total = time.perf_counter() - t0
print(f"torch {torch.__version__}: {total / 6 * 1000:.0f} ms a block, {total / 6 * 12 / B * 1000:.0f} ms an object's 12-block embedding")
for part, s in spent.items():
    print(f"  {part:16s} {s / 6 * 1000:6.1f} ms  {s / total * 100:4.1f} %")
