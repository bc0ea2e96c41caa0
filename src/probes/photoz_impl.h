#pragma once
// Private to the photo-z core: the mixture-density network and the
// estimator's state, shared by training and inference (photoz.cc) and the
// model file (photoz_file.cc).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/error.h"
#include "astrofm/photoz.h"

namespace astrofm {
namespace photoz_internal {

struct MdnImpl : torch::nn::Module {
  MdnImpl(int64_t in, const std::vector<int64_t>& hidden, int64_t k) : k(k) {
    body = register_module("body", torch::nn::Sequential());
    for (int64_t h : hidden) {
      body->push_back(torch::nn::Linear(in, h));
      body->push_back(torch::nn::SiLU());
      in = h;
    }
    head = register_module("head", torch::nn::Linear(in, 3 * k));
  }
  // Log weights, means and log sigmas, each [N, k], in standardised z.
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> forward(const torch::Tensor& x) {
    auto h = head(body->forward(x)).split(k, 1);
    return {torch::log_softmax(h[0], 1), h[1], h[2].clamp(-7, 3)};
  }
  int64_t k;
  torch::nn::Sequential body{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Mdn);

}  // namespace photoz_internal

struct PhotozEstimator::Impl {
  using Mdn = photoz_internal::Mdn;
  PhotozOptions o;
  bool fitted = false;
  // Standardisation of the raw features (measured values only) and of z.
  std::vector<float> mean, scale;
  double z_mean = 0, z_scale = 1;
  std::vector<Mdn> members;
  double temperature = 1;     // calibration: the PDF is p^(1/T), renormalised
  std::vector<double> cal_q;  // PIT quantiles of the calibration split at 0, 1/Q, ..., 1; empty: none
  nlohmann::json info = nlohmann::json::object();

  int64_t bands() const { return static_cast<int64_t>(o.bands.size()); }
  bool have_err() const { return !o.errors.empty(); }
  // Raw feature layout: mags [B], colours [B-1], log errors [B or 0], extra; then the B missing flags.
  int64_t raw_dim() const { return bands() + (bands() - 1) + (have_err() ? bands() : 0) + o.extra; }
  int64_t in_dim() const { return raw_dim() + bands(); }

  void check(const PhotozInputs& x, const char* what) const {
    const auto B = bands();
    if (B < 1) fail_usage("photoz: no bands given");
    if (have_err() && static_cast<int64_t>(o.errors.size()) != B)
      fail_usage("photoz: {} error columns for {} bands", o.errors.size(), B);
    if (x.n < 0 || static_cast<int64_t>(x.mags.size()) != x.n * B)
      fail_input("photoz {}: {} magnitudes for {} objects of {} bands ({})", what, x.mags.size(), x.n, B, fmt::join(o.bands, ","));
    if (have_err() && static_cast<int64_t>(x.errors.size()) != x.n * B)
      fail_input("photoz {}: the model uses magnitude errors ({}); {} given for {} objects", what, fmt::join(o.errors, ","), x.errors.size(), x.n);
    if (static_cast<int64_t>(x.extra.size()) != x.n * o.extra)
      fail_input("photoz {}: {} extra feature values for {} objects, the model takes {} per object", what, x.extra.size(), x.n, o.extra);
  }

  // [n, raw_dim] raw features (zero where missing) and [n, B] missing flags.
  std::pair<torch::Tensor, torch::Tensor> raw(const PhotozInputs& x) const {
    const int64_t B = bands(), R = raw_dim(), n = x.n;
    auto f = torch::zeros({n, R}, torch::kFloat32);
    auto miss = torch::zeros({n, B}, torch::kFloat32);
    float* F = f.data_ptr<float>();
    float* M = miss.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      const float* m = x.mags.data() + i * B;
      const float* e = have_err() ? x.errors.data() + i * B : nullptr;
      float* r = F + i * R;
      for (int64_t b = 0; b < B; ++b) {
        bool ok = photoz_measured(m[b], e ? e[b] : 0, e != nullptr);
        M[i * B + b] = ok ? 0 : 1;
        if (ok) r[b] = m[b];
        if (ok && e) r[2 * B - 1 + b] = std::log(std::max(e[b], 1e-4f));
      }
      for (int64_t b = 0; b + 1 < B; ++b)
        if (!M[i * B + b] && !M[i * B + b + 1]) r[B + b] = m[b] - m[b + 1];
      for (int64_t k = 0; k < o.extra; ++k) {
        float v = x.extra[i * o.extra + k];
        r[R - o.extra + k] = std::isfinite(v) ? v : 0;
      }
    }
    return {f, miss};
  }

  // Which raw features a missing band blanks: its magnitude, both colours it is in, its error.
  torch::Tensor blank_mask(const torch::Tensor& miss) const {
    const int64_t B = bands();
    std::vector<torch::Tensor> cols;
    for (int64_t b = 0; b < B; ++b) cols.push_back(miss.select(1, b));
    for (int64_t b = 0; b + 1 < B; ++b) cols.push_back(torch::max(miss.select(1, b), miss.select(1, b + 1)));
    if (have_err())
      for (int64_t b = 0; b < B; ++b) cols.push_back(miss.select(1, b));
    for (int64_t k = 0; k < o.extra; ++k) cols.push_back(torch::zeros({miss.size(0)}));
    return torch::stack(cols, 1);
  }

