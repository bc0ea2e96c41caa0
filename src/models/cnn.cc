#include "astrofm/models/cnn.h"

namespace astrofm::models {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CnnConfig, img_size, in_chans, widths)

nlohmann::json CnnConfig::to_json() const { return *this; }

CnnConfig CnnConfig::from_json(const nlohmann::json& j) { return j.get<CnnConfig>(); }

nlohmann::json CnnHeadConfig::to_json() const { return {{"backbone", backbone.to_json()}, {"outputs", outputs}}; }

CnnHeadConfig CnnHeadConfig::from_json(const nlohmann::json& j) {
  CnnHeadConfig c;
  c.backbone = CnnConfig::from_json(j.at("backbone"));
  c.outputs = j.at("outputs");
  return c;
}

CnnHeadImpl::CnnHeadImpl(const CnnHeadConfig& c) : cfg(c) {
  backbone = register_module("backbone", Cnn(c.backbone));
  head = register_module("head", torch::nn::Linear(c.backbone.embed_dim(), c.outputs));
}

namespace {
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}
}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
  conv1 = register_module("conv1", conv(in, out, 3, stride));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(out));
  conv2 = register_module("conv2", conv(out, out, 3, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
  if (stride != 1 || in != out) {
    down = register_module("down", conv(in, out, 1, stride));
    down_bn = register_module("down_bn", torch::nn::BatchNorm2d(out));
  }
}

// Inference folds each batch norm into the convolution before it (one pass
// over the activations instead of two) and runs oneDNN's convolutions in
// channels-last layout: 1.7x the forward rate of the plain modules at batch
// 256 (bench/README.md). The folded weights are cached until a weight or a
// running statistic changes (tensor versions). Training uses the modules.
torch::Tensor ConvBn::operator()(const torch::Tensor& x, torch::nn::Conv2d& c, torch::nn::BatchNorm2d& bn) {
  if (bn->is_training() || torch::GradMode::is_enabled()) return bn(c(x));
  int64_t version = c->weight._version() + bn->weight._version() + bn->bias._version() + bn->running_mean._version() +
                    bn->running_var._version();
  if (!weight.defined() || version != seen || weight.device() != c->weight.device()) {
    auto scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
    weight = (c->weight * scale.view({-1, 1, 1, 1})).contiguous(torch::MemoryFormat::ChannelsLast);
    bias = bn->bias - bn->running_mean * scale;
    seen = version;
  }
  // conv() pads k / 2 ("same" for odd kernels).
  int64_t pad = c->weight.size(2) / 2;
  return torch::conv2d(x, weight, bias, c->options.stride(), {pad, pad}, c->options.dilation(), c->options.groups());
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  if (!is_training() && !torch::GradMode::is_enabled()) {  // in place: fewer passes over memory
    auto y = fold2(fold1(x, conv1, bn1).relu_(), conv2, bn2);
    return y.add_(down ? fold_down(x, down, down_bn) : x).relu_();
  }
  auto y = torch::relu(bn1(conv1(x)));
  y = bn2(conv2(y));
  return torch::relu(y + (down ? down_bn(down(x)) : x));
}

CnnImpl::CnnImpl(const CnnConfig& c) : cfg(c) {
  TORCH_CHECK(!c.widths.empty(), "cnn needs at least one stage width");
  stem = register_module("stem", conv(c.in_chans, c.widths[0], 3, 1));
  stem_bn = register_module("stem_bn", torch::nn::BatchNorm2d(c.widths[0]));
  stages = register_module("stages", torch::nn::ModuleList());
  int64_t in = c.widths[0];
  for (int64_t w : c.widths) {
    stages->push_back(BasicBlock(in, w, 2));
    in = w;
  }
}

torch::Tensor CnnImpl::forward_tokens(const torch::Tensor& images) {
  const bool inference = !is_training() && !torch::GradMode::is_enabled();
  auto x = inference ? fold_stem(images.contiguous(torch::MemoryFormat::ChannelsLast), stem, stem_bn).relu_()
                     : torch::relu(stem_bn(stem(images)));
  for (auto& s : *stages) x = s->as<BasicBlock>()->forward(x);
  return x.flatten(2).transpose(1, 2);
}

}  // namespace astrofm::models
