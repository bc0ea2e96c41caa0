// Photo-z ensemble of mixture-density networks with PIT recalibration (photoz.h).
#include "astrofm/photoz.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "astrofm/error.h"
#include "photoz_impl.h"

namespace astrofm {

using photoz_internal::Mdn;
namespace {

constexpr float kTooFaint = 90;  // |mag| at or beyond: a survey's 99 / -99 placeholder

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

}  // namespace astrofm
