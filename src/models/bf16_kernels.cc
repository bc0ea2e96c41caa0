#include "models/bf16_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <ATen/Parallel.h>

namespace astrofm::models::bf16 {
namespace {

// Compiled three times; the loader's resolver picks the best the CPU runs.
#define ASTROFM_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

inline float to_float(uint16_t v) {
  const uint32_t u = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Round to nearest even, as c10::BFloat16 does (NaN stays NaN).
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return f != f ? uint16_t{0x7FC0} : static_cast<uint16_t>(rounded);
}

// exp(x) to float32 accuracy (a few ulp) in a form compilers vectorise:
// 2^n by the exponent bits, e^r on |r| <= ln2/2 by Cephes' expf polynomial.
inline float vexp(float x) {
  x = std::min(std::max(x, -87.3f), 88.7f);
  const int32_t ni = static_cast<int32_t>(x * 1.44269504088896341f + 128.5f) - 128;  // round(x / ln2): truncation of a positive value
  const float n = static_cast<float>(ni);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln2 in two parts, so r stays exact
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x <= -87.3f ? 0.f : y * scale;  // underflow is 0, as std::exp gives
}

ASTROFM_SIMD_CLONES void norm_row(const uint16_t* x, int64_t d, const float* w, const float* b, float eps, uint16_t* out) {
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < d; ++j) sum += to_float(x[j]);
  const float mean = sum / static_cast<float>(d);
  float sq = 0.f;
#pragma omp simd reduction(+ : sq)
  for (int64_t j = 0; j < d; ++j) {
    const float c = to_float(x[j]) - mean;
    sq += c * c;
  }
  const float rstd = 1.f / std::sqrt(sq / static_cast<float>(d) + eps);
  for (int64_t j = 0; j < d; ++j) out[j] = to_bf16((to_float(x[j]) - mean) * rstd * w[j] + b[j]);
}

ASTROFM_SIMD_CLONES void silu_mul_span(const uint16_t* a, const uint16_t* b, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = to_float(a[i]);
    out[i] = to_bf16(v / (1.f + vexp(-v)) * to_float(b[i]));
  }
}

// Enough work per task that splitting pays (about 16k values).
int64_t grain_rows(int64_t d) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, d)); }

}  // namespace

void layer_norm(const uint16_t* x, const RowLayout& rows, const float* weight, const float* bias, float eps, uint16_t* out) {
  const int64_t total = rows.outer * rows.inner;
  at::parallel_for(0, total, grain_rows(rows.d), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t o = r / rows.inner, i = r % rows.inner;
      norm_row(x + o * rows.outer_stride + i * rows.inner_stride, rows.d, weight, bias, eps, out + r * rows.d);
    }
  });
}

void silu_mul(const uint16_t* a, const uint16_t* b, int64_t n, uint16_t* out) {
  at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) { silu_mul_span(a + begin, b + begin, end - begin, out + begin); });
}

}  // namespace astrofm::models::bf16
