// The codecs' networks and quantisers. The arithmetic follows AION's code op
// for op (including its straight-through rounding) so that tokens match its
// package exactly on the same weights.
#include "codecs/nets.h"

#include <cmath>
#include <functional>

namespace astrofm::codecs {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

// ---------------------------------------------------------------- quantisers

FSQImpl::FSQImpl(std::vector<int64_t> lv, double e) : levels_v(lv), eps(e) {
  levels = register_buffer("levels", torch::tensor(lv, torch::kInt32));
  std::vector<int64_t> b = {1};
  for (size_t i = 0; i + 1 < lv.size(); ++i) b.push_back(b.back() * lv[i]);
  basis = torch::tensor(b, torch::kInt32);  // not a buffer: AION recomputes it too
}

int64_t FSQImpl::codebook_size() const {
  int64_t k = 1;
  for (auto l : levels_v) k *= l;
  return k;
}

torch::Tensor FSQImpl::quantize_last(const torch::Tensor& z) {
  auto half_l = (levels - 1) * (1 + eps) / 2;
  auto offset = torch::where(levels.remainder(2) == 1, torch::zeros({}, z.options()), torch::full({}, 0.5, z.options()));
  auto shift = torch::atanh(offset / half_l);
  auto bounded = torch::tanh(z + shift) * half_l - offset;
  auto q = bounded + (bounded.round() - bounded).detach();  // AION's round_ste, op for op
  auto half_width = levels.div(2, "floor");
  return q / half_width;
}

torch::Tensor FSQImpl::quantize(const torch::Tensor& z) { return quantize_last(z.movedim(1, -1)).movedim(-1, 1); }

torch::Tensor FSQImpl::encode(const torch::Tensor& z) {
  auto zhat = quantize_last(z.movedim(1, -1));
  auto half_width = levels.div(2, "floor");
  zhat = zhat * half_width + half_width;
  return (zhat * basis.to(zhat.device()).to(zhat.scalar_type())).sum(-1).to(torch::kInt32);
}

torch::Tensor FSQImpl::decode(const torch::Tensor& codes) {
  auto idx = codes.unsqueeze(-1).to(torch::kInt32);
  auto digits = idx.div(basis.to(idx.device()), "floor").remainder(levels);
  auto half_width = levels.div(2, "floor");
  return ((digits - half_width) / half_width).movedim(-1, 1);
}

LFQInnerImpl::LFQInnerImpl(int64_t d, int64_t k) : dim(d) {
  codebook_dim = static_cast<int64_t>(std::llround(std::log2(static_cast<double>(k))));
  mask = register_buffer("mask", torch::pow(2, torch::arange(codebook_dim - 1, -1, -1, torch::kLong)));
  auto bits = (torch::arange(k, torch::kLong).unsqueeze(-1).to(torch::kInt32).bitwise_and(mask) != 0).to(torch::kFloat32);
  codebook = bits * 2 - 1;  // not persistent in AION either
  if (dim != codebook_dim) {
    project_in = register_module("project_in", nn::Linear(dim, codebook_dim));
    project_out = register_module("project_out", nn::Linear(codebook_dim, dim));
  }
}

LFQImpl::LFQImpl(int64_t dim, int64_t k) { _quantizer = register_module("_quantizer", LFQInner(dim, k)); }

LFQImpl::Out LFQImpl::forward(const torch::Tensor& z) {
  auto& q = *_quantizer;
  auto x = z.to(torch::kFloat32).movedim(1, -1);  // [B, T, C]
  if (q.project_in) x = q.project_in(x);
  auto original = x;
  auto ones = torch::ones_like(x);
  auto quantized = torch::where(x > 0, ones, -ones);
  x = is_training() ? x + (quantized - x).detach() : quantized;
  auto indices = ((x > 0).to(torch::kInt32) * q.mask.to(torch::kInt32)).sum(-1);
  torch::Tensor aux = torch::zeros({}, z.options());
  if (is_training()) {
    auto cb = q.codebook.to(x.device());
    auto distance = -2 * torch::einsum("bid,jd->bij", {original, cb});
    auto prob = (-distance * inv_temperature).softmax(-1).reshape({-1, cb.size(0)});
    auto ent = [](const torch::Tensor& p) { return (-p * p.clamp_min(1e-5).log()).sum(-1); };
    auto per_sample = ent(prob).mean();
    auto codebook_entropy = ent(prob.mean(0));
    auto commit = F::mse_loss(original, quantized.detach());
    aux = (per_sample - diversity_gamma * codebook_entropy) * entropy_weight + commit * commitment_weight;
  }
  if (q.project_out) x = q.project_out(x);
  return {x.movedim(-1, 1), indices, aux};
}

torch::Tensor LFQImpl::decode(const torch::Tensor& codes) {
  auto& q = *_quantizer;
  auto bits = (codes.unsqueeze(-1).to(torch::kInt32).bitwise_and(q.mask.to(torch::kInt32)) != 0).to(torch::kFloat32);
  auto c = bits * 1.0 * 2 - 1.0;
  if (q.project_out) c = q.project_out(c);
  return c.movedim(-1, 1);
}

torch::Tensor linear_bucketize(const torch::Tensor& z, const torch::Tensor& buckets) {
  return torch::clamp(torch::bucketize(z, buckets, /*out_int32=*/true), 0, buckets.size(0) - 1);
}

// ---------------------------------------------------------------- MagViT

namespace {

struct SameConv2dImpl : nn::Module {
  SameConv2dImpl(int64_t in, int64_t out, int64_t k) {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in, out, k).padding(k / 2)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return conv(x); }
  nn::Conv2d conv{nullptr};
};
TORCH_MODULE(SameConv2d);

struct SqueezeExciteImpl : nn::Module {
  explicit SqueezeExciteImpl(int64_t dim) {
    int64_t hidden = std::max<int64_t>(16, dim / 2);
    to_k = register_module("to_k", nn::Conv2d(dim, 1, 1));
    nn::Conv2d last(hidden, dim, 1);
    net = register_module("net", nn::Sequential(nn::Conv2d(dim, hidden, 1), nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.1)),
                                                last, nn::Sigmoid()));
    nn::init::zeros_(last->weight);
    nn::init::constant_(last->bias, -10.0);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto b = x.size(0), c = x.size(1);
    auto context = to_k(x).reshape({b, 1, -1}).softmax(-1);
    auto out = torch::einsum("bin,bcn->bci", {context, x.reshape({b, c, -1})}).unsqueeze(-1);
    return net->forward(out) * x;
  }
  nn::Conv2d to_k{nullptr};
  nn::Sequential net{nullptr};
};
TORCH_MODULE(SqueezeExcite);

