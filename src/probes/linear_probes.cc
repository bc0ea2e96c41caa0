// Ridge regression (closed form through one eigendecomposition per fold, so
// every alpha of the grid costs a matrix-vector product) and multinomial
// logistic regression (L-BFGS, sklearn's objective), both on standardised
// features with regularisation chosen by k-fold cross-validation.
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "astrofm/error.h"
#include "probe_internal.h"

namespace astrofm::detail {
namespace {

torch::Tensor standardised(const Features& x, const Scaler& s) {
  auto t = torch::from_blob(const_cast<float*>(x.x.data()), {x.n, x.d}, torch::kFloat32).to(torch::kFloat64);
  return (t - torch::tensor(s.mean, torch::kFloat64)) / torch::tensor(s.scale, torch::kFloat64);
}

torch::Tensor rows_of(const torch::Tensor& t, const std::vector<int>& fold, int f, bool in) {
  std::vector<int64_t> r;
  for (size_t i = 0; i < fold.size(); ++i)
    if ((fold[i] == f) == in) r.push_back(static_cast<int64_t>(i));
  return t.index_select(0, torch::tensor(r, torch::kLong));
}

class Ridge : public Probe {
 public:
  explicit Ridge(const ProbeOptions& o) : o_(o) {}
  void fit(const Features& x, const std::vector<double>& y) override {
    check_finite(x, "training");
    if (x.n < 2) fail_input("ridge needs at least 2 labelled objects, have {}", x.n);
    scaler_.fit(x);
    auto X = standardised(x, scaler_);
    auto Y = torch::tensor(y, torch::kFloat64);
    alpha_ = o_.alphas.at(0);
    int folds = std::min<int>(o_.cv_folds, static_cast<int>(x.n));
    if (o_.alphas.size() > 1 && folds >= 2) {
      auto fold = fold_of(y, false, folds, o_.seed);
      std::vector<double> sse(o_.alphas.size(), 0.0);
      for (int f = 0; f < folds; ++f) {
        auto Xtr = rows_of(X, fold, f, false), Ytr = rows_of(Y, fold, f, false);
        auto Xte = rows_of(X, fold, f, true), Yte = rows_of(Y, fold, f, true);
        auto xm = Xtr.mean(0), ym = Ytr.mean();
        auto [lam, V] = at::linalg_eigh((Xtr - xm).t().mm(Xtr - xm), "L");
        auto b = V.t().mv((Xtr - xm).t().mv(Ytr - ym));
        for (size_t a = 0; a < o_.alphas.size(); ++a) {
          auto w = V.mv(b / (lam + o_.alphas[a]));
          sse[a] += ((Xte - xm).mv(w) + ym - Yte).pow(2).sum().item<double>();
        }
      }
      alpha_ = o_.alphas[std::min_element(sse.begin(), sse.end()) - sse.begin()];
      cv_mse_ = *std::min_element(sse.begin(), sse.end()) / x.n;
    }
    auto xm = X.mean(0);
    intercept_ = Y.mean().item<double>();
    auto A = (X - xm).t().mm(X - xm) + alpha_ * torch::eye(x.d, torch::kFloat64);
    w_ = at::linalg_solve(A, (X - xm).t().mv(Y - intercept_), /*left=*/true);
    // Fold the centring into the intercept: pred = X w + c.
    intercept_ -= xm.dot(w_).item<double>();
  }
  std::vector<double> predict(const Features& x) const override {
    check_finite(x, "test");
    if (x.d != static_cast<int64_t>(scaler_.mean.size())) fail_input("test features have {} dimensions, training had {}", x.d, scaler_.mean.size());
    auto p = (standardised(x, scaler_).mv(w_) + intercept_).contiguous();
    return {p.data_ptr<double>(), p.data_ptr<double>() + x.n};
  }
  nlohmann::json info() const override { return {{"alpha", alpha_}, {"cv_mse", cv_mse_}, {"alphas", o_.alphas}}; }

