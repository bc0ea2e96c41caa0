#pragma once
// Transformer building blocks shared by the image and spectrum encoders.
// Parameter names follow the PyTorch models they mirror, so released
// checkpoints load by name: each module takes the names its original uses
// (DINOv2: attn.qkv / attn.proj / mlp.fc1 / mlp.fc2; SpecFormer:
// attention.attention / attention.projection / mlp.encoder / mlp.decoder).
// Thread-safety: modules are not thread-safe to train; in eval mode under NoGradGuard forward()
// may run concurrently.
#include <string>

#include <torch/torch.h>

namespace astrofm::models {

// Multi-head self-attention over [B, T, C] with a fused q, k, v projection.
struct SelfAttentionImpl : torch::nn::Module {
  SelfAttentionImpl(int64_t dim, int64_t heads, const std::string& qkv_name, const std::string& proj_name);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  int64_t heads;
};
TORCH_MODULE(SelfAttention);

// Linear -> exact GELU -> Linear.
struct MlpImpl : torch::nn::Module {
  MlpImpl(int64_t dim, int64_t hidden, const std::string& fc1_name, const std::string& fc2_name, int64_t out = 0);
  torch::Tensor forward(const torch::Tensor& x) { return fc2(torch::gelu(fc1(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

// DINOv2's LayerScale: x * gamma.
struct LayerScaleImpl : torch::nn::Module {
  LayerScaleImpl(int64_t dim, double init);
  torch::Tensor forward(const torch::Tensor& x) { return x * gamma; }
  torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

}  // namespace astrofm::models
