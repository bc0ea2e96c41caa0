#include "models/bf16_attention.h"

// GCC 12's AVX-512 reductions start from an undefined register on purpose.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include <ATen/Parallel.h>

namespace astrofm::models::bf16 {
namespace {

#define ASTROFM_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

constexpr int kRows = 8;  // query rows per block: 16 score accumulators over two key groups

inline uint32_t pair_at(const uint16_t* p) {
  uint32_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// exp(x) for x <= 0 (scores minus their row's maximum) to float32 accuracy:
// 2^n by scalef, e^r on |r| <= ln2/2 by Cephes' expf polynomial; below
// -87.3 (and -inf, the padding keys) exactly 0.
ASTROFM_BF16_TARGET inline __m512 exp_nonpositive(__m512 x) {
  const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_GE_OQ);
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.f));
  return _mm512_maskz_mov_ps(live, _mm512_scalef_ps(y, n));
}

// One (object, head): keys and values packed once, then blocks of query rows.
template <int HD>
struct Head {
  static constexpr int kPairs = HD / 2;                 // bfloat16 pairs in a row (one dot-product step each)
  static constexpr int kVecs = HD / 16;                 // 16-float vectors in an output row
  static constexpr int kPvRows = HD >= 128 ? 2 : 4;     // output rows per pass, kVecs accumulators each

  int64_t M, Mp;  // keys, and keys padded to 32
  std::vector<uint32_t> kp;  // [Mp/16][kPairs][16]: a group of 16 keys' pair p in one vector
  std::vector<uint16_t> vp;  // [Mp/2][HD][2]: two neighbouring keys' values interleaved
  std::vector<float> scores;   // [kRows][Mp]
  std::vector<uint16_t> probs;  // [kRows][Mp], unnormalised, bfloat16

  explicit Head(int64_t keys) : M(keys), Mp((keys + 31) / 32 * 32) {
    kp.assign(static_cast<size_t>(Mp * kPairs), 0);
    vp.assign(static_cast<size_t>(Mp * HD), 0);
    scores.resize(static_cast<size_t>(kRows * Mp));
    probs.resize(static_cast<size_t>(kRows * Mp));
  }

  void pack(const uint16_t* k, int64_t k_token, const uint16_t* v, int64_t v_token) {
    for (int64_t key = 0; key < M; ++key) {
      const uint16_t* row = k + key * k_token;
      uint32_t* dst = kp.data() + (key / 16) * kPairs * 16 + key % 16;
      for (int p = 0; p < kPairs; ++p) dst[p * 16] = pair_at(row + 2 * p);
    }
    for (int64_t key = 0; key < M; ++key) {
      const uint16_t* row = v + key * v_token;
      uint16_t* dst = vp.data() + (key / 2) * 2 * HD + key % 2;
      for (int d = 0; d < HD; ++d) dst[2 * d] = row[d];
    }
  }