 private:
  ProbeOptions o_;
  Scaler scaler_;
  torch::Tensor w_;
  double intercept_ = 0, alpha_ = 1, cv_mse_ = NAN;
};

// Multinomial logistic regression, sklearn's objective:
// sum_i weight_i * cross_entropy_i + ||W||^2 / (2 C), intercepts unpenalised.
struct LogisticFit {
  torch::Tensor W, b;
};

LogisticFit fit_logistic(const torch::Tensor& X, const torch::Tensor& y, const torch::Tensor& sample_w, int64_t classes, double C) {
  auto W = torch::zeros({X.size(1), classes}, torch::kFloat64).requires_grad_(true);
  auto b = torch::zeros({classes}, torch::kFloat64).requires_grad_(true);
  torch::optim::LBFGS opt({W, b}, torch::optim::LBFGSOptions(1.0).max_iter(500).tolerance_grad(1e-7).tolerance_change(1e-10)
                                      .history_size(20).line_search_fn("strong_wolfe"));
  auto closure = [&]() {
    opt.zero_grad();
    auto logp = torch::log_softmax(X.mm(W) + b, 1);
    auto nll = -(logp.gather(1, y.unsqueeze(1)).squeeze(1) * sample_w).sum();
    auto loss = nll + W.pow(2).sum() / (2 * C);
    loss.backward();
    return loss;
  };
  opt.step(closure);
  return {W.detach(), b.detach()};
}

class Logistic : public Probe {
 public:
  explicit Logistic(const ProbeOptions& o) : o_(o) {}
  void fit(const Features& x, const std::vector<double>& y) override {
    check_finite(x, "training");
    scaler_.fit(x);
    auto X = standardised(x, scaler_);
    auto Y = torch::tensor(std::vector<int64_t>(y.begin(), y.end()), torch::kLong);
    auto counts = torch::bincount(Y, {}, o_.classes).to(torch::kFloat64);
    if ((counts > 0).sum().item<int64_t>() < 2) fail_input("logistic needs labels of at least 2 classes");
    auto cw = o_.balanced ? torch::where(counts > 0, x.n / (o_.classes * counts.clamp_min(1)), torch::zeros_like(counts))
                          : torch::ones_like(counts);
    auto sw = cw.index_select(0, Y);
    C_ = o_.Cs.at(0);
    int min_count = static_cast<int>(counts.index({counts > 0}).min().item<double>());
    int folds = std::min(o_.cv_folds, min_count);
    if (o_.Cs.size() > 1 && folds >= 2) {
      auto fold = fold_of(y, true, folds, o_.seed);
      std::vector<double> loss(o_.Cs.size(), 0.0);
      for (int f = 0; f < folds; ++f) {
        auto Xtr = rows_of(X, fold, f, false), Ytr = rows_of(Y, fold, f, false), Wtr = rows_of(sw, fold, f, false);
        auto Xte = rows_of(X, fold, f, true), Yte = rows_of(Y, fold, f, true), Wte = rows_of(sw, fold, f, true);
        for (size_t c = 0; c < o_.Cs.size(); ++c) {
          auto m = fit_logistic(Xtr, Ytr, Wtr, o_.classes, o_.Cs[c]);
          auto logp = torch::log_softmax(Xte.mm(m.W) + m.b, 1);
          loss[c] -= (logp.gather(1, Yte.unsqueeze(1)).squeeze(1) * Wte).sum().item<double>();
        }
      }
      C_ = o_.Cs[std::min_element(loss.begin(), loss.end()) - loss.begin()];
      cv_logloss_ = *std::min_element(loss.begin(), loss.end()) / sw.sum().item<double>();
    }
    fit_ = fit_logistic(X, Y, sw, o_.classes, C_);
  }
  std::vector<double> predict(const Features& x) const override {
    check_finite(x, "test");
    if (x.d != static_cast<int64_t>(scaler_.mean.size())) fail_input("test features have {} dimensions, training had {}", x.d, scaler_.mean.size());
    auto p = (standardised(x, scaler_).mm(fit_.W) + fit_.b).argmax(1).to(torch::kFloat64).contiguous();
    return {p.data_ptr<double>(), p.data_ptr<double>() + x.n};
  }
  nlohmann::json info() const override { return {{"C", C_}, {"cv_logloss", cv_logloss_}, {"Cs", o_.Cs}, {"balanced", o_.balanced}}; }

 private:
  ProbeOptions o_;
  Scaler scaler_;
  LogisticFit fit_;
  double C_ = 1, cv_logloss_ = NAN;
};

}  // namespace

std::unique_ptr<Probe> make_ridge(const ProbeOptions& o) { return std::make_unique<Ridge>(o); }
std::unique_ptr<Probe> make_logistic(const ProbeOptions& o) { return std::make_unique<Logistic>(o); }

}  // namespace astrofm::detail

