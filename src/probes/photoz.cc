// Photo-z ensemble of mixture-density networks with PIT recalibration (photoz.h).
#include "astrofm/photoz.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "astrofm/error.h"
#include "astrofm/model_file.h"
#include "astrofm/models/registry.h"
#include "astrofm/strict_json.h"

namespace astrofm {
namespace {

constexpr float kTooFaint = 90;  // |mag| at or beyond: a survey's 99 / -99 placeholder

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

torch::Tensor mdn_nll(const std::tuple<torch::Tensor, torch::Tensor, torch::Tensor>& out, const torch::Tensor& y) {
  const auto& [lw, m, ls] = out;
  auto r = (y.unsqueeze(1) - m) / ls.exp();
  return -torch::logsumexp(lw - 0.5 * r * r - ls - 0.5 * std::log(2 * M_PI), 1).mean();
}

}  // namespace

bool photoz_measured(float mag, float err, bool have_err) {
  if (!std::isfinite(mag) || std::abs(mag) >= kTooFaint) return false;
  return !have_err || (std::isfinite(err) && err > 0);
}

struct PhotozEstimator::Impl {
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

namespace {

// Trapezoid CDF at the grid points of densities [n, K].
torch::Tensor grid_cdf(const torch::Tensor& p, const torch::Tensor& g) {
  auto h = (g.slice(0, 1) - g.slice(0, 0, -1)).unsqueeze(0);
  auto piece = 0.5 * h * (p.slice(1, 1) + p.slice(1, 0, -1));
  return torch::cat({torch::zeros({p.size(0), 1}, p.options()), piece.cumsum(1)}, 1);
}

// Normalises rows to integrate to one; rows with no mass become uniform.
torch::Tensor normalise(torch::Tensor p, const torch::Tensor& g) {
  auto total = grid_cdf(p, g).select(1, -1).unsqueeze(1);
  auto width = (g[-1] - g[0]).item<double>();
  return torch::where(total > 0, p / total.clamp_min(1e-300), torch::full_like(p, 1.0 / width));
}

// PIT of each truth under densities [n, K] on grid g: the trapezoid CDF,
// linear between grid points, as qp's interp ensembles compute it.
std::vector<double> pits(const torch::Tensor& p, const torch::Tensor& g, const std::vector<double>& z) {
  auto c = grid_cdf(p, g).contiguous();
  auto gv = g.contiguous();
  const double* G = gv.data_ptr<double>();
  const double* C = c.data_ptr<double>();
  const int64_t K = g.size(0);
  std::vector<double> out(z.size());
  for (size_t i = 0; i < z.size(); ++i) {
    const double* ci = C + i * K;
    if (z[i] <= G[0]) out[i] = 0;
    else if (z[i] >= G[K - 1]) out[i] = 1;
    else {
      int64_t k = std::upper_bound(G, G + K, z[i]) - G - 1;
      out[i] = std::clamp(ci[k] + (ci[k + 1] - ci[k]) * (z[i] - G[k]) / (G[k + 1] - G[k]), 0.0, 1.0);
    }
  }
  return out;
}

}  // namespace

PhotozEstimator::PhotozEstimator(PhotozOptions o) : impl_(std::make_unique<Impl>()) { impl_->o = std::move(o); }
PhotozEstimator::~PhotozEstimator() = default;
PhotozEstimator::PhotozEstimator(PhotozEstimator&&) noexcept = default;
PhotozEstimator& PhotozEstimator::operator=(PhotozEstimator&&) noexcept = default;
bool PhotozEstimator::fitted() const { return impl_->fitted; }
const PhotozOptions& PhotozEstimator::options() const { return impl_->o; }
nlohmann::json PhotozEstimator::info() const { return impl_->info; }

std::vector<double> PhotozEstimator::grid() const {
  const auto& o = impl_->o;
  std::vector<double> g(o.nzbins);
  for (int64_t k = 0; k < o.nzbins; ++k) g[k] = o.zmin + (o.zmax - o.zmin) * k / std::max<int64_t>(1, o.nzbins - 1);
  return g;
}

void PhotozEstimator::fit(const PhotozInputs& x, const std::vector<double>& z,
                          const std::function<void(int64_t, int64_t, double)>& progress) {
  auto& I = *impl_;
  const auto& o = I.o;
  I.check(x, "training data");
  if (static_cast<int64_t>(z.size()) != x.n) fail_input("photoz: {} redshifts for {} objects", z.size(), x.n);
  if (o.members < 1 || o.components < 1 || o.nzbins < 2 || !(o.zmax > o.zmin) || o.epochs < 1 || o.batch < 1)
    fail_usage("photoz: members {}, components {}, nzbins {}, z range [{}, {}], epochs {}, batch {}: each must be positive (zmax > zmin)",
               o.members, o.components, o.nzbins, o.zmin, o.zmax, o.epochs, o.batch);
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < x.n; ++i)
    if (std::isfinite(z[i])) rows.push_back(i);
  if (rows.size() < 20)
    fail_input("photoz: the training data has {} objects with a finite redshift out of {}; at least 20 are needed", rows.size(), x.n);
  auto [r_all, miss_all] = I.raw(x);
  auto idx = torch::tensor(rows);
  auto R = r_all.index_select(0, idx), Mi = miss_all.index_select(0, idx);
  auto Z = torch::tensor(z, torch::kFloat64).index_select(0, idx);
  for (int64_t b = 0; b < I.bands(); ++b)
    if (Mi.select(1, b).min().item<float>() > 0)
      fail_input("photoz: band {} is missing (NaN, 99 or -99) for every training object", o.bands[b]);
  // Standardised on every object, labelled or not: with few labels the
  // unlabelled magnitudes describe the population better.
  I.standardise(r_all, miss_all);
  std::vector<torch::Tensor> body_init;
  const int64_t unlabelled = x.n - static_cast<int64_t>(rows.size());
  nlohmann::json pinfo = nullptr;
  if (o.pretrain_epochs > 0 && unlabelled >= 100) {
    auto [init, loss] = I.pretrain(r_all, miss_all, progress);
    body_init = std::move(init);
    pinfo = {{"objects", x.n}, {"unlabelled", unlabelled}, {"epochs", o.pretrain_epochs}, {"reconstruction_mse", loss}};
  }
  I.z_mean = Z.mean().item<double>();
  I.z_scale = std::max(1e-6, Z.std().item<double>());
  auto Zs = ((Z - I.z_mean) / I.z_scale).to(torch::kFloat32);

