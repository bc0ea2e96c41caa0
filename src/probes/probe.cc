#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "astrofm/error.h"
#include "probe_internal.h"

namespace astrofm {
namespace detail {

std::vector<int> fold_of(const std::vector<double>& y, bool classification, int folds, uint64_t seed) {
  std::vector<int64_t> order(y.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed + 12345));
  // Stratify: deal each class's rows round-robin over the folds.
  if (classification) std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return y[a] < y[b]; });
  std::vector<int> f(y.size());
  for (size_t r = 0; r < order.size(); ++r) f[order[r]] = static_cast<int>(r % folds);
  return f;
}

}  // namespace detail

namespace {

class KnnProbe : public Probe {
 public:
  explicit KnnProbe(const ProbeOptions& o) : o_(o), reg_(o.knn), cls_(o.knn) {}
  void fit(const Features& x, const std::vector<double>& y) override {
    check_finite(x, "training");
    if (x.n < o_.knn.k) fail_input("kNN with k = {} needs at least {} labelled objects, have {}", o_.knn.k, o_.knn.k, x.n);
    if (o_.classification) cls_.fit(x, std::vector<int64_t>(y.begin(), y.end()));
    else reg_.fit(x, y);
  }
  std::vector<double> predict(const Features& x) const override {
    check_finite(x, "test");
    if (!o_.classification) return reg_.predict(x);
    auto p = cls_.predict(x);
    return {p.begin(), p.end()};
  }
  bool predict_ensemble(const Features& x, std::vector<double>* values, std::vector<double>* weights, int64_t* per) const override {
    if (o_.classification) return false;
    check_finite(x, "test");
    reg_.neighbours(x, values, weights);
    *per = reg_.k();
    return true;
  }
  nlohmann::json info() const override {
    return {{"k", o_.knn.k}, {"weights", o_.knn.weights}, {"standardize", o_.knn.standardize}};
  }

 private:
  ProbeOptions o_;
  KnnRegressor reg_;
  KnnClassifier cls_;
};

}  // namespace

std::vector<std::string> probe_kinds() { return {"knn", "ridge", "logistic", "mlp", "attentive"}; }

std::unique_ptr<Probe> make_probe(const ProbeOptions& o) {
  if (o.classification && o.classes < 2) fail_input("classification needs at least 2 classes, the labels have {}", o.classes);
  if (o.kind == "knn") return std::make_unique<KnnProbe>(o);
  if (o.kind == "ridge") {
    if (o.classification) fail_usage("ridge is a regression probe; use logistic for classes");
    return detail::make_ridge(o);
  }
  if (o.kind == "logistic") {
    if (!o.classification) fail_usage("logistic is a classification probe; use ridge for a continuous target");
    return detail::make_logistic(o);
  }
  if (o.kind == "mlp" || o.kind == "attentive") return detail::make_mlp(o);
  fail_usage("unknown probe '{}' (knn, ridge, logistic, mlp or attentive)", o.kind);
}

}  // namespace astrofm
