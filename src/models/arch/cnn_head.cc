// "cnn_head": the supervised-from-scratch baseline (the CNN with a linear
// head). Embeds like "cnn" through its backbone.
#include "astrofm/models/architecture.h"
#include "astrofm/models/cnn.h"

namespace astrofm::models {

void register_cnn_head(ArchitectureTable& t) {
  Architecture a;
  a.name = "cnn_head";
  a.description = "the CNN with a linear head (astrofm train supervised); embedding = the backbone's";
  a.modalities = {"image"};
  a.default_config = [] { return CnnHeadConfig{}.to_json(); };
  a.build = [](const nlohmann::json& c) -> Module { return CnnHead(CnnHeadConfig::from_json(c)).ptr(); };
  a.preprocessing = [](const nlohmann::json& c) {
    return nlohmann::json{{"image", stretch_preprocessing(CnnHeadConfig::from_json(c).backbone.img_size, /*with_cutouts=*/true)}};
  };
  a.prepare = [](torch::nn::Module& m, ModalityKind, const Table& b, const nlohmann::json& pre, const std::string& where) {
    auto& h = dynamic_cast<CnnHeadImpl&>(m);
    return prepare_images(b, pre, h.cfg.backbone.img_size, h.cfg.backbone.in_chans, where);
  };
  a.embed = [](torch::nn::Module& m, ModalityKind, const torch::Tensor& x, bool tokens) {
    auto t = dynamic_cast<CnnHeadImpl&>(m).backbone->forward_tokens(x);
    return Embedded{t.mean(1), tokens ? t : torch::Tensor()};
  };
  t.add(std::move(a));
}

}  // namespace astrofm::models
