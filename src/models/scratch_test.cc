// Scratch buffers: a freed tensor's block is reused by the next of its size,
// small tensors bypass the pool, and the products and sums written into
// scratch buffers equal libtorch's own.
#include "models/scratch.h"

#include <gtest/gtest.h>

namespace astrofm::models {
namespace {

TEST(Scratch, AFreedBlockServesTheNextTensorOfItsSize) {
  torch::NoGradGuard no_grad;
  void* first = nullptr;
  size_t held = 0;  // other tests in this process may have left blocks
  {
    auto t = scratch_empty({1024, 1024}, torch::kFloat32);  // 4 MB
    t.fill_(1.f);
    first = t.data_ptr();
    held = scratch_pooled_bytes();
  }
  EXPECT_EQ(scratch_pooled_bytes(), held + (size_t{4} << 20));
  auto again = scratch_empty({2048, 512}, torch::kFloat32);  // same bytes, another shape
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(scratch_pooled_bytes(), held);
  EXPECT_TRUE(again.is_contiguous());
  EXPECT_EQ(again.sizes(), (std::vector<int64_t>{2048, 512}));

  {
    auto small = scratch_empty({16, 16}, torch::kFloat32);  // 1 KB: plain torch::empty
  }
  EXPECT_EQ(scratch_pooled_bytes(), held);
}

TEST(Scratch, LinearAndAddEqualLibtorchs) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(4);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto x = torch::randn({3, 400, 256}).to(dtype), w = torch::randn({512, 256}).to(dtype);
    EXPECT_TRUE(torch::equal(scratch_linear(x, w), torch::nn::functional::linear(x, w))) << dtype;
    auto y = torch::randn({3, 400, 256}).to(dtype);
    EXPECT_TRUE(torch::equal(scratch_add(x, y), x + y)) << dtype;
  }
}

}  // namespace
}  // namespace astrofm::models
