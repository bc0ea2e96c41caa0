// bfloat16 inference kernels for the transformer steps that libtorch 1.13
// leaves unvectorised in bfloat16: layer norm (3-6x faster here, through
// float32 or not) and the SwiGLU gate silu(a) * b (1.3x).
// float32 arithmetic, one rounding to bfloat16 per output; rows split over
// ATen's threads; AVX-512 / AVX2 / plain versions picked at run time.
// Values are raw bfloat16 bits (uint16_t), so this header needs no torch.
#pragma once

#include <cstdint>

namespace astrofm::models::bf16 {

// Rows of `d` values at x + o * outer_stride + i * inner_stride (o < outer,
// i < inner); out is contiguous [outer, inner, d]. weight and bias: float32 [d].
struct RowLayout {
  int64_t outer, outer_stride, inner, inner_stride, d;
};
void layer_norm(const uint16_t* x, const RowLayout& rows, const float* weight, const float* bias, float eps, uint16_t* out);

// out[i] = silu(a[i]) * b[i] for i < n.
void silu_mul(const uint16_t* a, const uint16_t* b, int64_t n, uint16_t* out);

}  // namespace astrofm::models::bf16
