// "astroclip": image and spectrum towers aligned contrastively (AstroCLIP).
// Embeddings: each tower's output; tokens: each backbone's tokens. Converts
// AstroCLIP's Lightning checkpoints.
#include "astrofm/models/architecture.h"
#include "astrofm/models/astroclip.h"
#include "models/convert_util.h"

namespace astrofm::models {

void register_astroclip(ArchitectureTable& t) {
  Architecture a;
  a.name = "astroclip";
  a.description = "AstroCLIP: image tower (ViT or CNN) + SpecFormer tower, contrastively aligned";
  a.modalities = {"image", "spectrum"};
  a.default_config = [] { return AstroClipConfig{}.to_json(); };
  a.build = [](const nlohmann::json& c) -> Module { return AstroClip(AstroClipConfig::from_json(c)).ptr(); };
  a.preprocessing = [](const nlohmann::json& c) {
    auto cfg = AstroClipConfig::from_json(c);
    auto image = cfg.image_backbone == "cnn" ? stretch_preprocessing(cfg.cnn.img_size, true) : stretch_preprocessing(cfg.image.img_size, false);
    return nlohmann::json{{"image", image}, {"spectrum", {{"kind", "specformer"}}}};
  };
  a.prepare = [](torch::nn::Module& m, ModalityKind modality, const Table& b, const nlohmann::json& pre, const std::string& where) {
    auto& clip = dynamic_cast<AstroClipImpl&>(m);
    if (modality == ModalityKind::Spectrum) return prepare_specformer(b, clip.cfg.spectrum, where);
    return prepare_images(b, pre, clip.image_encoder->img_size(), 3, where);
  };
  a.embed = [](torch::nn::Module& m, ModalityKind modality, const torch::Tensor& x, bool tokens) {
    auto& clip = dynamic_cast<AstroClipImpl&>(m);
    if (modality == ModalityKind::Spectrum)
      return Embedded{clip.spectrum_encoder->forward(x), tokens ? clip.spectrum_encoder->backbone->forward_tokens(x) : torch::Tensor()};
    return Embedded{clip.image_encoder->forward(x), tokens ? clip.image_encoder->backbone_tokens(x) : torch::Tensor()};
  };
  a.convert_kinds = {"astroclip"};
  a.convert = [](const std::string&, StateDict sd, const nlohmann::json& hp, const std::string& where) {
    sd = unchunk_blocks(sd, "image_encoder.backbone.");
    sd.erase("image_encoder.backbone.mask_token");
    AstroClipConfig c;
    c.image = ViTConfig::from_json(vit_config_from(sd, "image_encoder.backbone.", hp, where));
    c.spectrum = SpecFormerConfig::from_json(specformer_config_from(sd, "spectrum_encoder.backbone.", hp, where));
    c.embed_dim = need_tensor(sd, "image_encoder.cross_attention.query", where).size(2);
    c.mlp_hidden = need_tensor(sd, "image_encoder.mlp.encoder.weight", where).size(0);
    c.heads = hp.value("n_head", hp.value("heads", c.heads));
    c.image_residual = hp.value("image_residual", c.image_residual);
    c.spectrum_residual = hp.value("spectrum_residual", c.spectrum_residual);
    return Converted{c.to_json(), sd};
  };
  t.add(std::move(a));
}

}  // namespace astrofm::models
