// "vit": a ViT with DINOv2's parameter names. Embedding: the class token;
// tokens: class + patch tokens. Converts AstroCLIP's AstroDINO checkpoints.
#include "astrofm/models/architecture.h"
#include "astrofm/models/vit.h"
#include "models/convert_util.h"

namespace astrofm::models {

void register_vit(ArchitectureTable& t) {
  Architecture a;
  a.name = "vit";
  a.description = "ViT (DINOv2 names); embedding = the class token; converts AstroDINO";
  a.modalities = {"image"};
  a.default_config = [] { return ViTConfig{}.to_json(); };
  a.build = [](const nlohmann::json& c) -> Module { return ViT(ViTConfig::from_json(c)).ptr(); };
  a.preprocessing = [](const nlohmann::json& c) {
    return nlohmann::json{{"image", stretch_preprocessing(ViTConfig::from_json(c).img_size, /*with_cutouts=*/false)}};
  };
  a.prepare = [](torch::nn::Module& m, ModalityKind, const Table& b, const nlohmann::json& pre, const std::string& where) {
    auto& v = dynamic_cast<ViTImpl&>(m);
    return prepare_images(b, pre, v.cfg.img_size, v.cfg.in_chans, where);
  };
  a.embed = [](torch::nn::Module& m, ModalityKind, const torch::Tensor& x, bool tokens) {
    auto t = dynamic_cast<ViTImpl&>(m).forward_tokens(x);
    return Embedded{t.select(1, 0), tokens ? t : torch::Tensor()};
  };
  a.convert_kinds = {"astrodino"};
  a.convert = [](const std::string&, StateDict sd, const nlohmann::json& hp, const std::string& where) {
    // {"teacher": ...} (AstroCLIP's trainer), DINOv2 {"model": ...} or a bare backbone.
    sd = strip_prefix(sd, {"teacher.backbone.", "student.backbone.", "backbone."});
    sd = unchunk_blocks(sd, "");
    // DINO heads, mask tokens and registers are training-only.
    StateDict keep;
    for (const auto& [k, v] : sd)
      if (k != "mask_token" && k.rfind("dino_head", 0) != 0 && k.rfind("ibot_head", 0) != 0) keep[k] = v;
    return Converted{vit_config_from(keep, "", hp, where), keep};
  };
  t.add(std::move(a));
}

}  // namespace astrofm::models
