#pragma once
// AstroCLIP's alignment model with its parameter names:
//   image_encoder.{backbone.*, cross_attention.{query, multihead_attn.*, layernorm.*}, mlp.{encoder, decoder}}
//   spectrum_encoder.{...same...}
// A learned query attends over the backbone's tokens (torch MultiheadAttention,
// separate q/k/v projections when the backbone width differs), LayerNorm, then
// an MLP: without residual for images, with residual for spectra, as AstroCLIP.
// Thread-safety: modules are not thread-safe to train; in eval mode under NoGradGuard forward()
// may run concurrently.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/models/cnn.h"
#include "astrofm/models/specformer.h"
#include "astrofm/models/vit.h"

namespace astrofm::models {

struct CrossAttentionHeadImpl : torch::nn::Module {
  CrossAttentionHeadImpl(int64_t embed_dim, int64_t heads, int64_t kv_dim);
  // tokens [B, T, kv_dim] -> [B, embed_dim]
  torch::Tensor forward(const torch::Tensor& tokens);
  torch::Tensor query;
  torch::nn::MultiheadAttention multihead_attn{nullptr};
  torch::nn::LayerNorm layernorm{nullptr};
};
TORCH_MODULE(CrossAttentionHead);

struct AstroClipConfig {
  std::string image_backbone = "vit";  // vit (AstroCLIP's) | cnn (the CPU default)
  ViTConfig image;
  CnnConfig cnn;
  SpecFormerConfig spectrum;
  int64_t embed_dim = 1024, heads = 4, mlp_hidden = 4096;
  bool image_residual = false, spectrum_residual = true;
  double logit_scale = 15.5;  // fixed multiplier of the cosine similarities in InfoNCE
  nlohmann::json to_json() const;
  static AstroClipConfig from_json(const nlohmann::json& j);
};

// One tower: backbone tokens -> cross-attention -> MLP (with or without residual).
struct ImageTowerImpl : torch::nn::Module {
  ImageTowerImpl(const AstroClipConfig& c);
  torch::Tensor forward(const torch::Tensor& images);  // preprocessed [B, 3, H, W]
  torch::Tensor backbone_tokens(const torch::Tensor& images);
  int64_t img_size() const;
  ViT backbone{nullptr};
  Cnn cnn_backbone{nullptr};  // registered as `backbone` when the backbone is a CNN
  CrossAttentionHead cross_attention{nullptr};
  Mlp mlp{nullptr};
  bool residual;
};
TORCH_MODULE(ImageTower);

struct SpectrumTowerImpl : torch::nn::Module {
  SpectrumTowerImpl(const AstroClipConfig& c);
  torch::Tensor forward(const torch::Tensor& tokens);  // from specformer_preprocess
  SpecFormer backbone{nullptr};
  CrossAttentionHead cross_attention{nullptr};
  Mlp mlp{nullptr};
  bool residual;
};
TORCH_MODULE(SpectrumTower);

struct AstroClipImpl : torch::nn::Module {
  explicit AstroClipImpl(const AstroClipConfig& c);
  AstroClipConfig cfg;
  ImageTower image_encoder{nullptr};
  SpectrumTower spectrum_encoder{nullptr};
};
TORCH_MODULE(AstroClip);

// Symmetric InfoNCE with a fixed logit scale (AstroCLIP's CLIPLoss).
torch::Tensor clip_loss(const torch::Tensor& image_emb, const torch::Tensor& spectrum_emb, double logit_scale);

}  // namespace astrofm::models
