"""Matrix-product speed of a torch build at AION-Base's MLP shape, float32 and
bfloat16: [16 x 579 tokens ~ 4632, 768] x [768, 2048] on 2 threads. Run with
each torch to compare the kernels both sides of the AION benchmark share:

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/aion_release/matmul_bf16.py          # Debian's torch 1.13 (astrofm's libtorch)
  OMP_WAIT_POLICY=PASSIVE /tmp/aion-torch2/bin/python bench/aion_release/matmul_bf16.py  # PyPI's torch 2.x (AION's side)
"""
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
for dt in (torch.float32, torch.bfloat16):
    a, w = torch.randn(4632, 768).to(dt), torch.randn(2048, 768).to(dt)
    for _ in range(3):
        F.linear(a, w)
    n = 20
    t = time.perf_counter()
    for _ in range(n):
        F.linear(a, w)
    s = (time.perf_counter() - t) / n
    print(f"torch {torch.__version__} {str(dt):15s} {2 * 4632 * 768 * 2048 / s / 1e9:7.0f} GFLOP/s")
