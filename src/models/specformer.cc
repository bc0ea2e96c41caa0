#include "astrofm/models/specformer.h"

namespace astrofm::models {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SpecFormerConfig, input_dim, embed_dim, num_layers, num_heads, max_len, section, overlap, std_floor)

nlohmann::json SpecFormerConfig::to_json() const { return *this; }

SpecFormerConfig SpecFormerConfig::from_json(const nlohmann::json& j) { return j.get<SpecFormerConfig>(); }

torch::Tensor specformer_preprocess(const torch::Tensor& flux_in, const SpecFormerConfig& c) {
  TORCH_CHECK(flux_in.dim() == 2, "spectra must be [batch, pixels], got ", flux_in.sizes());
  auto flux = flux_in.to(torch::kFloat32);
  auto stdv = flux.std(1, /*unbiased=*/true, /*keepdim=*/true).clamp_min(c.std_floor);
  auto mean = flux.mean(1, true);
  auto x = (flux - mean) / stdv;
  int64_t L = x.size(1), stride = c.section - c.overlap;
  std::vector<torch::Tensor> windows;
  for (int64_t s = 0; s < L - c.overlap; s += stride) windows.push_back(x.slice(1, s, std::min(s + c.section, L)));
  // AstroCLIP always drops the last window (at L = 7781 it is the short one).
  if (!windows.empty()) windows.pop_back();
  for (const auto& w : windows)
    TORCH_CHECK(w.size(1) == c.section, "spectrum of ", L, " pixels leaves a short window; use a length with (L - overlap) % stride == 1");
  auto tokens = torch::stack(windows, 1);                                       // B, W, section
  tokens = torch::constant_pad_nd(tokens, {c.input_dim - c.section, 0, 1, 0});  // B, 1 + W, input_dim
  tokens.select(2, 0).select(1, 0).copy_(((mean - 2) / 2).squeeze(1));
  tokens.select(2, 1).select(1, 0).copy_(((stdv - 2) / 8).squeeze(1));
  return tokens;
}

SpecBlockImpl::SpecBlockImpl(const SpecFormerConfig& c) {
  auto ln = torch::nn::LayerNormOptions({c.embed_dim}).eps(1e-5);
  layernorm1 = register_module("layernorm1", torch::nn::LayerNorm(ln));
  attention = register_module("attention", SelfAttention(c.embed_dim, c.num_heads, "attention", "projection"));
  layernorm2 = register_module("layernorm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", Mlp(c.embed_dim, 4 * c.embed_dim, "encoder", "decoder"));
}

torch::Tensor SpecBlockImpl::forward(torch::Tensor x) {
  x = x + attention(layernorm1(x));
  return x + mlp(layernorm2(x));
}

SpecFormerImpl::SpecFormerImpl(const SpecFormerConfig& c) : cfg(c) {
  data_embed = register_module("data_embed", torch::nn::Linear(c.input_dim, c.embed_dim));
  position_embed = register_module("position_embed", torch::nn::Embedding(c.max_len, c.embed_dim));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) blocks->push_back(SpecBlock(c));
  final_layernorm = register_module("final_layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embed_dim}).eps(1e-5)));
  head = register_module("head", torch::nn::Linear(c.embed_dim, c.input_dim));
}

torch::Tensor SpecFormerImpl::forward_tokens(const torch::Tensor& tokens) {
  int64_t T = tokens.size(1);
  TORCH_CHECK(T <= cfg.max_len, "sequence of ", T, " tokens exceeds max_len ", cfg.max_len);
  auto pos = torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(tokens.device()));
  auto x = data_embed(tokens) + position_embed(pos);
  for (auto& b : *blocks) x = b->as<SpecBlock>()->forward(x);
  return final_layernorm(x);
}

}  // namespace astrofm::models
