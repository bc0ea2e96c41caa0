#pragma once
// Vision Transformer in DINOv2's layout (patch_embed.proj, cls_token,
// pos_embed, blocks.N.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1,
// mlp.fc2, ls2.gamma}, norm): pre-LN blocks, exact GELU, optional LayerScale.
// Thread-safety: modules are not thread-safe to train; in eval mode under NoGradGuard forward()
// may run concurrently.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/models/layers.h"

namespace astrofm::models {

struct ViTConfig {
  int64_t img_size = 64, patch_size = 8, in_chans = 3;
  int64_t embed_dim = 128, depth = 4, num_heads = 4;
  double mlp_ratio = 4.0;
  double layerscale_init = 0.0;  // 0: no LayerScale (DINOv2 ViT-L uses 1e-5)
  double norm_eps = 1e-6;        // DINOv2's LayerNorm eps
  nlohmann::json to_json() const;
  static ViTConfig from_json(const nlohmann::json& j);
  int64_t num_patches() const { return (img_size / patch_size) * (img_size / patch_size); }
};

struct ViTBlockImpl : torch::nn::Module {
  ViTBlockImpl(const ViTConfig& c);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  SelfAttention attn{nullptr};
  Mlp mlp{nullptr};
  LayerScale ls1{nullptr}, ls2{nullptr};  // null without LayerScale
};
TORCH_MODULE(ViTBlock);

struct ViTImpl : torch::nn::Module {
  explicit ViTImpl(const ViTConfig& c);
  // Tokens after the final norm: [B, 1 + patches, D] (cls first), with position embeddings.
  torch::Tensor forward_tokens(const torch::Tensor& images);
  // The AstroCLIP image head's path: patch_embed -> blocks -> norm, without the
  // cls token or position embeddings ([B, patches, D]); kept for weight parity.
  torch::Tensor forward_patch_tokens(const torch::Tensor& images);
  // The cls token after the final norm: [B, D].
  torch::Tensor forward(const torch::Tensor& images) { return forward_tokens(images).select(1, 0); }
  ViTConfig cfg;
  torch::nn::Sequential patch_embed{nullptr};  // holds `proj`, as DINOv2's PatchEmbed
  torch::Tensor cls_token, pos_embed;
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(ViT);

}  // namespace astrofm::models
