// Attention throughput on this libtorch: the explicit softmax(QK^T/sqrt(d))V
// astrofm's layers use (all libtorch 1.13 offers) against the fused
// scaled_dot_product_attention of libtorch >= 2.0, forward and forward +
// backward, batch 32 x 256 tokens x 256 wide, 8 heads. Prints JSON.
// Usage: astrofm_bench_attention THREADS
#include <chrono>
#include <cstdio>
#include <string>

#include "bench_util.h"

#include <torch/torch.h>


int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s THREADS\n", argv[0]);
    return 2;
  }
  torch::set_num_threads(std::stoi(argv[1]));
  torch::manual_seed(0);
  const int64_t B = 32, H = 8, T = 256, hd = 32;
  auto q = torch::randn({B, H, T, hd}, torch::requires_grad()), k = torch::randn({B, H, T, hd}, torch::requires_grad()),
       v = torch::randn({B, H, T, hd}, torch::requires_grad());
  auto explicit_attn = [&] {
    return torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd)), -1), v);
  };
  double e_fwd, e_train;
  {
    torch::NoGradGuard ng;
    e_fwd = seconds_per_call(explicit_attn, 5);
  }
  e_train = seconds_per_call([&] { explicit_attn().sum().backward(); }, 3);
  std::string fused = "null";
#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
  auto fused_attn = [&] { return at::scaled_dot_product_attention(q, k, v); };
  double f_fwd, f_train;
  {
    torch::NoGradGuard ng;
    f_fwd = seconds_per_call(fused_attn, 5);
  }
  f_train = seconds_per_call([&] { fused_attn().sum().backward(); }, 3);
  fused = "{\"forward_s\": " + std::to_string(f_fwd) + ", \"train_s\": " + std::to_string(f_train) + "}";
#endif
  std::printf("{\"torch\": \"%s\", \"explicit\": {\"forward_s\": %f, \"train_s\": %f}, \"fused\": %s, \"cuda\": %s}\n",
              TORCH_VERSION, e_fwd, e_train, fused.c_str(), torch::cuda::is_available() ? "true" : "false");
  return 0;
}
