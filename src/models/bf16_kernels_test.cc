// The bfloat16 kernels against libtorch's float32 ops rounded once to
// bfloat16: at most one bfloat16 step apart, on strided rows and on values
// far into exp's tails.
#include "models/bf16_kernels.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace astrofm::models::bf16 {
namespace {

uint16_t* bits(const torch::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

// Largest difference in units of bfloat16's step at the reference's magnitude.
double max_steps(const torch::Tensor& got, const torch::Tensor& ref) {
  auto g = got.to(torch::kFloat64), r = ref.to(torch::kFloat64);
  auto step = torch::clamp_min(r.abs(), 1e-30) * (1.0 / 128);
  return ((g - r).abs() / step).max().item<double>();
}

TEST(Bf16Kernels, LayerNormReadsStridedRowsAsLibtorchComputesThem) {
  torch::manual_seed(3);
  const int64_t B = 2, N = 5, H = 3, hd = 64;
  // q inside a fused qkv product: rows of hd, tokens 3*H*hd apart.
  auto qkv = (torch::randn({B, N, 3, H, hd}) * 4 + 1.5).to(torch::kBFloat16);
  auto q = qkv.select(2, 0);
  auto w = torch::rand({hd}) + 0.5, b = torch::randn({hd});
  auto out = torch::empty(q.sizes(), q.options());
  RowLayout rows{B * N, 3 * H * hd, H, hd, hd};
  layer_norm(bits(qkv), rows, w.data_ptr<float>(), b.data_ptr<float>(), 1e-6f, bits(out));
  auto ref = torch::layer_norm(q.to(torch::kFloat32), {hd}, w, b, 1e-6).to(torch::kBFloat16);
  EXPECT_LE(max_steps(out, ref), 1.0);
  EXPECT_GT((out.to(torch::kFloat32) - q.to(torch::kFloat32)).abs().max().item<float>(), 0.5f);  // it did normalise
}

TEST(Bf16Kernels, SiluGateMatchesFloat32AcrossTheTails) {
  torch::manual_seed(5);
  auto a = torch::cat({torch::randn({5000}) * 3, torch::tensor({-200.f, -88.f, -30.f, 0.f, 30.f, 200.f})}).to(torch::kBFloat16);
  auto b = (torch::randn({a.numel()}) + 0.1).to(torch::kBFloat16);
  auto ref = (torch::silu(a.to(torch::kFloat32)) * b.to(torch::kFloat32)).to(torch::kBFloat16);
  auto out = torch::empty_like(a);
  silu_mul(bits(a), bits(b), a.numel(), bits(out));
  EXPECT_LE(max_steps(out.masked_select(ref != 0), ref.masked_select(ref != 0)), 1.0);
  EXPECT_LT(out.masked_select(ref == 0).to(torch::kFloat32).abs().max().item<float>(), 1e-30f);  // exp's overflow: 0 there, ~1e-37 here
}

}  // namespace
}  // namespace astrofm::models::bf16