struct ResidualUnitImpl : nn::Module {
  ResidualUnitImpl(int64_t dim, int64_t k) {
    net = register_module("net", nn::Sequential(SameConv2d(dim, dim, k), nn::ELU(), nn::Conv2d(dim, dim, 1), nn::ELU(), SqueezeExcite(dim)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return net->forward(x) + x; }
  nn::Sequential net{nullptr};
};
TORCH_MODULE(ResidualUnit);

struct Downsample2xImpl : nn::Module {
  Downsample2xImpl(int64_t in, int64_t out) { conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(2).padding(1))); }
  torch::Tensor forward(const torch::Tensor& x) { return conv(x); }
  nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Downsample2x);

struct Upsample2xImpl : nn::Module {
  Upsample2xImpl(int64_t in, int64_t out) {
    nn::Conv2d conv(in, out * 4, 1);
    net = register_module("net", nn::Sequential(conv, nn::SiLU(), nn::PixelShuffle(nn::PixelShuffleOptions(2))));
    // Each output channel's four sub-pixels start equal (AION's init_conv_).
    torch::NoGradGuard ng;
    auto w = torch::empty({out, in, 1, 1});
    nn::init::kaiming_uniform_(w);
    conv->weight.copy_(w.repeat_interleave(4, 0));
    nn::init::zeros_(conv->bias);
  }
  torch::Tensor forward(const torch::Tensor& x) { return net->forward(x); }
  nn::Sequential net{nullptr};
};
TORCH_MODULE(Upsample2x);

