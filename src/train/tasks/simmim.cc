// Masked image modelling for the CNN encoder (SimMIM, Xie et al. 2022):
// square patches of each augmented cutout are blanked, and a linear head on
// the encoder's last feature map predicts the pixels under them (L1 on the
// blanked pixels only). Unlike SimCLR, nothing in the objective rewards
// ignoring a detail: a second nucleus or a tidal tail under a mask has to be
// inferred from what is around it. The head is dropped after training.
#include "astrofm/error.h"
#include "astrofm/models/cnn.h"
#include "../tasks.h"

namespace astrofm::train {
using namespace astrofm::models;
namespace {

struct SimMimTask : Task {
  Cnn backbone{nullptr};
  torch::nn::Linear head{nullptr};
  std::shared_ptr<torch::nn::Module> both = std::make_shared<torch::nn::Module>("SimMIM");
  ImageData data;
  AugmentOptions aug;
  int64_t mask_patch, stride, channels;
  double mask_ratio;
  nlohmann::json cfg;

  SimMimTask(const nlohmann::json& c, Table& t, const std::string& where) : cfg(c) {
    data = load_images(t, where);
    auto mc = CnnConfig::from_json(c["model"]);
    // Each stage halves the map: a token of the last one covers stride x stride pixels.
    stride = int64_t{1} << mc.widths.size();
    channels = mc.in_chans;
    mask_patch = c["mask_patch"];
    mask_ratio = c["mask_ratio"];
    if (mc.img_size % stride != 0)
      fail_input("simmim: img_size {} is not a multiple of the encoder's total stride {}", mc.img_size, stride);
    if (mask_patch < 1 || mc.img_size % mask_patch != 0)
      fail_input("simmim: mask_patch {} must divide img_size {}", mask_patch, mc.img_size);
    if (!(mask_ratio > 0 && mask_ratio < 1)) fail_input("simmim: mask_ratio {} must lie in (0, 1)", mask_ratio);
    backbone = Cnn(mc);
    head = torch::nn::Linear(mc.embed_dim(), channels * stride * stride);
    both->register_module("backbone", backbone);
    both->register_module("head", head);
    aug = augment_options(c["augment"], mc.img_size);
  }

  // 1 where a pixel is blanked: each mask_patch square independently, as many as the ratio asks.
  torch::Tensor draw_mask(int64_t n, int64_t size) const {
    const int64_t g = size / mask_patch, k = std::max<int64_t>(1, std::llround(mask_ratio * g * g));
    auto order = torch::rand({n, g * g}).argsort(int64_t{1});
    auto m = torch::zeros({n, g * g});
    m.scatter_(1, order.slice(1, 0, k), 1.0);
    m = m.view({n, 1, g, g});
    return m.repeat_interleave(mask_patch, 2).repeat_interleave(mask_patch, 3);
  }

  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    both->train(training);
    auto x = dev(data.prepare(augment(data.pixels(rows), aug), rows));
    const int64_t n = x.size(0), size = x.size(-1), g = size / stride;
    auto m = dev(draw_mask(n, size));
    auto tokens = backbone->forward_tokens(x * (1 - m));  // [n, g*g, C]
    // Each token's prediction is its stride x stride block of pixels.
    auto pred = head->forward(tokens).view({n, g, g, channels, stride, stride}).permute({0, 3, 1, 4, 2, 5}).reshape({n, channels, size, size});
    auto mm = m.expand_as(pred);
    return ((pred - x).abs() * mm).sum() / (mm.sum() + 1e-8);
  }
  std::vector<torch::Tensor> parameters() override { return both->parameters(); }
  torch::nn::Module& trained() override { return *both; }
  torch::nn::Module& saved() override { return *backbone; }
  nlohmann::json meta() override {
    return cnn_encoder_meta(cfg, data, {{"task", "simmim"}, {"method", "SimMIM"}, {"mask_patch", mask_patch}, {"mask_ratio", mask_ratio}});
  }
};

}  // namespace

void register_simmim(TaskTable& t) {
  TaskSpec s;
  s.name = "simmim";
  s.description = "masked image modelling of the CNN encoder (SimMIM: blanked patches reconstructed)";
  s.default_config = [] {
    auto c = cnn_pretraining_config();
    c["mask_patch"] = 8;
    c["mask_ratio"] = 0.5;
    // Keep what the reconstruction must learn: near-whole crops, little blur or noise.
    c["augment"]["scale_min"] = 0.8, c["augment"]["noise_max"] = 0.1, c["augment"]["blur_prob"] = 0.0;
    return c;
  };
  s.columns = image_columns;
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions&, const std::string& where) -> std::unique_ptr<Task> {
    return std::make_unique<SimMimTask>(cfg, t, where);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train
