// Fused bfloat16 attention for CPUs with AVX512-BF16 (libtorch 1.13 runs
// q k^T, softmax and p v as three passes over a [heads, N, M] bfloat16 score
// tensor that leaves the cache; here a block of query rows keeps its scores
// in float32 in L1 and its keys and values packed for the dot-product
// instruction). Scores, softmax and sums in float32; the probabilities and
// the output rounded once to bfloat16. Raw bfloat16 bits, so no torch here.
#pragma once

#include <cstdint>

namespace astrofm::models::bf16 {

// Element (b, h, n, :) of a [batch, heads, tokens, head_dim] operand is at
// data + b * batch + h * head + n * token; head_dim is contiguous.
struct HeadStrides {
  int64_t batch, head, token;
};

struct AttentionShape {
  int64_t batch, heads, queries, keys, head_dim;
};

// True when this CPU has AVX512-BF16 and head_dim is one the kernel is built
// for (32, 64 or 128); otherwise use libtorch's ops.
bool attention_available(int64_t head_dim);

// out[b, n, h, :] = softmax(scale * q k^T, masked) v, out contiguous
// [batch, queries, heads, head_dim]. mask: bool [batch, mask_rows, keys]
// contiguous, true = masked out, mask_rows 1 (keys only) or queries; null
// for none. A fully masked row averages every key uniformly (as AION's
// -FLT_MAX fill does).
void attention(const uint16_t* q, const HeadStrides& qs, const uint16_t* k, const HeadStrides& ks, const uint16_t* v,
               const HeadStrides& vs, const bool* mask, int64_t mask_rows, const AttentionShape& shape, float scale,
               uint16_t* out);

}  // namespace astrofm::models::bf16