// LayerNorm over channels of [B, C, H, W]; the LayerNorm is child "1" as in
// AION's Sequential(Rearrange, LayerNorm, Rearrange).
struct PreQuantNormImpl : nn::Module {
  explicit PreQuantNormImpl(int64_t dim) { ln = register_module("1", nn::LayerNorm(nn::LayerNormOptions({dim}))); }
  torch::Tensor forward(const torch::Tensor& x) { return ln(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2}); }
  nn::LayerNorm ln{nullptr};
};
TORCH_MODULE(PreQuantNorm);

nn::Sequential residual_stack(int64_t dim, int64_t n) {
  nn::Sequential s;
  for (int64_t i = 0; i < n; ++i) s->push_back(ResidualUnit(dim, 3));
  return s;
}

}  // namespace

MagVitAEImpl::MagVitAEImpl(int64_t n_bands, int64_t hidden, int64_t n_comp, int64_t n_consec) {
  int64_t dim = hidden >> n_comp;
  auto cin = SameConv2d(n_bands, dim, 7);
  auto cout = SameConv2d(dim, n_bands, 3);
  register_module("conv_in", cin);
  register_module("conv_out", cout);
  conv_in = cin->conv;
  conv_out = cout->conv;
  std::vector<std::shared_ptr<nn::Module>> enc, dec;  // dec built in reverse
  enc.push_back(ResidualUnit(dim, 3).ptr());
  dec.push_back(ResidualUnit(dim, 3).ptr());
  for (int64_t i = 0; i < n_comp; ++i) {
    enc.push_back(Downsample2x(dim, dim * 2).ptr());
    dec.push_back(Upsample2x(dim * 2, dim).ptr());
    dim *= 2;
    enc.push_back(residual_stack(dim, n_consec).ptr());
    dec.push_back(residual_stack(dim, n_consec).ptr());
  }
  enc.push_back(SameConv2d(dim, dim, 7).ptr());
  dec.push_back(SameConv2d(dim, dim, 3).ptr());
  enc.push_back(residual_stack(dim, n_consec).ptr());
  dec.push_back(residual_stack(dim, n_consec).ptr());
  enc.push_back(PreQuantNorm(dim).ptr());
  encoder_layers = register_module("encoder_layers", nn::ModuleList());
  decoder_layers = register_module("decoder_layers", nn::ModuleList());
  for (auto& m : enc) encoder_layers->push_back(m);
  for (auto it = dec.rbegin(); it != dec.rend(); ++it) decoder_layers->push_back(*it);
}

namespace {
torch::Tensor run_layer(const std::shared_ptr<nn::Module>& m, const torch::Tensor& x) {
  if (auto p = std::dynamic_pointer_cast<ResidualUnitImpl>(m)) return p->forward(x);
  if (auto p = std::dynamic_pointer_cast<nn::SequentialImpl>(m)) return p->forward(x);
  if (auto p = std::dynamic_pointer_cast<Downsample2xImpl>(m)) return p->forward(x);
  if (auto p = std::dynamic_pointer_cast<Upsample2xImpl>(m)) return p->forward(x);
  if (auto p = std::dynamic_pointer_cast<SameConv2dImpl>(m)) return p->forward(x);
  if (auto p = std::dynamic_pointer_cast<PreQuantNormImpl>(m)) return p->forward(x);
  TORCH_CHECK(false, "MagVitAE: unexpected layer ", m->name());
}
}  // namespace

