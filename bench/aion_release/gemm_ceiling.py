"""The fastest any implementation built on this CPU's bfloat16 matrix
products can embed one object with AION-1 at a given size: the encoder's
products (qkv, projection, SwiGLU's three) timed at their own shapes with
torch's oneDNN kernels, plus the attention scores at a stated rate, for 579
tokens (an image and three fluxes) in batches of 8 objects.

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/aion_release/gemm_ceiling.py [--sizes base,large,xlarge] [--attention-gflops 295]

Compare the ceiling with bench/aion_release/run.py's embed obj/s: a goal
above it needs faster matrix products, not a better implementation.
"""
import argparse
import time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--sizes", default="base,large,xlarge")
ap.add_argument("--attention-gflops", type=float, default=295.0,
                help="astrofm's fused attention (build/bench/astrofm_bench_bf16_attention 2)")
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
SIZES = {"base": (768, 12, 12), "large": (1024, 24, 16), "xlarge": (2048, 24, 32)}  # dim, encoder depth, heads
TOKENS, BATCH = 579, 8


def gflops(k, n):
    x, w = torch.randn(BATCH * TOKENS, k).to(torch.bfloat16), torch.randn(n, k).to(torch.bfloat16)
    for _ in range(2):
        torch.nn.functional.linear(x, w)
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        torch.nn.functional.linear(x, w)
        runs.append(time.perf_counter() - t)
    return 2 * BATCH * TOKENS * k * n / min(runs) / 1e9


for size in a.sizes.split(","):
    d, depth, _ = SIZES[size]
    hidden = int(2 / 3 * 4 * d)  # AION's gated MLP
    shapes = [(d, 3 * d), (d, d), (d, hidden), (d, hidden), (hidden, d)]
    seconds = sum(2 * TOKENS * k * n / (gflops(k, n) * 1e9) for k, n in shapes) * depth
    attention = depth * 4 * TOKENS * TOKENS * d / 1e9 / a.attention_gflops
    print(f"{size}: products {seconds:.3f} s an object (ceiling {1 / seconds:.3f} obj/s); "
          f"with attention at {a.attention_gflops:.0f} GFLOP/s {1 / (seconds + attention):.3f} obj/s")