  // Raw features of magnitudes redrawn within their errors (scaled by
  // `amount`), colours following: the networks see each galaxy as it might
  // have been measured.
  torch::Tensor perturb(const torch::Tensor& r, double amount) const {
    const int64_t B = bands();
    auto err = r.slice(1, 2 * B - 1, 3 * B - 1).exp();
    auto dm = torch::randn_like(err) * err * amount;
    auto out = r.clone();
    out.slice(1, 0, B) += dm;
    if (B > 1) out.slice(1, B, 2 * B - 1) += dm.slice(1, 0, B - 1) - dm.slice(1, 1, B);
    return out;
  }

  // Standardised network input from raw features and missing flags.
  torch::Tensor input(const torch::Tensor& r, const torch::Tensor& miss) const {
    auto mu = torch::tensor(mean), sc = torch::tensor(scale);
    auto z = ((r - mu) / sc) * (1 - blank_mask(miss));
    return torch::cat({z, miss}, 1);
  }

  void standardise(const torch::Tensor& r, const torch::Tensor& miss) {
    auto keep = 1 - blank_mask(miss);
    auto cnt = keep.sum(0).clamp_min(1);
    auto mu = (r * keep).sum(0) / cnt;
    auto var = ((r - mu).pow(2) * keep).sum(0) / cnt;
    auto sd = var.sqrt().clamp_min(1e-6);
    mean.assign(mu.data_ptr<float>(), mu.data_ptr<float>() + mu.numel());
    scale.assign(sd.data_ptr<float>(), sd.data_ptr<float>() + sd.numel());
  }

  // Mixture density of the ensemble on the grid, [n, K] (before recalibration).
  torch::Tensor mixture_density(const torch::Tensor& in, const torch::Tensor& g) const {
    auto acc = torch::zeros({in.size(0), g.size(0)}, torch::kFloat64);
    for (auto m : members) {  // a module holder: a shared pointer, so forward() is allowed
      auto [lw, mu, ls] = m->forward(in);
      auto w = lw.exp().to(torch::kFloat64).unsqueeze(2);
      auto mz = (mu.to(torch::kFloat64) * z_scale + z_mean).unsqueeze(2);
      auto s = (ls.to(torch::kFloat64).exp() * z_scale).unsqueeze(2);
      auto r = (g.view({1, 1, -1}) - mz) / s;
      acc += (w * torch::exp(-0.5 * r * r) / (s * std::sqrt(2 * M_PI))).sum(1);
    }
    return acc / static_cast<double>(members.size());
  }

  // Self-supervised pre-training of one network body on every object's
  // magnitudes: bands hidden at random (as missing), the body and a linear
  // head rebuild the standardised magnitudes and colours. Returns the
  // body's parameters (each member starts from them) and the last epoch's loss.
  std::pair<std::vector<torch::Tensor>, double> pretrain(const torch::Tensor& r, const torch::Tensor& miss,
                                                         const std::function<void(int64_t, int64_t, double)>& progress) {
    torch::manual_seed(o.seed * 1000 + 999);
    const int64_t B = bands(), T = 2 * B - 1, n = r.size(0);
    Mdn net(in_dim(), o.hidden, 1);
    auto recon = torch::nn::Linear(o.hidden.empty() ? in_dim() : o.hidden.back(), T);
    auto params = net->body->parameters();
    for (auto& p : recon->parameters()) params.push_back(p);
    torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
    auto target = ((r - torch::tensor(mean)) / torch::tensor(scale)).slice(1, 0, T);
    auto known = (1 - blank_mask(miss)).slice(1, 0, T);
    const int64_t steps_per = (n + o.batch - 1) / o.batch, total = steps_per * o.pretrain_epochs;
    int64_t step = 0;
    double last = 0;
    for (int64_t ep = 0; ep < o.pretrain_epochs; ++ep) {
      auto perm = torch::randperm(n, torch::kLong);
      double sum = 0;
      for (int64_t s = 0; s < n; s += o.batch, ++step) {
        const double f = static_cast<double>(step) / total;
        const double lr = o.lr * (1e-3 + (1 - 1e-3) * 0.5 * (1 + std::cos(M_PI * f)));
        for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
        auto j = perm.slice(0, s, std::min(n, s + o.batch));
        auto m = miss.index_select(0, j);
        // Hide one or two bands per object.
        for (int h = 0; h < 2; ++h) {
          auto which = torch::randint(B, {j.size(0)}, torch::kLong);
          auto hide = torch::one_hot(which, B).to(torch::kFloat32) * (torch::rand({j.size(0), 1}) < (h == 0 ? 1.0 : 0.3)).to(torch::kFloat32);
          m = torch::max(m, hide);
        }
        auto out = recon->forward(net->body->forward(input(r.index_select(0, j), m)));
        auto w = known.index_select(0, j);
        auto loss = ((out - target.index_select(0, j)).pow(2) * w).sum() / w.sum().clamp_min(1);
        opt.zero_grad();
        loss.backward();
        opt.step();
        sum += loss.item<double>() * j.size(0);
      }
      last = sum / n;
      if (progress) progress(-1, ep, last);
    }
    std::vector<torch::Tensor> init;
    for (const auto& p : net->body->parameters()) init.push_back(p.detach().clone());
    return {init, last};
  }
};

}  // namespace astrofm