torch::Tensor MagVitAEImpl::encode(torch::Tensor x) {
  x = conv_in(x);
  for (const auto& m : *encoder_layers) x = run_layer(m, x);
  return x;
}

torch::Tensor MagVitAEImpl::decode(torch::Tensor x) {
  for (const auto& m : *decoder_layers) x = run_layer(m, x);
  return conv_out(x);
}

SubsampledLinearImpl::SubsampledLinearImpl(int64_t in, int64_t out, bool sub_in) : dim_in(in), dim_out(out), subsample_in(sub_in) {
  nn::Linear tmp(in, out);
  weight = register_parameter("weight", tmp->weight.detach().clone());
  bias = register_parameter("bias", tmp->bias.detach().clone());
}

torch::Tensor SubsampledLinearImpl::forward(const torch::Tensor& x0, const torch::Tensor& labels) {
  auto x = x0.permute({0, 2, 3, 1});
  auto mask = labels.unsqueeze(1).unsqueeze(1).to(torch::kFloat32);
  if (subsample_in) {
    x = x * mask;
    auto sizes = labels.sum(1, /*keepdim=*/true);
    auto scales = torch::pow(sizes.reciprocal() * dim_in, 0.5).squeeze(-1);  // Python: int / tensor = reciprocal * int
    x = scales.view({-1, 1, 1, 1}) * F::linear(x, weight, bias);
  } else {
    x = F::linear(x, weight, bias) * mask;
  }
  return x.permute({0, 3, 1, 2});
}

// ---------------------------------------------------------------- ConvNeXt-1D

ChannelNormImpl::ChannelNormImpl(int64_t dim, double e) : eps(e) {
  weight = register_parameter("weight", torch::ones({dim}));
  bias = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor ChannelNormImpl::forward(const torch::Tensor& x) {
  return F::layer_norm(x.movedim(1, -1), F::LayerNormFuncOptions({weight.size(0)}).weight(weight).bias(bias).eps(eps)).movedim(-1, 1);
}

namespace {

struct GRNImpl : nn::Module {
  explicit GRNImpl(int64_t dim) {
    gamma = register_parameter("gamma", torch::zeros({1, 1, dim}));
    beta = register_parameter("beta", torch::zeros({1, 1, dim}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto gx = torch::norm(x, 2, {1}, true);
    auto nx = gx / (gx.mean(-1, true) + 1e-6);
    return gamma * (x * nx) + beta + x;
  }
  torch::Tensor gamma, beta;
};
TORCH_MODULE(GRN);

struct ConvNextBlockImpl : nn::Module {
  explicit ConvNextBlockImpl(int64_t dim) {
    dwconv = register_module("dwconv", nn::Conv1d(nn::Conv1dOptions(dim, dim, 7).padding(3).groups(dim)));
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-6)));
    pwconv1 = register_module("pwconv1", nn::Linear(dim, 4 * dim));
    grn = register_module("grn", GRN(4 * dim));
    pwconv2 = register_module("pwconv2", nn::Linear(4 * dim, dim));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = dwconv(x).permute({0, 2, 1});
    y = pwconv2(grn(F::gelu(pwconv1(norm(y)))));
    return x + y.permute({0, 2, 1});
  }
  nn::Conv1d dwconv{nullptr};
  nn::LayerNorm norm{nullptr};
  nn::Linear pwconv1{nullptr}, pwconv2{nullptr};
  GRN grn{nullptr};
};
TORCH_MODULE(ConvNextBlock);

void init_convnext(nn::Module& m) {
  torch::NoGradGuard ng;
  for (auto& mod : m.modules(/*include_self=*/false)) {
    if (auto c = dynamic_cast<nn::Conv1dImpl*>(mod.get())) {
      c->weight.normal_(0, 0.02);  // AION's trunc_normal_(std=.02) truncates at +-2 absolute: a plain normal
      nn::init::zeros_(c->bias);
    } else if (auto l = dynamic_cast<nn::LinearImpl*>(mod.get())) {
      l->weight.normal_(0, 0.02);
      nn::init::zeros_(l->bias);
    }
  }
}

}  // namespace

