#include "astrofm/models/astroclip.h"

namespace astrofm::models {

CrossAttentionHeadImpl::CrossAttentionHeadImpl(int64_t embed_dim, int64_t heads, int64_t kv_dim) {
  query = register_parameter("query", torch::randn({1, 1, embed_dim}));
  multihead_attn = register_module(
      "multihead_attn", torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(embed_dim, heads).kdim(kv_dim).vdim(kv_dim)));
  layernorm = register_module("layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({embed_dim}).eps(1e-5)));
}

torch::Tensor CrossAttentionHeadImpl::forward(const torch::Tensor& tokens) {
  // torch::nn::MultiheadAttention is sequence-first: [T, B, E].
  auto kv = tokens.transpose(0, 1);
  auto q = query.expand({1, tokens.size(0), query.size(2)});
  auto out = std::get<0>(multihead_attn->forward(q, kv, kv, torch::Tensor(), /*need_weights=*/false));
  return layernorm(out.squeeze(0));
}

nlohmann::json AstroClipConfig::to_json() const {
  return {{"image_backbone", image_backbone}, {"cnn", cnn.to_json()}, {"image", image.to_json()}, {"spectrum", spectrum.to_json()}, {"embed_dim", embed_dim}, {"heads", heads},
          {"mlp_hidden", mlp_hidden}, {"image_residual", image_residual}, {"spectrum_residual", spectrum_residual},
          {"logit_scale", logit_scale}};
}

AstroClipConfig AstroClipConfig::from_json(const nlohmann::json& j) {
  AstroClipConfig c;
  c.image_backbone = j.value("image_backbone", c.image_backbone);
  if (j.contains("image")) c.image = ViTConfig::from_json(j["image"]);
  if (j.contains("cnn")) c.cnn = CnnConfig::from_json(j["cnn"]);
  if (j.contains("spectrum")) c.spectrum = SpecFormerConfig::from_json(j["spectrum"]);
  c.embed_dim = j.value("embed_dim", c.embed_dim);
  c.heads = j.value("heads", c.heads);
  c.mlp_hidden = j.value("mlp_hidden", c.mlp_hidden);
  c.image_residual = j.value("image_residual", c.image_residual);
  c.spectrum_residual = j.value("spectrum_residual", c.spectrum_residual);
  c.logit_scale = j.value("logit_scale", c.logit_scale);
  return c;
}

ImageTowerImpl::ImageTowerImpl(const AstroClipConfig& c) : residual(c.image_residual) {
  int64_t width;
  if (c.image_backbone == "cnn") {
    cnn_backbone = register_module("backbone", Cnn(c.cnn));
    width = c.cnn.embed_dim();
  } else {
    TORCH_CHECK(c.image_backbone == "vit", "image_backbone must be vit or cnn, got ", c.image_backbone);
    backbone = register_module("backbone", ViT(c.image));
    width = c.image.embed_dim;
  }
  cross_attention = register_module("cross_attention", CrossAttentionHead(c.embed_dim, c.heads, width));
  mlp = register_module("mlp", Mlp(c.embed_dim, c.mlp_hidden, "encoder", "decoder"));
}

int64_t ImageTowerImpl::img_size() const { return cnn_backbone ? cnn_backbone->cfg.img_size : backbone->cfg.img_size; }

torch::Tensor ImageTowerImpl::backbone_tokens(const torch::Tensor& images) {
  return cnn_backbone ? cnn_backbone->forward_tokens(images) : backbone->forward_patch_tokens(images);
}

torch::Tensor ImageTowerImpl::forward(const torch::Tensor& images) {
  auto x = cross_attention(backbone_tokens(images));
  return residual ? x + mlp(x) : mlp(x);
}

SpectrumTowerImpl::SpectrumTowerImpl(const AstroClipConfig& c) : residual(c.spectrum_residual) {
  backbone = register_module("backbone", SpecFormer(c.spectrum));
  cross_attention = register_module("cross_attention", CrossAttentionHead(c.embed_dim, c.heads, c.spectrum.embed_dim));
  mlp = register_module("mlp", Mlp(c.embed_dim, c.mlp_hidden, "encoder", "decoder"));
}

torch::Tensor SpectrumTowerImpl::forward(const torch::Tensor& tokens) {
  auto x = cross_attention(backbone->forward_tokens(tokens));
  return residual ? x + mlp(x) : mlp(x);
}

AstroClipImpl::AstroClipImpl(const AstroClipConfig& c) : cfg(c) {
  image_encoder = register_module("image_encoder", ImageTower(c));
  spectrum_encoder = register_module("spectrum_encoder", SpectrumTower(c));
}

torch::Tensor clip_loss(const torch::Tensor& image_emb, const torch::Tensor& spectrum_emb, double logit_scale) {
  auto fi = torch::nn::functional::normalize(image_emb, torch::nn::functional::NormalizeFuncOptions().dim(-1).eps(1e-3));
  auto fs = torch::nn::functional::normalize(spectrum_emb, torch::nn::functional::NormalizeFuncOptions().dim(-1).eps(1e-3));
  auto logits = logit_scale * torch::matmul(fi, fs.t());
  auto labels = torch::arange(logits.size(0), torch::TensorOptions().dtype(torch::kLong).device(logits.device()));
  return 0.5 * (torch::nn::functional::cross_entropy(logits, labels) + torch::nn::functional::cross_entropy(logits.t(), labels));
}

}  // namespace astrofm::models
