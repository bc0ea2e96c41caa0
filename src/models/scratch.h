// Reused CPU buffers for inference's large intermediates. A fresh tensor of
// tens of MB comes from mmap and page-faults on every first touch (glibc
// unmaps such blocks on free), which cost about 12 % of AION-Base's
// bfloat16 embedding time here. Blocks of a freed scratch tensor go back to
// a pool (by rounded size, capped), so a forward pass after the first
// touches no new pages. Thread-safe; gradients must be off.
#pragma once

#include <torch/torch.h>

namespace astrofm::models {

// Contiguous, uninitialised, on the CPU. Below 1 MB: torch::empty.
torch::Tensor scratch_empty(at::IntArrayRef sizes, const torch::TensorOptions& options);

// x @ weight^T (nn::Linear without bias) into a scratch tensor; x's last
// dimension contiguous.
torch::Tensor scratch_linear(const torch::Tensor& x, const torch::Tensor& weight);

// a + b into a scratch tensor (same shape, dtype and device).
torch::Tensor scratch_add(const torch::Tensor& a, const torch::Tensor& b);

// Bytes the pool holds for reuse now (tests).
size_t scratch_pooled_bytes();

}  // namespace astrofm::models