ConvNext1dImpl::ConvNext1dImpl(bool enc, int64_t in_chans, std::vector<int64_t> depths, std::vector<int64_t> dims) : is_encoder(enc) {
  TORCH_CHECK(depths.size() == dims.size() && !dims.empty(), "ConvNeXt: depths and dims must have the same length");
  const int64_t n = static_cast<int64_t>(dims.size());
  sample_layers = register_module(enc ? "downsample_layers" : "upsample_layers", nn::ModuleList());
  stages = register_module("stages", nn::ModuleList());
  if (enc) {
    sample_layers->push_back(nn::Sequential(nn::Conv1d(nn::Conv1dOptions(in_chans, dims[0], 4).stride(4)), ChannelNorm(dims[0])));
    for (int64_t i = 0; i + 1 < n; ++i)
      sample_layers->push_back(nn::Sequential(ChannelNorm(dims[i]), nn::Conv1d(nn::Conv1dOptions(dims[i], dims[i + 1], 2).stride(2))));
  } else {
    sample_layers->push_back(nn::Sequential(nn::ConvTranspose1d(nn::ConvTranspose1dOptions(in_chans, dims[0], 2).stride(2)), ChannelNorm(dims[0])));
    for (int64_t i = 0; i + 1 < n; ++i) {
      int64_t k = i < n - 2 ? 2 : 4;
      sample_layers->push_back(nn::Sequential(ChannelNorm(dims[i]), nn::ConvTranspose1d(nn::ConvTranspose1dOptions(dims[i], dims[i + 1], k).stride(k))));
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    nn::Sequential s;
    for (int64_t j = 0; j < depths[i]; ++j) s->push_back(ConvNextBlock(dims[i]));
    stages->push_back(s);
  }
  if (enc) norm = nn::AnyModule(register_module("norm", ChannelNorm(dims.back())));
  init_convnext(*this);
}

torch::Tensor ConvNext1dImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < sample_layers->size(); ++i) {
    x = sample_layers->ptr<nn::SequentialImpl>(i)->forward(x);
    x = stages->ptr<nn::SequentialImpl>(i)->forward(x);
  }
  return is_encoder ? norm.forward(x) : x;
}

torch::Tensor interp_rows(const torch::Tensor& x0, const torch::Tensor& y, const torch::Tensor& xnew, const torch::Tensor& valid) {
  const int64_t n = x0.size(1);
  auto pos = torch::arange(n, x0.options().dtype(torch::kLong)).unsqueeze(0);
  auto last_idx = (valid - 1).clamp_min(0).unsqueeze(1);
  auto x_last = x0.gather(1, last_idx);
  // Padding after the valid prefix: keep x increasing for searchsorted.
  auto x = torch::where(pos < valid.unsqueeze(1), x0, x_last + 1 + pos.to(x0.scalar_type()));
  auto idx = torch::searchsorted(x, xnew) - 1;
  idx = torch::minimum(idx, (valid - 2).clamp_min(0).unsqueeze(1)).clamp_min(0);
  using torch::indexing::Slice;
  auto slopes = (y.index({Slice(), Slice(0, -1)}) - y.index({Slice(), Slice(1)})) /
                (x.index({Slice(), Slice(0, -1)}) - x.index({Slice(), Slice(1)}));
  auto ynew = y.gather(1, idx) + (xnew - x.gather(1, idx)) * slopes.gather(1, idx);
  auto out = (xnew < x.index({Slice(), Slice(0, 1)})) | (xnew > x_last);
  return ynew.masked_fill(out, 0.0);
}

}  // namespace astrofm::codecs
