#include "astrofm/knn.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <thread>

#include "astrofm/error.h"

namespace astrofm {
namespace {

void check_finite(const Features& f, const char* what) {
  if (static_cast<int64_t>(f.x.size()) != f.n * f.d) fail_input("{} features: {} values for {} x {}", what, f.x.size(), f.n, f.d);
  for (int64_t i = 0; i < f.n * f.d; ++i)
    if (!std::isfinite(f.x[i])) fail_input("{} features: row {} column {} is {}", what, i / f.d, i % f.d, f.x[i]);
}

Features scaled(const Features& f, const std::vector<double>& mean, const std::vector<double>& scale) {
  if (mean.empty()) return f;
  Features out = f;
  for (int64_t i = 0; i < f.n; ++i)
    for (int64_t j = 0; j < f.d; ++j) out.x[i * f.d + j] = static_cast<float>((f.x[i * f.d + j] - mean[j]) / scale[j]);
  return out;
}

// Weights of query q's k neighbours: uniform, or inverse distance where a
// zero distance takes all the weight (sklearn's rule).
void neighbour_weights(const std::string& scheme, const std::vector<double>& dist, int64_t q, int k, std::vector<double>* w) {
  w->assign(k, 1.0);
  if (scheme == "uniform") return;
  bool exact = false;
  for (int i = 0; i < k; ++i) exact |= dist[q * k + i] == 0;
  for (int i = 0; i < k; ++i) {
    double d = dist[q * k + i];
    (*w)[i] = exact ? (d == 0 ? 1.0 : 0.0) : 1.0 / d;
  }
}

}  // namespace

void knn_search(const Features& train, const Features& query, int k, std::vector<int64_t>* idx, std::vector<double>* dist) {
  if (query.d != train.d) fail_input("query features have {} dimensions, the training set {}", query.d, train.d);
  if (k <= 0 || k > train.n) fail_usage("k = {} must be in [1, {}] (training rows)", k, train.n);
  idx->assign(query.n * k, 0);
  dist->assign(query.n * k, 0.0);
  auto work = [&](int64_t lo, int64_t hi) {
    std::vector<std::pair<double, int64_t>> d(train.n);
    for (int64_t q = lo; q < hi; ++q) {
      const float* a = query.row(q);
      for (int64_t t = 0; t < train.n; ++t) {
        const float* b = train.row(t);
        double s = 0;
        for (int64_t j = 0; j < train.d; ++j) {
          double diff = static_cast<double>(a[j]) - b[j];
          s += diff * diff;
        }
        d[t] = {s, t};
      }
      std::partial_sort(d.begin(), d.begin() + k, d.end());
      for (int i = 0; i < k; ++i) {
        (*idx)[q * k + i] = d[i].second;
        (*dist)[q * k + i] = std::sqrt(d[i].first);
      }
    }
  };
  unsigned nt = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < nt; ++t) pool.emplace_back(work, query.n * t / nt, query.n * (t + 1) / nt);
  for (auto& t : pool) t.join();
}

void KnnRegressor::fit(const Features& x, const std::vector<double>& y) {
  check_finite(x, "training");
  if (static_cast<int64_t>(y.size()) != x.n) fail_input("{} targets for {} training rows", y.size(), x.n);
  for (size_t i = 0; i < y.size(); ++i)
    if (!std::isfinite(y[i])) fail_input("training target of row {} is {}", i, y[i]);
  if (opt_.weights != "uniform" && opt_.weights != "distance") fail_usage("weights must be uniform or distance, got '{}'", opt_.weights);
  mean_.clear();
  scale_.clear();
  if (opt_.standardize) {
    mean_.assign(x.d, 0.0);
    scale_.assign(x.d, 0.0);
    for (int64_t i = 0; i < x.n; ++i)
      for (int64_t j = 0; j < x.d; ++j) mean_[j] += x.x[i * x.d + j];
    for (auto& m : mean_) m /= x.n;
    for (int64_t i = 0; i < x.n; ++i)
      for (int64_t j = 0; j < x.d; ++j) scale_[j] += std::pow(x.x[i * x.d + j] - mean_[j], 2);
    for (auto& s : scale_) s = s > 0 ? std::sqrt(s / x.n) : 1.0;  // population std, as StandardScaler
  }
  train_ = scaled(x, mean_, scale_);
  y_ = y;
}

std::vector<double> KnnRegressor::predict(const Features& x_in) const {
  check_finite(x_in, "query");
  Features x = scaled(x_in, mean_, scale_);
  std::vector<int64_t> idx;
  std::vector<double> dist;
  knn_search(train_, x, opt_.k, &idx, &dist);
  std::vector<double> out(x.n), w;
  for (int64_t q = 0; q < x.n; ++q) {
    neighbour_weights(opt_.weights, dist, q, opt_.k, &w);
    double num = 0, den = 0;
    for (int i = 0; i < opt_.k; ++i) {
      num += w[i] * y_[idx[q * opt_.k + i]];
      den += w[i];
    }
    out[q] = num / den;
  }
  return out;
}

void KnnClassifier::fit(const Features& x, const std::vector<int64_t>& labels) {
  std::map<int64_t, int64_t> index;
  for (auto l : labels) index[l] = 0;
  classes_.clear();
  for (auto& [l, i] : index) {
    i = static_cast<int64_t>(classes_.size());
    classes_.push_back(l);
  }
  label_index_.clear();
  std::vector<double> dummy;
  for (auto l : labels) {
    label_index_.push_back(index[l]);
    dummy.push_back(static_cast<double>(index[l]));
  }
  reg_.fit(x, dummy);
}

std::vector<int64_t> KnnClassifier::predict(const Features& x_in) const {
  check_finite(x_in, "query");
  Features x = scaled(x_in, reg_.mean_, reg_.scale_);
  std::vector<int64_t> idx;
  std::vector<double> dist;
  int k = reg_.opt_.k;
  knn_search(reg_.train_, x, k, &idx, &dist);
  std::vector<int64_t> out(x.n);
  std::vector<double> votes(classes_.size()), w;
  for (int64_t q = 0; q < x.n; ++q) {
    std::fill(votes.begin(), votes.end(), 0.0);
    neighbour_weights(reg_.opt_.weights, dist, q, k, &w);
    for (int i = 0; i < k; ++i) votes[label_index_[idx[q * k + i]]] += w[i];
    // Ties go to the smallest label, as numpy's argmax in sklearn.
    out[q] = classes_[std::max_element(votes.begin(), votes.end()) - votes.begin()];
  }
  return out;
}

}  // namespace astrofm
