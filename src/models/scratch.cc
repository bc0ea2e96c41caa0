#include "models/scratch.h"

#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <c10/util/accumulate.h>

namespace astrofm::models {
namespace {

constexpr size_t kMinBytes = size_t{1} << 20;   // smaller ones are cheap from malloc's heap
constexpr size_t kBlock = size_t{2} << 20;      // sizes rounded to huge pages
constexpr size_t kCapBytes = size_t{4} << 30;   // held for reuse at most; beyond, freed

class Pool {
 public:
  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        held_ -= bytes;
        return p;
      }
    }
    void* p = std::aligned_alloc(kBlock, bytes);
    if (!p) throw std::bad_alloc();
    madvise(p, bytes, MADV_HUGEPAGE);  // fewer faults and TLB misses where THP is "madvise"
    return p;
  }
  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (held_ + bytes <= kCapBytes) {
        free_[bytes].push_back(p);
        held_ += bytes;
        return;
      }
    }
    std::free(p);
  }
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_;
  }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t held_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: tensors may outlive static destruction
  return *p;
}

}  // namespace

torch::Tensor scratch_empty(at::IntArrayRef sizes, const torch::TensorOptions& options) {
  const size_t need = static_cast<size_t>(c10::multiply_integers(sizes)) * c10::elementSize(c10::typeMetaToScalarType(options.dtype()));
  if (need < kMinBytes || options.device().type() != torch::kCPU) return torch::empty(sizes, options);
  const size_t bytes = (need + kBlock - 1) / kBlock * kBlock;
  void* p = pool().take(bytes);
  return torch::from_blob(p, sizes, [bytes](void* q) { pool().give(q, bytes); }, options);
}

torch::Tensor scratch_linear(const torch::Tensor& x, const torch::Tensor& weight) {
  auto sizes = x.sizes().vec();
  sizes.back() = weight.size(0);
  auto out = scratch_empty(sizes, x.options());
  auto rows = out.view({-1, weight.size(0)});
  at::mm_out(rows, x.reshape({-1, x.size(-1)}), weight.t());
  return out;
}

torch::Tensor scratch_add(const torch::Tensor& a, const torch::Tensor& b) {
  auto out = scratch_empty(a.sizes(), a.options());
  return at::add_out(out, a, b);
}

size_t scratch_pooled_bytes() { return pool().held(); }

}  // namespace astrofm::models