namespace astrofm {

void Pca::fit(const Features& f, int64_t components) {
  check_finite(f, "PCA");
  if (components < 1 || components > std::min(f.n, f.d))
    fail_input("PCA: {} components asked of {} rows of {} values", components, f.n, f.d);
  auto X = torch::from_blob(const_cast<float*>(f.x.data()), {f.n, f.d}, torch::kFloat32).to(torch::kFloat64);
  auto mu = X.mean(0);
  auto Xc = X - mu;
  // Eigenvectors of the smaller Gram matrix: d x d or n x n.
  torch::Tensor basis;
  double total = Xc.pow(2).sum().item<double>(), kept = 0;
  if (f.d <= f.n) {
    auto [lam, V] = at::linalg_eigh(Xc.t().mm(Xc), "L");
    basis = V.flip(1).slice(1, 0, components).t();
    kept = lam.flip(0).slice(0, 0, components).sum().item<double>();
  } else {
    auto [lam, U] = at::linalg_eigh(Xc.mm(Xc.t()), "L");
    auto top = lam.flip(0).slice(0, 0, components).clamp_min(1e-30);
    basis = (Xc.t().mm(U.flip(1).slice(1, 0, components)) / top.sqrt()).t();
    kept = top.sum().item<double>();
  }
  explained_ = total > 0 ? kept / total : 0;
  auto b = basis.to(torch::kFloat32).contiguous();
  auto m = mu.to(torch::kFloat32).contiguous();
  basis_.assign(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
  mean_.assign(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
  k_ = components;
  d_ = f.d;
}

LinearModel fit_weighted_logistic(const Features& f, const std::vector<double>& y01, const std::vector<double>& weight, double C) {
  check_finite(f, "logistic");
  if (static_cast<int64_t>(y01.size()) != f.n || static_cast<int64_t>(weight.size()) != f.n)
    fail_input("logistic: {} rows, {} labels, {} weights", f.n, y01.size(), weight.size());
  if (!(C > 0)) fail_usage("logistic: C must be positive, not {}", C);
  auto X = torch::from_blob(const_cast<float*>(f.x.data()), {f.n, f.d}, torch::kFloat32).to(torch::kFloat64);
  auto s = torch::tensor(y01, torch::kFloat64) * 2 - 1;
  auto w = torch::tensor(weight, torch::kFloat64);
  auto beta = torch::zeros({f.d}, torch::kFloat64).requires_grad_(true);
  auto b = torch::zeros({1}, torch::kFloat64).requires_grad_(true);
  torch::optim::LBFGS opt({beta, b}, torch::optim::LBFGSOptions(1.0).max_iter(500).tolerance_grad(1e-7).tolerance_change(1e-10)
                                         .history_size(20).line_search_fn("strong_wolfe"));
  auto closure = [&]() {
    opt.zero_grad();
    auto loss = (torch::softplus(-s * (X.mv(beta) + b)) * w).sum() + beta.pow(2).sum() / (2 * C);
    loss.backward();
    return loss;
  };
  opt.step(closure);
  auto bd = beta.detach().contiguous();
  return {std::vector<double>(bd.data_ptr<double>(), bd.data_ptr<double>() + f.d), b.item<double>()};
}

std::vector<double> LinearModel::decision(const Features& x) const {
  if (x.d != static_cast<int64_t>(beta.size())) fail_input("linear model: rows of {} values, fitted on {}", x.d, beta.size());
  std::vector<double> out(x.n, intercept);
  for (int64_t i = 0; i < x.n; ++i) {
    const float* r = x.row(i);
    double acc = 0;
    for (int64_t j = 0; j < x.d; ++j) acc += r[j] * beta[j];
    out[i] += acc;
  }
  return out;
}

Pca Pca::from(std::vector<float> mean, std::vector<float> basis, int64_t components, int64_t dim) {
  ASTROFM_ASSERT(static_cast<int64_t>(mean.size()) == dim && static_cast<int64_t>(basis.size()) == components * dim, "PCA shapes");
  Pca p;
  p.mean_ = std::move(mean), p.basis_ = std::move(basis), p.k_ = components, p.d_ = dim;
  return p;
}

Features Pca::project(const Features& x) const {
  if (x.d != d_) fail_input("PCA: rows of {} values, fitted on {}", x.d, d_);
  auto X = torch::from_blob(const_cast<float*>(x.x.data()), {x.n, x.d}, torch::kFloat32);
  auto B = torch::from_blob(const_cast<float*>(basis_.data()), {k_, d_}, torch::kFloat32);
  auto M = torch::from_blob(const_cast<float*>(mean_.data()), {d_}, torch::kFloat32);
  auto P = (X - M).mm(B.t()).contiguous();
  return {x.n, k_, std::vector<float>(P.data_ptr<float>(), P.data_ptr<float>() + P.numel())};
}

}  // namespace astrofm