  ASTROFM_BF16_TARGET void score_block(const uint16_t* const* qrow, float scale) {
    const __m512 sc = _mm512_set1_ps(scale);
    for (int64_t g = 0; g < Mp / 16; g += 2) {
      __m512 acc[kRows][2];
      for (auto& a : acc) a[0] = a[1] = _mm512_setzero_ps();
      const uint32_t* k0 = kp.data() + g * kPairs * 16;
      const uint32_t* k1 = k0 + kPairs * 16;
      for (int p = 0; p < kPairs; ++p) {
        const __m512bh a = (__m512bh)_mm512_loadu_si512(k0 + p * 16), b = (__m512bh)_mm512_loadu_si512(k1 + p * 16);
        for (int r = 0; r < kRows; ++r) {
          const __m512bh qb = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair_at(qrow[r] + 2 * p)));
          acc[r][0] = _mm512_dpbf16_ps(acc[r][0], qb, a);
          acc[r][1] = _mm512_dpbf16_ps(acc[r][1], qb, b);
        }
      }
      for (int r = 0; r < kRows; ++r) {
        _mm512_storeu_ps(scores.data() + r * Mp + g * 16, _mm512_mul_ps(acc[r][0], sc));
        _mm512_storeu_ps(scores.data() + r * Mp + g * 16 + 16, _mm512_mul_ps(acc[r][1], sc));
      }
    }
  }

  // Masked keys to -FLT_MAX, padding to -inf, then exp(s - max) rounded to
  // bfloat16; returns 1 / the float32 sum.
  ASTROFM_BF16_TARGET float softmax_row(int r, const bool* mask_row) {
    float* s = scores.data() + r * Mp;
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < Mp; j += 16) {
      const __mmask16 valid = j + 16 <= M ? __mmask16(0xFFFF) : M > j ? __mmask16((1u << (M - j)) - 1) : __mmask16(0);
      __m512 x = _mm512_loadu_ps(s + j);
      if (mask_row) {
        const __m128i m = _mm_maskz_loadu_epi8(valid, mask_row + j);
        x = _mm512_mask_mov_ps(x, _mm_test_epi8_mask(m, m), _mm512_set1_ps(-FLT_MAX));
      }
      x = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid, x);
      _mm512_storeu_ps(s + j, x);
      vmax = _mm512_max_ps(vmax, x);
    }
    const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vsum = _mm512_setzero_ps();
    uint16_t* p = probs.data() + r * Mp;
    for (int64_t j = 0; j < Mp; j += 32) {
      const __m512 e0 = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s + j), top));
      const __m512 e1 = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s + j + 16), top));
      vsum = _mm512_add_ps(vsum, _mm512_add_ps(e0, e1));
      _mm512_storeu_si512(p + j, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    return 1.f / _mm512_reduce_add_ps(vsum);
  }

  // out rows (token-major, heads apart by out_token) = probs v / sum.
  ASTROFM_BF16_TARGET void weigh_values(int rows, const float* inv, uint16_t* const* out) {
    for (int r0 = 0; r0 < rows; r0 += kPvRows) {
      __m512 acc[kPvRows][kVecs];
      for (auto& row : acc)
        for (auto& a : row) a = _mm512_setzero_ps();
      for (int64_t jp = 0; jp < Mp / 2; ++jp) {
        __m512bh vv[kVecs];
        for (int c = 0; c < kVecs; ++c) vv[c] = (__m512bh)_mm512_loadu_si512(vp.data() + jp * 2 * HD + 32 * c);
        for (int r = 0; r < kPvRows; ++r) {
          const __m512bh pb = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair_at(probs.data() + (r0 + r) * Mp + 2 * jp)));
          for (int c = 0; c < kVecs; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], pb, vv[c]);
        }
      }
      for (int r = 0; r < kPvRows && r0 + r < rows; ++r)
        for (int c = 0; c < kVecs; ++c)
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[r0 + r] + 16 * c),
                              (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(acc[r][c], _mm512_set1_ps(inv[r0 + r]))));
    }
  }
};

template <int HD>
void run(const uint16_t* q, const HeadStrides& qs, const uint16_t* k, const HeadStrides& ks, const uint16_t* v,
         const HeadStrides& vs, const bool* mask, int64_t mask_rows, const AttentionShape& s, float scale, uint16_t* out) {
  const int64_t N = s.queries, M = s.keys, H = s.heads;
  at::parallel_for(0, s.batch * H, 1, [&](int64_t begin, int64_t end) {
    Head<HD> head(M);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / H, h = item % H;
      head.pack(k + b * ks.batch + h * ks.head, ks.token, v + b * vs.batch + h * vs.head, vs.token);
      for (int64_t n0 = 0; n0 < N; n0 += kRows) {
        const int rows = static_cast<int>(std::min<int64_t>(kRows, N - n0));
        const uint16_t* qrow[kRows];
        uint16_t* orow[kRows];
        float inv[kRows];
        for (int r = 0; r < kRows; ++r) {
          const int64_t n = n0 + std::min(r, rows - 1);  // the tail repeats its last row, not stored
          qrow[r] = q + b * qs.batch + h * qs.head + n * qs.token;
          orow[r] = out + ((b * N + n) * H + h) * HD;
        }
        head.score_block(qrow, scale);
        for (int r = 0; r < rows; ++r) {
          const bool* mrow = mask ? mask + (b * mask_rows + (mask_rows == 1 ? 0 : n0 + r)) * M : nullptr;
          inv[r] = head.softmax_row(r, mrow);
        }
        head.weigh_values(rows, inv, orow);
      }
    }
  });
}

}  // namespace

bool attention_available(int64_t head_dim) {
  static const bool cpu = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return cpu && (head_dim == 32 || head_dim == 64 || head_dim == 128);
}

void attention(const uint16_t* q, const HeadStrides& qs, const uint16_t* k, const HeadStrides& ks, const uint16_t* v,
               const HeadStrides& vs, const bool* mask, int64_t mask_rows, const AttentionShape& shape, float scale,
               uint16_t* out) {
  switch (shape.head_dim) {
    case 32: return run<32>(q, qs, k, ks, v, vs, mask, mask_rows, shape, scale, out);
    case 64: return run<64>(q, qs, k, ks, v, vs, mask, mask_rows, shape, scale, out);
    case 128: return run<128>(q, qs, k, ks, v, vs, mask, mask_rows, shape, scale, out);
    default: return;
  }
}

}  // namespace astrofm::models::bf16
