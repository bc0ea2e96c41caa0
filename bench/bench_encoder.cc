// Encoder forward (batch 256) and training-step throughput of astrofm's
// models, for bench/encoder_vs_pytorch.py. Prints JSON.
// Usage: astrofm_bench_encoder cnn|specformer THREADS
#include <chrono>
#include <cstdio>
#include <string>

#include "bench_util.h"

#include "astrofm/models/cnn.h"
#include "astrofm/models/specformer.h"

using namespace astrofm::models;


int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s cnn|specformer THREADS\n", argv[0]);
    return 2;
  }
  std::string arch = argv[1];
  torch::set_num_threads(std::stoi(argv[2]));
  torch::manual_seed(0);
  const int64_t batch = 256;
  std::shared_ptr<torch::nn::Module> m;
  torch::Tensor x;
  std::function<torch::Tensor(const torch::Tensor&)> fwd;
  if (arch == "cnn") {
    auto c = Cnn(CnnConfig{});
    m = c.ptr();
    x = torch::rand({batch, 3, 64, 64});
    fwd = [c](const torch::Tensor& t) mutable { return c->forward(t); };
  } else {
    SpecFormerConfig sc;
    sc.embed_dim = 64;
    sc.num_layers = 2;
    sc.num_heads = 4;
    auto s = SpecFormer(sc);
    m = s.ptr();
    x = torch::randn({batch, 156, 22});
    fwd = [s](const torch::Tensor& t) mutable { return s->forward_tokens(t).mean(1); };
  }
  m->eval();
  double f;
  {
    torch::NoGradGuard ng;
    f = seconds_per_call([&] { fwd(x); }, 5);
  }
  m->train();
  torch::optim::AdamW opt(m->parameters(), torch::optim::AdamWOptions(1e-3));
  auto xb = x.slice(0, 0, 64);
  double t = seconds_per_call([&] {
    opt.zero_grad();
    fwd(xb).pow(2).mean().backward();
    opt.step();
  }, 5);
  auto a = torch::rand({2048, 2048}), b = torch::rand({2048, 2048});
  double g = seconds_per_call([&] { torch::mm(a, b); }, 5);
  std::printf("{\"forward_objects_per_s\": %.1f, \"train_step_s\": %.5f, \"sgemm_gflops\": %.1f}\n", batch / f, t,
              2.0 * 2048 * 2048 * 2048 / g / 1e9);
  return 0;
}
