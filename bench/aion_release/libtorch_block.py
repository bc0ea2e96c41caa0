"""Which libtorch for the released AION sizes: one bfloat16 encoder block
(579 tokens, 2 threads) timed with whichever torch runs this, in the recipes
astrofm could use with it:

  explicit   astrofm's libtorch 1.13 recipe with libtorch's own ops: layer
             norms through float32, attention one object at a time
             (softmax(QK^T)V), silu(fc1) * fc3
  bf16_norm  the same with libtorch's bfloat16 layer norm (fast from 2.x)
  sdpa       bf16_norm with the fused scaled_dot_product_attention (2.x)

  for py in /usr/bin/python3 /tmp/aion-torch2/bin/python; do
    OMP_WAIT_POLICY=PASSIVE $py bench/aion_release/libtorch_block.py; done

One JSON line per size: seconds per object per block, for each recipe.
"""
import json
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
N = 579
SIZES = {"base": (768, 12, 8), "large": (1024, 16, 8), "xlarge": (2048, 32, 4)}  # dim, heads, objects per call
bf = torch.bfloat16


def block(x, W, heads, recipe):
    B, _, D = x.shape
    ones, ones_h = torch.ones(D), torch.ones(D // heads)

    def ln(t, w):
        if recipe == "explicit":
            return F.layer_norm(t.float(), (t.shape[-1],), w, None, 1e-6).to(bf)
        return F.layer_norm(t, (t.shape[-1],), w.to(bf), None, 1e-6)

    t = F.linear(ln(x, ones), W["qkv"]).reshape(B, N, 3, heads, D // heads)
    q, k, v = (ln(t.select(2, i), ones_h) if i < 2 else t.select(2, i) for i in range(3))
    q, k, v = (u.permute(0, 2, 1, 3) for u in (q, k, v))
    if recipe == "sdpa":
        o = F.scaled_dot_product_attention(q, k, v)
    else:
        scale = (D // heads) ** -0.5
        o = torch.stack([torch.matmul(torch.matmul(q[b] * scale, k[b].transpose(-2, -1).contiguous()).softmax(-1), v[b]) for b in range(B)])
    x = x + F.linear(o.transpose(1, 2).reshape(B, N, D), W["proj"])
    h = ln(x, ones)
    return x + F.linear(F.silu(F.linear(h, W["fc1"])) * F.linear(h, W["fc3"]), W["fc2"])


for size, (D, heads, B) in SIZES.items():
    hidden = int(2 * 4 * D / 3)
    W = {k: (torch.randn(*s) * 0.02).to(bf) for k, s in
         dict(qkv=(3 * D, D), proj=(D, D), fc1=(hidden, D), fc2=(D, hidden), fc3=(hidden, D)).items()}
    x = torch.randn(B, N, D).to(bf)
    out = {"torch": torch.__version__, "size": size, "dim": D, "objects": B}
    recipes = ["explicit", "bf16_norm"] + (["sdpa"] if hasattr(F, "scaled_dot_product_attention") else [])
    with torch.inference_mode():
        for r in recipes:
            block(x, W, heads, r)
            t0, reps = time.perf_counter(), 5
            for _ in range(reps):
                block(x, W, heads, r)
            out[r + "_s_per_object"] = round((time.perf_counter() - t0) / reps / B, 5)
    print(json.dumps(out), flush=True)
