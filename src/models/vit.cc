#include "astrofm/models/vit.h"

namespace astrofm::models {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ViTConfig, img_size, patch_size, in_chans, embed_dim, depth, num_heads, mlp_ratio, layerscale_init, norm_eps)

nlohmann::json ViTConfig::to_json() const { return *this; }

ViTConfig ViTConfig::from_json(const nlohmann::json& j) { return j.get<ViTConfig>(); }

ViTBlockImpl::ViTBlockImpl(const ViTConfig& c) {
  auto ln = torch::nn::LayerNormOptions({c.embed_dim}).eps(c.norm_eps);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  attn = register_module("attn", SelfAttention(c.embed_dim, c.num_heads, "qkv", "proj"));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", Mlp(c.embed_dim, static_cast<int64_t>(c.embed_dim * c.mlp_ratio), "fc1", "fc2"));
  if (c.layerscale_init > 0) {
    ls1 = register_module("ls1", LayerScale(c.embed_dim, c.layerscale_init));
    ls2 = register_module("ls2", LayerScale(c.embed_dim, c.layerscale_init));
  }
}

torch::Tensor ViTBlockImpl::forward(torch::Tensor x) {
  auto a = attn(norm1(x));
  x = x + (ls1 ? ls1(a) : a);
  auto m = mlp(norm2(x));
  return x + (ls2 ? ls2(m) : m);
}

ViTImpl::ViTImpl(const ViTConfig& c) : cfg(c) {
  TORCH_CHECK(c.img_size % c.patch_size == 0, "image size ", c.img_size, " is not a multiple of the patch size ", c.patch_size);
  patch_embed = register_module(
      "patch_embed", torch::nn::Sequential());
  patch_embed->push_back("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.in_chans, c.embed_dim, c.patch_size).stride(c.patch_size)));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, c.embed_dim}));
  pos_embed = register_parameter("pos_embed", torch::randn({1, 1 + c.num_patches(), c.embed_dim}) * 0.02);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.depth; ++i) blocks->push_back(ViTBlock(c));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embed_dim}).eps(c.norm_eps)));
  torch::nn::init::normal_(cls_token, 0.0, 1e-6);
}

torch::Tensor ViTImpl::forward_patch_tokens(const torch::Tensor& images) {
  auto x = patch_embed->forward(images).flatten(2).transpose(1, 2);  // B, N, D
  for (auto& b : *blocks) x = b->as<ViTBlock>()->forward(x);
  return norm(x);
}

torch::Tensor ViTImpl::forward_tokens(const torch::Tensor& images) {
  TORCH_CHECK(images.size(-1) == cfg.img_size && images.size(-2) == cfg.img_size, "expected ", cfg.img_size, "x",
              cfg.img_size, " images, got ", images.sizes());
  auto x = patch_embed->forward(images).flatten(2).transpose(1, 2);
  x = torch::cat({cls_token.expand({x.size(0), 1, cfg.embed_dim}), x}, 1) + pos_embed;
  for (auto& b : *blocks) x = b->as<ViTBlock>()->forward(x);
  return norm(x);
}

}  // namespace astrofm::models
