// SpecFormer masked modelling (AstroCLIP's spectrum pre-training).
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/astroclip.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "../tasks.h"

namespace astrofm::train {
using namespace astrofm::models;
namespace {

// AstroCLIP's masking, scaled to the sequence: `chunks` contiguous chunks,
// one per equal section, covering `fraction` of the tokens.
torch::Tensor mask_tokens(const torch::Tensor& tokens, int64_t chunks, double fraction) {
  auto x = tokens.clone();
  int64_t B = x.size(0), T = x.size(1), section = T / chunks;
  int64_t width = std::max<int64_t>(1, std::min<int64_t>(section - 1, static_cast<int64_t>(fraction * T / chunks)));
  auto loc = torch::randint(0, std::max<int64_t>(1, section - width), {B, chunks}, torch::kLong);
  auto la = loc.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t s = c * section + la[b][c];
      x[b].slice(0, s, s + width).zero_();
    }
  return x;
}

struct SpecMmTask : Task {
  SpecFormer model{nullptr};
  torch::Tensor tokens;
  nlohmann::json cfg;
  SpecMmTask(const nlohmann::json& c, const Table& t) : cfg(c) {
    model = SpecFormer(SpecFormerConfig::from_json(c["model"]));
    tokens = prepare_specformer(t, model->cfg, "training data");
  }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    model->train(training);
    auto target = index(tokens, rows);
    auto input = dev(mask_tokens(target, cfg["mask_chunks"], cfg["mask_fraction"]));
    target = dev(target);
    auto pred = model->reconstruct(input);
    auto locs = (input != target).to(torch::kFloat32);  // masked, non-zero elements (AstroCLIP)
    return torch::mse_loss(pred * locs, target * locs) / locs.mean().clamp_min(1e-8);
  }
  std::vector<torch::Tensor> parameters() override { return model->parameters(); }
  torch::nn::Module& trained() override { return *model; }
  torch::nn::Module& saved() override { return *model; }
  nlohmann::json meta() override {
    return {{"architecture", "specformer"}, {"config", cfg["model"]},
            {"preprocessing", {{"spectrum", {{"kind", "specformer"}}}}},
            {"training", {{"task", "spectrum-mm"}, {"mask_chunks", cfg["mask_chunks"]}, {"mask_fraction", cfg["mask_fraction"]}}}};
  }
};

}  // namespace

void register_spectrum_mm(TaskTable& t) {
  TaskSpec s;
  s.name = "spectrum-mm";
  s.description = "masked modelling of the SpecFormer spectrum encoder";
  s.default_config = [] {
    auto c = common_config();
    SpecFormerConfig m;
    m.embed_dim = 64;
    m.num_layers = 2;
    m.num_heads = 4;
    c["architecture"] = "specformer";
    c["model"] = m.to_json();
    c["mask_chunks"] = 6;
    c["mask_fraction"] = 0.38;  // AstroCLIP: 6 chunks of 50 of 778 tokens
    c["lr"] = 5e-4;
    return c;
  };
  s.columns = [](const TrainOptions&) { return std::vector<std::string>{mmu::kObjectId, mmu::kSpectrumFlux}; };
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions&, const std::string&) -> std::unique_ptr<Task> {
    return std::make_unique<SpecMmTask>(cfg, t);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train
