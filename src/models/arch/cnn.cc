// "cnn": the ResNet-style image encoder (the CPU default). Embedding: the
// mean of its final feature map; tokens: the feature map's positions.
#include "astrofm/models/architecture.h"
#include "astrofm/models/cnn.h"

namespace astrofm::models {

void register_cnn(ArchitectureTable& t) {
  Architecture a;
  a.name = "cnn";
  a.description = "ResNet-style CNN image encoder; embedding = mean of the final feature map";
  a.modalities = {"image"};
  a.default_config = [] { return CnnConfig{}.to_json(); };
  a.build = [](const nlohmann::json& c) -> Module { return Cnn(CnnConfig::from_json(c)).ptr(); };
  a.preprocessing = [](const nlohmann::json& c) {
    return nlohmann::json{{"image", stretch_preprocessing(CnnConfig::from_json(c).img_size, /*with_cutouts=*/true)}};
  };
  a.prepare = [](torch::nn::Module& m, ModalityKind, const Table& b, const nlohmann::json& pre, const std::string& where) {
    auto& cnn = dynamic_cast<CnnImpl&>(m);
    return prepare_images(b, pre, cnn.cfg.img_size, cnn.cfg.in_chans, where);
  };
  a.embed = [](torch::nn::Module& m, ModalityKind, const torch::Tensor& x, bool tokens) {
    auto t = dynamic_cast<CnnImpl&>(m).forward_tokens(x);
    return Embedded{t.mean(1), tokens ? t : torch::Tensor()};
  };
  t.add(std::move(a));
}

}  // namespace astrofm::models
