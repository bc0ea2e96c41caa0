#pragma once
// Probes on frozen features, sklearn-like: fit on (features, targets), predict.
// Targets are values (regression) or class indices 0..classes-1 stored as
// doubles (classification). kNN is torch-free (knn.h); ridge, logistic, mlp
// and attentive run on libtorch but keep torch out of this header.
// Thread-safety: fit() mutates; predict() is const and safe to call concurrently on a fitted
// probe.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/knn.h"

namespace astrofm {

struct ProbeOptions {
  std::string kind = "knn";      // knn | ridge | logistic | mlp | attentive
  bool classification = false;
  int64_t classes = 0;           // classification: number of classes
  uint64_t seed = 0;
  KnnOptions knn;
  // ridge: regularisation strengths searched by k-fold CV (one value: no search), on standardised features.
  std::vector<double> alphas = {1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4};
  // logistic: inverse regularisation strengths C (sklearn's meaning), searched by CV on log-loss.
  std::vector<double> Cs = {1e-3, 1e-2, 1e-1, 1, 10};
  int cv_folds = 5;
  bool balanced = false;         // logistic / mlp / attentive: class weights n / (classes * count)
  // mlp / attentive (AstroCLIP's few-shot recipe): Adam, dropout, early stopping on a validation split.
  std::vector<int64_t> hidden = {64, 64};
  double dropout = 0.1, lr = 1e-3, weight_decay = 0, val_fraction = 0.2;
  int64_t batch = 64, max_epochs = 500, patience = 20;
  int64_t tokens = 0, heads = 4;  // attentive: features are [tokens, d / tokens] per row
};

class Probe {
 public:
  virtual ~Probe() = default;
  virtual void fit(const Features& x, const std::vector<double>& y) = 0;
  virtual std::vector<double> predict(const Features& x) const = 0;
  // Regression probes that predict a distribution (kNN: the neighbours'
  // targets): `per` weighted values per object, flat. False when the probe
  // gives point estimates only.
  virtual bool predict_ensemble(const Features&, std::vector<double>*, std::vector<double>*, int64_t*) const { return false; }
  // What was chosen while fitting (regularisation, epochs), for reports.
  virtual nlohmann::json info() const { return nlohmann::json::object(); }
};

// Throws UsageError on an unknown kind, InputError on unusable data (too few
// labels, fewer labelled classes than declared, non-finite features).
std::unique_ptr<Probe> make_probe(const ProbeOptions& o);
std::vector<std::string> probe_kinds();

// Binary logistic regression with a weight per row: scikit-learn's objective
// sum_i w_i log(1 + exp(-s_i (x_i.beta + b))) + |beta|^2 / (2 C), s_i = +-1
// from y01, intercept unpenalised; L-BFGS on the features as given.
struct LinearModel {
  std::vector<double> beta;
  double intercept = 0;
  std::vector<double> decision(const Features& x) const;  // x.beta + b per row
};
LinearModel fit_weighted_logistic(const Features& x, const std::vector<double>& y01, const std::vector<double>& weight, double C);

// Principal components of `fit` (centred, no scaling); project() maps any rows
// onto the first `components`. For probes on raw pixels.
class Pca {
 public:
  void fit(const Features& fit, int64_t components);
  Features project(const Features& x) const;
  double explained_variance_ratio() const { return explained_; }
  // The fitted projection, for saving and restoring a probe.
  const std::vector<float>& mean() const { return mean_; }
  const std::vector<float>& basis() const { return basis_; }  // [components, d]
  int64_t components() const { return k_; }
  int64_t dim() const { return d_; }
  static Pca from(std::vector<float> mean, std::vector<float> basis, int64_t components, int64_t dim);

 private:
  std::vector<float> mean_, basis_;  // basis_ [components, d]
  int64_t k_ = 0, d_ = 0;
  double explained_ = 0;
};

}  // namespace astrofm