  const int64_t n = R.size(0);
  std::mt19937_64 rng(o.seed);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  // Calibration needs enough objects to measure it (a width from 20 PITs is
  // noise: measured, it doubled the PIT KS at 200 labels): from 1,000 labelled objects on.
  const int64_t ncal = o.calibration_fraction > 0 && n >= 1000 ? static_cast<int64_t>(n * o.calibration_fraction) : 0;
  std::vector<int64_t> cal(order.begin(), order.begin() + ncal), pool(order.begin() + ncal, order.end());

  I.members.clear();
  nlohmann::json minfo = nlohmann::json::array();
  for (int64_t m = 0; m < o.members; ++m) {
    torch::manual_seed(o.seed * 1000 + m);
    std::vector<int64_t> p = pool;
    std::mt19937_64 mr(o.seed * 7919 + m);
    std::shuffle(p.begin(), p.end(), mr);
    const int64_t nval = std::max<int64_t>(1, static_cast<int64_t>(p.size() * o.val_fraction));
    auto va = torch::tensor(std::vector<int64_t>(p.begin(), p.begin() + nval));
    auto tr = torch::tensor(std::vector<int64_t>(p.begin() + nval, p.end()));
    auto Rtr = R.index_select(0, tr), Mtr = Mi.index_select(0, tr), Ytr = Zs.index_select(0, tr);
    auto Xva = I.input(R.index_select(0, va), Mi.index_select(0, va)), Yva = Zs.index_select(0, va);
    Mdn net(I.in_dim(), o.hidden, o.components);
    if (!body_init.empty()) {
      torch::NoGradGuard ng;
      auto ps = net->body->parameters();
      for (size_t k = 0; k < ps.size(); ++k) ps[k].copy_(body_init[k]);
    }
    torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
    const int64_t ntr = Rtr.size(0), steps_per = (ntr + o.batch - 1) / o.batch, total = steps_per * o.epochs;
    double best = INFINITY;
    int64_t best_epoch = 0, step = 0;
    std::vector<torch::Tensor> best_state;
    for (int64_t ep = 0; ep < o.epochs; ++ep) {
      net->train();
      auto perm = torch::randperm(ntr, torch::kLong);
      for (int64_t s = 0; s < ntr; s += o.batch, ++step) {
        // One-cycle schedule: warm up over the first 30%, then cosine down to lr / 1000.
        double f = static_cast<double>(step) / total, lr;
        if (f < 0.3) lr = o.lr * (0.04 + 0.96 * f / 0.3);
        else lr = o.lr * (1e-3 + (1 - 1e-3) * 0.5 * (1 + std::cos(M_PI * (f - 0.3) / 0.7)));
        for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
        auto j = perm.slice(0, s, std::min(ntr, s + o.batch));
        auto mb = Mtr.index_select(0, j);
        if (o.band_dropout > 0) {
          // Some rows lose one band: the networks learn what missing looks like.
          auto drop = torch::rand({j.size(0)}) < o.band_dropout;
          auto which = torch::randint(I.bands(), {j.size(0)}, torch::kLong);
          auto onehot = torch::one_hot(which, I.bands()).to(torch::kFloat32) * drop.unsqueeze(1).to(torch::kFloat32);
          mb = torch::max(mb, onehot);
        }
        auto rb = Rtr.index_select(0, j);
        if (o.error_noise > 0 && I.have_err()) rb = I.perturb(rb, o.error_noise);
        auto loss = mdn_nll(net->forward(I.input(rb, mb)), Ytr.index_select(0, j));
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
      net->eval();
      double v;
      {
        torch::NoGradGuard ng;
        v = mdn_nll(net->forward(Xva), Yva).item<double>();
      }
      if (progress) progress(m, ep, v);
      if (v < best) {
        best = v, best_epoch = ep;
        best_state.clear();
        for (const auto& t : net->parameters()) best_state.push_back(t.detach().clone());
      } else if (ep - best_epoch >= o.patience) {
        break;
      }
    }
    {
      torch::NoGradGuard ng;
      auto ps = net->parameters();
      for (size_t k = 0; k < ps.size(); ++k) ps[k].copy_(best_state[k]);
    }
    net->eval();
    I.members.push_back(net);
    minfo.push_back({{"best_epoch", best_epoch + 1}, {"validation_nll", best}, {"train_objects", ntr}, {"validation_objects", nval}});
  }
  I.fitted = true;
  I.cal_q.clear();
  I.temperature = 1;
  nlohmann::json cinfo = nullptr;
  if (ncal > 0) {
    // Recalibration: the CDF goes through the empirical CDF of the calibration PITs.
    torch::NoGradGuard ng;
    auto ci = torch::tensor(cal);
    auto g = torch::tensor(grid(), torch::kFloat64);
    auto p = normalise(I.mixture_density(I.input(R.index_select(0, ci), Mi.index_select(0, ci)), g), g);
    std::vector<double> zc(ncal);
    for (int64_t i = 0; i < ncal; ++i) zc[i] = Z[cal[i]].item<double>();
    // First the width: p^(1/T), T by the likelihood of the calibration
    // redshifts (one number, so a few hundred objects fix it well; averaging
    // the members' mixtures tends to widen the PDF a little).
    {
      auto zt = torch::tensor(zc, torch::kFloat64);
      auto k = (torch::searchsorted(g, zt, false, true) - 1).clamp(0, g.size(0) - 2);
      auto frac = ((zt - g.index_select(0, k)) / (g.index_select(0, k + 1) - g.index_select(0, k))).clamp(0, 1).unsqueeze(1);
      auto at = [&](const torch::Tensor& q) {  // interpolated density at each truth
        return q.gather(1, k.unsqueeze(1)) * (1 - frac) + q.gather(1, (k + 1).unsqueeze(1)) * frac;
      };
      double best_t = 1, best_nll = INFINITY;
      for (double t = 0.6; t <= 1.601; t += 0.02) {
        double nll = -at(normalise(p.clamp_min(1e-300).pow(1 / t), g)).clamp_min(1e-300).log().mean().item<double>();
        if (nll < best_nll) best_nll = nll, best_t = t;
      }
      I.temperature = best_t;
      p = normalise(p.clamp_min(1e-300).pow(1 / best_t), g);
    }
    auto u = pits(p, g, zc);
    std::sort(u.begin(), u.end());
    const int64_t Q = std::clamp<int64_t>(ncal / 40, 4, 50);
    I.cal_q.resize(Q + 1);
    for (int64_t j = 0; j <= Q; ++j) {
      double pos = static_cast<double>(j) / Q * (ncal - 1);
      int64_t lo = static_cast<int64_t>(pos);
      double fr = pos - lo;
      I.cal_q[j] = u[lo] + (lo + 1 < ncal ? fr * (u[lo + 1] - u[lo]) : 0);
    }
    I.cal_q.front() = 0, I.cal_q.back() = 1;
    for (int64_t j = 1; j <= Q; ++j) I.cal_q[j] = std::max(I.cal_q[j], I.cal_q[j - 1] + 1e-6);
    I.cal_q.back() = std::max(1.0, I.cal_q.back());
    double ks = 0;
    for (int64_t i = 0; i < ncal; ++i) ks = std::max({ks, std::abs((i + 1.0) / ncal - u[i]), std::abs(u[i] - static_cast<double>(i) / ncal)});
    // Only a significant miscalibration is corrected (KS test at 5%): the
    // empirical CDF of a few thousand PITs is itself noisy at that level,
    // and warping an already calibrated PDF by that noise makes it worse.
    const double critical = 1.36 / std::sqrt(static_cast<double>(ncal));
    cinfo = {{"objects", ncal}, {"temperature", I.temperature}, {"pit_ks", ks}, {"ks_critical_5pc", critical}, {"applied", ks > critical}};
    if (ks > critical) cinfo["pit_quantiles"] = I.cal_q;
    else I.cal_q.clear();
  }
  I.info = {{"objects", n}, {"members", minfo}, {"calibration", cinfo}, {"pretraining", pinfo}};
}

std::vector<double> PhotozEstimator::pdf(const PhotozInputs& x) const {
  const auto& I = *impl_;
  if (!I.fitted) fail_usage("photoz: the estimator has not been fitted");
  I.check(x, "input");
  torch::NoGradGuard ng;
  auto g = torch::tensor(grid(), torch::kFloat64);
  std::vector<double> out;
  out.reserve(x.n * g.size(0));
  const int64_t chunk = 4096;
  auto [r, miss] = I.raw(x);
  for (int64_t s = 0; s < x.n; s += chunk) {
    const int64_t e = std::min(x.n, s + chunk);
    auto p = normalise(I.mixture_density(I.input(r.slice(0, s, e), miss.slice(0, s, e)), g), g);
    if (I.temperature != 1) p = normalise(p.clamp_min(1e-300).pow(1 / I.temperature), g);
    if (!I.cal_q.empty()) {
      // New density: g(C(z)) p(z), g the piecewise-constant density of the calibration PITs.
      const int64_t Q = static_cast<int64_t>(I.cal_q.size()) - 1;
      auto c = grid_cdf(p, g).clamp(0, 1);
      auto knots = torch::tensor(I.cal_q, torch::kFloat64);
      auto seg = (torch::searchsorted(knots, c.contiguous(), false, /*right=*/true) - 1).clamp(0, Q - 1);
      auto width = knots.slice(0, 1) - knots.slice(0, 0, -1);
      auto dens = (1.0 / Q) / width.index_select(0, seg.flatten()).view_as(c);
      p = normalise(p * dens, g);
    }
    p = p.contiguous();
    out.insert(out.end(), p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
  }
  return out;
}

namespace {
constexpr const char* kArch = "photoz";
}

std::string PhotozEstimator::to_bytes() const {
  const auto& I = *impl_;
  if (!I.fitted) fail_usage("photoz: the estimator has not been fitted");
  const auto& o = I.o;
  ModelFile mf;
  mf.meta["architecture"] = kArch;
  mf.meta["config"] = {{"bands", o.bands}, {"errors", o.errors}, {"extra", o.extra}, {"zmin", o.zmin}, {"zmax", o.zmax},
                       {"nzbins", o.nzbins}, {"members", o.members}, {"components", o.components}, {"hidden", o.hidden},
                       {"epochs", o.epochs}, {"batch", o.batch}, {"patience", o.patience}, {"lr", o.lr},
                       {"weight_decay", o.weight_decay}, {"val_fraction", o.val_fraction},
                       {"calibration_fraction", o.calibration_fraction}, {"band_dropout", o.band_dropout}, {"seed", o.seed},
                       {"pretrain_epochs", o.pretrain_epochs}, {"error_noise", o.error_noise}};
  mf.meta["preprocessing"] = {{"mean", I.mean}, {"scale", I.scale}, {"z_mean", I.z_mean}, {"z_scale", I.z_scale}, {"calibration", I.cal_q},
                              {"temperature", I.temperature}};
  mf.meta["training"] = I.info;
  for (size_t m = 0; m < I.members.size(); ++m)
    for (const auto& item : I.members[m]->named_parameters())
      mf.tensors.push_back(models::to_stored(fmt::format("m{}.{}", m, item.key()), item.value()));
  return mf.to_bytes();
}

void PhotozEstimator::save(const std::string& path) const {
  auto bytes = to_bytes();
  ModelFile::from_bytes(std::move(bytes), path).write(path);
}

PhotozEstimator PhotozEstimator::from_bytes(std::string bytes, const std::string& name) {
  auto mf = ModelFile::from_bytes(std::move(bytes), name);
  if (mf.meta.value("architecture", "") != kArch)
    fail_input("{}: a model file of architecture '{}', not a photoz estimator", name, mf.meta.value("architecture", ""));
  PhotozEstimator e;
  auto& I = *e.impl_;
  try {
    const auto& c = mf.meta.at("config");
    auto& o = I.o;
    o.bands = c.at("bands").get<std::vector<std::string>>();
    o.errors = c.at("errors").get<std::vector<std::string>>();
    o.extra = c.at("extra").get<int64_t>();
    o.zmin = c.at("zmin").get<double>(), o.zmax = c.at("zmax").get<double>();
    o.nzbins = c.at("nzbins").get<int64_t>(), o.members = c.at("members").get<int64_t>();
    o.components = c.at("components").get<int64_t>(), o.hidden = c.at("hidden").get<std::vector<int64_t>>();
    o.epochs = c.at("epochs").get<int64_t>(), o.batch = c.at("batch").get<int64_t>(), o.patience = c.at("patience").get<int64_t>();
    o.lr = c.at("lr").get<double>(), o.weight_decay = c.at("weight_decay").get<double>();
    o.val_fraction = c.at("val_fraction").get<double>(), o.calibration_fraction = c.at("calibration_fraction").get<double>();
    o.band_dropout = c.at("band_dropout").get<double>(), o.seed = c.at("seed").get<uint64_t>();
    o.pretrain_epochs = c.value("pretrain_epochs", int64_t{0});
    o.error_noise = c.value("error_noise", 0.0);
    const auto& p = mf.meta.at("preprocessing");
    I.mean = p.at("mean").get<std::vector<float>>(), I.scale = p.at("scale").get<std::vector<float>>();
    I.z_mean = p.at("z_mean").get<double>(), I.z_scale = p.at("z_scale").get<double>();
    I.cal_q = p.at("calibration").get<std::vector<double>>();
    I.temperature = p.value("temperature", 1.0);
    I.info = mf.meta.value("training", nlohmann::json::object());
  } catch (const nlohmann::json::exception& ex) {
    fail_corrupt("{}: photoz model file: {}", name, ex.what());
  }
  const auto& o = I.o;
  if (o.bands.empty() || (!o.errors.empty() && o.errors.size() != o.bands.size()) || o.extra < 0 || o.extra > (1 << 20) ||
      o.members < 1 || o.members > 1000 || o.components < 1 || o.components > 1000 || o.nzbins < 2 || o.nzbins > (1 << 20) ||
      !(o.zmax > o.zmin) || static_cast<int64_t>(I.mean.size()) != I.raw_dim() || I.scale.size() != I.mean.size() ||
      (!I.cal_q.empty() && I.cal_q.size() < 3) || !(I.z_scale > 0) || !(I.temperature > 0.01 && I.temperature < 100))
    fail_corrupt("{}: photoz model file has inconsistent settings", name);
  for (const auto& h : o.hidden)
    if (h < 1 || h > (1 << 16)) fail_corrupt("{}: photoz model file has a hidden layer of {}", name, h);
  for (int64_t m = 0; m < o.members; ++m) {
    Mdn net(I.in_dim(), o.hidden, o.components);
    torch::NoGradGuard ng;
    for (auto& item : net->named_parameters()) {
      const std::string& pname = item.key();
      auto& t = item.value();
      const auto* s = mf.find(fmt::format("m{}.{}", m, pname));
      if (!s) fail_corrupt("{}: photoz model file lacks tensor m{}.{}", name, m, pname);
      if (s->shape != t.sizes().vec() || s->dtype != TensorDType::F32)
        fail_corrupt("{}: photoz tensor m{}.{} has the wrong shape or type", name, m, pname);
      t.copy_(models::from_stored(*s));
    }
    net->eval();
    I.members.push_back(net);
  }
  I.fitted = true;
  return e;
}

PhotozEstimator PhotozEstimator::load(const std::string& path) {
  auto mf = ModelFile::read(path);
  return from_bytes(mf.to_bytes(), path);
}

}  // namespace astrofm
