// GPU check of the model modules through libtorch's device abstraction:
// CPU and CUDA give the same embeddings; a few CLIP training steps run on
// CUDA; encoder throughput on both devices. Built by bench/gpu/run.sh against
// the PyTorch found on the machine (no HDF5/FITS needed).
#include <chrono>
#include <cstdio>

#include "astrofm/models/astroclip.h"
#include "astrofm/models/cnn.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"

using namespace astrofm::models;

static double objects_per_s(const std::function<void()>& f, int64_t batch, bool cuda) {
  for (int i = 0; i < 3; ++i) f();
  if (cuda) torch::cuda::synchronize();
  auto t0 = std::chrono::steady_clock::now();
  int reps = 10;
  for (int i = 0; i < reps; ++i) f();
  if (cuda) torch::cuda::synchronize();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return reps * batch / s;
}

int main() {
  if (!torch::cuda::is_available()) {
    std::printf("no CUDA device\n");
    return 1;
  }
  torch::manual_seed(0);
  AstroClipConfig c;
  c.image_backbone = "cnn";
  c.spectrum.embed_dim = 64;
  c.spectrum.num_layers = 2;
  c.spectrum.num_heads = 4;
  c.embed_dim = 128;
  c.mlp_hidden = 512;
  AstroClip cpu(c);
  cpu->eval();
  save_model("/tmp/gpu_clip.afm", *cpu, {{"architecture", "astroclip"}, {"config", c.to_json()}});
  auto gpu = std::dynamic_pointer_cast<AstroClipImpl>(load_model("/tmp/gpu_clip.afm", torch::kCUDA).module);
  auto flux = torch::rand({32, 3, 64, 64}) * 0.5;
  auto spec = 5 + torch::randn({32, 1557});
  auto img = center_crop(legacysurvey_rgb(flux), 64).contiguous();
  auto tok = specformer_preprocess(spec, c.spectrum);
  torch::NoGradGuard ng;
  auto ic = cpu->image_encoder->forward(img), sc = cpu->spectrum_encoder->forward(tok);
  auto ig = gpu->image_encoder->forward(img.cuda()).cpu(), sg = gpu->spectrum_encoder->forward(tok.cuda()).cpu();
  double di = (ic - ig).abs().max().item<double>(), ds = (sc - sg).abs().max().item<double>();
  std::printf("parity cpu vs cuda: image max|diff| %.2e, spectrum max|diff| %.2e\n", di, ds);
  // Encoder throughput, batch 256.
  auto big = torch::rand({256, 3, 64, 64});
  auto big_tok = specformer_preprocess(5 + torch::randn({256, 1557}), c.spectrum);
  auto big_g = big.cuda(), tok_g = big_tok.cuda();
  double cpu_img = objects_per_s([&] { cpu->image_encoder->forward(big); }, 256, false);
  double gpu_img = objects_per_s([&] { gpu->image_encoder->forward(big_g); }, 256, true);
  double cpu_sp = objects_per_s([&] { cpu->spectrum_encoder->forward(big_tok); }, 256, false);
  double gpu_sp = objects_per_s([&] { gpu->spectrum_encoder->forward(tok_g); }, 256, true);
  std::printf("image tower fwd b256: cpu %.0f obj/s, cuda %.0f obj/s\n", cpu_img, gpu_img);
  std::printf("spectrum tower fwd b256: cpu %.0f obj/s, cuda %.0f obj/s\n", cpu_sp, gpu_sp);
  // A few training steps on CUDA.
  torch::GradMode::set_enabled(true);
  gpu->train();
  torch::optim::AdamW opt(gpu->parameters(), torch::optim::AdamWOptions(3e-4));
  auto x = big_g.slice(0, 0, 64), t = tok_g.slice(0, 0, 64);
  double first = 0, last = 0;
  for (int s = 0; s < 20; ++s) {
    opt.zero_grad();
    auto loss = clip_loss(gpu->image_encoder->forward(x), gpu->spectrum_encoder->forward(t), 15.5);
    loss.backward();
    opt.step();
    (s == 0 ? first : last) = loss.item<double>();
  }
  std::printf("clip training on cuda, 20 steps on one batch of 64: loss %.3f -> %.3f\n", first, last);
  return di < 1e-3 && ds < 1e-3 && last < first ? 0 : 2;
}
