// AstroCLIP alignment: image and spectrum towers, symmetric InfoNCE.
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/astroclip.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "../tasks.h"

namespace astrofm::train {
using namespace astrofm::models;
namespace {

struct ClipTask : Task {
  AstroClip model{nullptr};
  ImageData images;
  torch::Tensor tokens;
  nlohmann::json cfg;
  double logit_scale;
  AugmentOptions aug;
  ClipTask(const nlohmann::json& c, Table& t, const TrainOptions& opt, const std::string& where) : cfg(c) {
    auto mc = AstroClipConfig::from_json(c["model"]);
    if (!opt.option("init-image").empty()) {
      auto meta = ModelFile::read_meta(opt.option("init-image"));
      mc.image_backbone = meta.at("architecture").get<std::string>();
      if (mc.image_backbone == "cnn") mc.cnn = CnnConfig::from_json(meta["config"]);
      else mc.image = ViTConfig::from_json(meta["config"]);
    }
    if (!opt.option("init-spectrum").empty()) mc.spectrum = SpecFormerConfig::from_json(ModelFile::read_meta(opt.option("init-spectrum"))["config"]);
    cfg["model"] = mc.to_json();
    model = AstroClip(mc);
    if (!opt.option("init-image").empty()) {
      auto lm = load_model(opt.option("init-image"));
      load_state(*model->image_encoder->named_children()[0].value(), state_of(*lm.module), opt.option("init-image"));
    }
    if (!opt.option("init-spectrum").empty()) {
      auto lm = load_model(opt.option("init-spectrum"));
      load_state(*model->spectrum_encoder->backbone, state_of(*lm.module), opt.option("init-spectrum"));
    }
    images = load_images(t, where);
    tokens = prepare_specformer(t, mc.spectrum, where);
    logit_scale = mc.logit_scale;
    aug = augment_options(cfg["augment"], model->image_encoder->img_size());
  }
  bool frozen() const { return cfg.value("freeze_backbones", false); }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    model->train(training);
    if (frozen()) {
      model->image_encoder->named_children()[0].value()->eval();
      model->spectrum_encoder->backbone->eval();
    }
    // Training views are augmented (by default only the sky's symmetries:
    // 90-degree rotations and flips; sizes and colours carry the redshift).
    auto img = training ? images.prepare(augment(images.pixels(rows), aug), rows) : images.prepare(images.pixels(rows, aug.crop), rows);
    auto ie = model->image_encoder->forward(dev(img));
    auto se = model->spectrum_encoder->forward(dev(index(tokens, rows)));
    return clip_loss(ie, se, logit_scale);
  }
  std::vector<torch::Tensor> parameters() override {
    if (!frozen()) return model->parameters();
    std::vector<torch::Tensor> p;
    for (auto& kv : model->named_parameters())
      if (kv.key().find(".backbone.") == std::string::npos) p.push_back(kv.value());
    return p;
  }
  torch::nn::Module& trained() override { return *model; }
  torch::nn::Module& saved() override { return *model; }
  nlohmann::json meta() override {
    return {{"architecture", "astroclip"}, {"config", cfg["model"]},
            {"preprocessing", {{"image", {{"kinds", images.kinds}}}, {"spectrum", {{"kind", "specformer"}}}}},
            {"training", {{"task", "clip"}, {"loss", "symmetric InfoNCE"}, {"logit_scale", logit_scale}, {"freeze_backbones", frozen()}, {"augment", cfg["augment"]}}}};
  }
};

}  // namespace

void register_clip(TaskTable& t) {
  TaskSpec s;
  s.name = "clip";
  s.description = "AstroCLIP contrastive alignment of an image and a spectrum tower";
  s.options = {{.name = "init-image", .help = "start the image backbone from an image-ssl model file"},
               {.name = "init-spectrum", .help = "start the spectrum backbone from a spectrum-mm model file"}};
  s.default_config = [] {
    auto c = common_config();
    AstroClipConfig m;
    m.image_backbone = "cnn";
    m.spectrum.embed_dim = 64;
    m.spectrum.num_layers = 2;
    m.spectrum.num_heads = 4;
    m.embed_dim = 128;
    m.heads = 4;
    m.mlp_hidden = 512;
    c["architecture"] = "astroclip";
    c["model"] = m.to_json();
    c["freeze_backbones"] = false;
    c["lr"] = 3e-4;
    auto a = augment_config();
    a["scale_min"] = 1.0;  // a random position of the encoder's crop, no zoom
    a["gain_jitter"] = 0.0;
    a["noise_max"] = 0.0;
    a["blur_prob"] = 0.0;
    c["augment"] = a;
    return c;
  };
  s.columns = [](const TrainOptions&) {
    return std::vector<std::string>{mmu::kObjectId, mmu::kImageArray, mmu::kImageBand, mmu::kSpectrumFlux};
  };
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions& opt, const std::string& where) -> std::unique_ptr<Task> {
    return std::make_unique<ClipTask>(cfg, t, opt, where);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train
