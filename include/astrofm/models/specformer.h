#pragma once
// SpecFormer, AstroCLIP's spectrum transformer, with its parameter names
// (data_embed, position_embed, blocks.N.{layernorm1, attention.attention,
// attention.projection, layernorm2, mlp.encoder, mlp.decoder},
// final_layernorm, head) and its preprocessing (see preprocess()).
// Thread-safety: modules are not thread-safe to train; in eval mode under NoGradGuard forward()
// may run concurrently.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/table.h"

#include "astrofm/models/layers.h"

namespace astrofm::models {

struct SpecFormerConfig {
  int64_t input_dim = 22, embed_dim = 768, num_layers = 6, num_heads = 6, max_len = 800;
  int64_t section = 20, overlap = 10;  // window length and overlap, in pixels
  double std_floor = 0.2;              // per-spectrum std is clipped below at this
  nlohmann::json to_json() const;
  static SpecFormerConfig from_json(const nlohmann::json& j);
};

// flux [B, L] -> tokens [B, 1 + windows, input_dim]: per-spectrum
// standardisation (unbiased std clipped at std_floor), windows of `section`
// with stride section - overlap (the last window always dropped, as
// AstroCLIP's code does), two leading zero features, and a prefix token
// holding ((mean - 2) / 2, (std - 2) / 8).
torch::Tensor specformer_preprocess(const torch::Tensor& flux, const SpecFormerConfig& c);
// A batch's spectrum_flux through specformer_preprocess; InputError naming `where`
// for a wrong rank or more tokens than the model's max_len.
torch::Tensor prepare_specformer(const Table& batch, const SpecFormerConfig& c, const std::string& where);

struct SpecBlockImpl : torch::nn::Module {
  SpecBlockImpl(const SpecFormerConfig& c);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::LayerNorm layernorm1{nullptr}, layernorm2{nullptr};
  SelfAttention attention{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(SpecBlock);

struct SpecFormerImpl : torch::nn::Module {
  explicit SpecFormerImpl(const SpecFormerConfig& c);
  // Tokens after final_layernorm: [B, T, C] (the "embedding" output).
  torch::Tensor forward_tokens(const torch::Tensor& tokens);
  // Masked-modelling reconstruction of the input tokens: [B, T, input_dim].
  torch::Tensor reconstruct(const torch::Tensor& tokens) { return head(forward_tokens(tokens)); }
  SpecFormerConfig cfg;
  torch::nn::Linear data_embed{nullptr}, head{nullptr};
  torch::nn::Embedding position_embed{nullptr};
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm final_layernorm{nullptr};
};
TORCH_MODULE(SpecFormer);

}  // namespace astrofm::models
