// AION's bfloat16 attention at release size, one encoder layer's worth: the
// fused kernel (src/models/bf16_attention.h) against libtorch's three passes
// as aion.cc ran them before it (one object at a time: q k^T, softmax, p v).
// 8 objects x 579 tokens (an image and 3 fluxes), 12 heads of 64 (Base).
// Usage: astrofm_bench_bf16_attention THREADS   Prints JSON.
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include <torch/torch.h>

#include "models/bf16_attention.h"

namespace bf16 = astrofm::models::bf16;

uint16_t* bits(const torch::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

double ms_per_call(const std::function<void()>& f) {
  f();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 10;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s THREADS\n", argv[0]);
    return 2;
  }
  torch::set_num_threads(std::stoi(argv[1]));
  torch::NoGradGuard no_grad;
  const int64_t B = 8, H = 12, N = 579, hd = 64;
  if (!bf16::attention_available(hd)) {
    std::printf("{\"skipped\": \"this CPU has no AVX512-BF16\"}\n");
    return 0;
  }
  auto qkv = torch::randn({B, N, 3, H, hd}).to(torch::kBFloat16);  // q and k normalised copies, v a view, as in aion.cc
  auto q = qkv.select(2, 0).contiguous().permute({0, 2, 1, 3}), k = qkv.select(2, 1).contiguous().permute({0, 2, 1, 3});
  auto v = qkv.select(2, 2).permute({0, 2, 1, 3});
  auto mask = torch::zeros({B, 1, N}, torch::kBool);
  auto out = torch::empty({B, N, H, hd}, q.options());
  const double fused = ms_per_call([&] {
    bf16::attention(bits(q), {q.stride(0), q.stride(1), q.stride(2)}, bits(k), {k.stride(0), k.stride(1), k.stride(2)}, bits(v),
                    {v.stride(0), v.stride(1), v.stride(2)}, mask.data_ptr<bool>(), 1, {B, H, N, N, hd}, 0.125f, bits(out));
  });
  const double libtorch = ms_per_call([&] {
    std::vector<torch::Tensor> o;
    for (int64_t b = 0; b < B; ++b)
      o.push_back(torch::matmul(torch::matmul(q[b] * 0.125, k[b].transpose(-2, -1).contiguous()).softmax(-1), v[b]));
    out.copy_(torch::stack(o).transpose(1, 2));
  });
  const double gflop = 4.0 * B * H * N * N * hd / 1e9;
  std::printf("{\"objects\": %ld, \"tokens\": %ld, \"threads\": %d, \"fused_ms\": %.1f, \"libtorch_ms\": %.1f, \"speedup\": %.2f, "
              "\"fused_gflops\": %.0f, \"libtorch_gflops\": %.0f}\n",
              static_cast<long>(B), static_cast<long>(N), torch::get_num_threads(), fused, libtorch, libtorch / fused,
              gflop / fused * 1e3, gflop / libtorch * 1e3);
}
