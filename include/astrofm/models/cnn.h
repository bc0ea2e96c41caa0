#pragma once
// A small ResNet-style convolutional backbone: the CPU default for images
// (measured better than a tiny ViT at this data and compute scale).
// stem conv3x3 -> stages of BasicBlocks (stride 2) -> global average pool.
// Thread-safety: modules are not thread-safe to train; in eval mode under NoGradGuard forward()
// may run concurrently.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace astrofm::models {

struct CnnConfig {
  int64_t img_size = 64, in_chans = 3;
  std::vector<int64_t> widths = {32, 64, 128, 256};
  nlohmann::json to_json() const;
  static CnnConfig from_json(const nlohmann::json& j);
  int64_t embed_dim() const { return widths.back(); }
};

// A convolution and the batch norm after it; in inference (eval mode, no
// gradients) one folded, channels-last convolution (cnn.cc).
struct ConvBn {
  torch::Tensor operator()(const torch::Tensor& x, torch::nn::Conv2d& c, torch::nn::BatchNorm2d& bn);
  torch::Tensor weight, bias;
  int64_t seen = -1;
};

struct BasicBlockImpl : torch::nn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, down{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, down_bn{nullptr};
  ConvBn fold1, fold2, fold_down;
};
TORCH_MODULE(BasicBlock);

struct CnnImpl : torch::nn::Module {
  explicit CnnImpl(const CnnConfig& c);
  // Feature map as tokens [B, H'W', C] (for cross-attention heads).
  torch::Tensor forward_tokens(const torch::Tensor& images);
  // Pooled embedding [B, C].
  torch::Tensor forward(const torch::Tensor& images) { return forward_tokens(images).mean(1); }
  CnnConfig cfg;
  torch::nn::Conv2d stem{nullptr};
  torch::nn::BatchNorm2d stem_bn{nullptr};
  torch::nn::ModuleList stages;
  ConvBn fold_stem;
};
TORCH_MODULE(Cnn);

// The supervised-from-scratch baseline: the same backbone and a linear head
// (outputs: 1 for regression, the number of classes for classification).
struct CnnHeadConfig {
  CnnConfig backbone;
  int64_t outputs = 1;
  nlohmann::json to_json() const;
  static CnnHeadConfig from_json(const nlohmann::json& j);
};

struct CnnHeadImpl : torch::nn::Module {
  explicit CnnHeadImpl(const CnnHeadConfig& c);
  torch::Tensor forward(const torch::Tensor& images) { return head(backbone->forward(images)); }
  CnnHeadConfig cfg;
  Cnn backbone{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(CnnHead);

}  // namespace astrofm::models
