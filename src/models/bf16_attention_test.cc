// The fused bfloat16 attention against libtorch's float32 attention on the
// same bfloat16 inputs: q, k and v read where AION's fused qkv product
// leaves them, key masks and per-query masks, fully masked rows, ragged
// token counts and every head size the kernel takes.
#include "models/bf16_attention.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cfloat>

namespace astrofm::models::bf16 {
namespace {

uint16_t* bits(const torch::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }
HeadStrides strides(const torch::Tensor& t) { return {t.stride(0), t.stride(1), t.stride(2)}; }

// [B, H, N, hd] views; mask [B, rows, M] bool or undefined. Returns [B, N, H, hd].
torch::Tensor fused(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& mask) {
  const AttentionShape s{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3)};
  auto out = torch::empty({s.batch, s.queries, s.heads, s.head_dim}, q.options());
  auto m = mask.defined() ? mask.contiguous() : mask;
  attention(bits(q), strides(q), bits(k), strides(k), bits(v), strides(v), m.defined() ? m.data_ptr<bool>() : nullptr,
            m.defined() ? m.size(1) : 0, s, static_cast<float>(1.0 / std::sqrt(q.size(3))), bits(out));
  return out;
}

torch::Tensor reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& mask) {
  auto a = torch::matmul(q.to(torch::kFloat32), k.to(torch::kFloat32).transpose(-2, -1)) / std::sqrt(q.size(3));
  if (mask.defined()) a = a.masked_fill(mask.unsqueeze(1), -FLT_MAX);
  return torch::matmul(a.softmax(-1), v.to(torch::kFloat32)).permute({0, 2, 1, 3});
}

void expect_close(const torch::Tensor& got, const torch::Tensor& ref) {
  auto err = (got.to(torch::kFloat32) - ref).abs();
  EXPECT_LT(err.max().item<float>(), 0.02f);   // a few bfloat16 steps at the outputs' size (about 1)
  EXPECT_LT(err.mean().item<float>(), 3e-3f);  // the probabilities' one rounding, not a systematic bias
}

TEST(Bf16Attention, MatchesFloat32AttentionWithKeyMasks) {
  if (!attention_available(64)) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  torch::manual_seed(5);
  const int64_t B = 3, N = 37, H = 3, hd = 64;
  // AION's layout: one [B, N, 3, H, hd] product, q and k normalised copies, v a view.
  auto qkv = (torch::randn({B, N, 3, H, hd}) * 2).to(torch::kBFloat16);
  auto q = qkv.select(2, 0).contiguous().permute({0, 2, 1, 3}), k = qkv.select(2, 1).contiguous().permute({0, 2, 1, 3});
  auto v = qkv.select(2, 2).permute({0, 2, 1, 3});
  auto mask = torch::zeros({B, 1, N}, torch::kBool);
  mask[1].slice(1, 20) = true;  // object 1: its last 17 tokens absent
  mask[2] = true;               // object 2: every token absent, so each row averages all values
  auto got = fused(q, k, v, mask);
  expect_close(got, reference(q, k, v, mask));
  auto uniform = v[2].to(torch::kFloat32).mean(1);  // [H, hd]
  EXPECT_LT((got[2].to(torch::kFloat32) - uniform.unsqueeze(0)).abs().max().item<float>(), 0.02f);

  // Masked keys' values do not leak in, however large.
  auto v2 = v.clone();
  v2[1].slice(1, 20) = 1e4;
  EXPECT_TRUE(torch::equal(fused(q, k, v2, mask)[1], got[1]));
}

TEST(Bf16Attention, PerQueryMasksOneQueryAndEveryHeadSize) {
  if (!attention_available(64)) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  torch::manual_seed(6);
  for (int64_t hd : {32, 64, 128}) {
    for (int64_t N : {1, 8, 13}) {
      const int64_t B = 2, H = 2, M = 45;
      auto q = torch::randn({B, H, N, hd}).to(torch::kBFloat16), k = torch::randn({B, H, M, hd}).to(torch::kBFloat16);
      auto v = torch::randn({B, H, M, hd}).to(torch::kBFloat16);
      auto mask = torch::rand({B, N, M}) < 0.3;
      expect_close(fused(q, k, v, mask), reference(q, k, v, mask));
      expect_close(fused(q, k, v, torch::Tensor()), reference(q, k, v, torch::Tensor()));
    }
  }
  EXPECT_FALSE(attention_available(48));
}

}  // namespace
}  // namespace astrofm::models::bf16
