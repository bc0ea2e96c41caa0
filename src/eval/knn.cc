#include "astrofm/knn.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <thread>

#include "astrofm/error.h"

// The BLAS single-precision matrix product (Fortran interface; OpenBLAS).
extern "C" void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha, const float* a,
                       const int* lda, const float* b, const int* ldb, const float* beta, float* c, const int* ldc);

namespace astrofm {
namespace {

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


void Scaler::fit(const Features& x) {
  mean.assign(x.d, 0.0);
  scale.assign(x.d, 0.0);
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t j = 0; j < x.d; ++j) mean[j] += x.x[i * x.d + j];
  for (auto& m : mean) m /= std::max<int64_t>(1, x.n);
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t j = 0; j < x.d; ++j) scale[j] += std::pow(x.x[i * x.d + j] - mean[j], 2);
  for (auto& s : scale) s = s > 0 ? std::sqrt(s / x.n) : 1.0;
}

Features Scaler::transform(const Features& f) const {
  if (mean.empty()) return f;
  Features out = f;
  for (int64_t i = 0; i < f.n; ++i)
    for (int64_t j = 0; j < f.d; ++j) out.x[i * f.d + j] = static_cast<float>((f.x[i * f.d + j] - mean[j]) / scale[j]);
  return out;
}

// Exact k nearest neighbours, fast: float32 squared distances through one
// BLAS matrix product per block (|q|^2 - 2 q.t + |t|^2) pick candidates, and
// every candidate within the product's rounding bound of the k-th is re-ranked
// with the exact double-precision distance; so the result equals a plain
// double-precision scan (ties by index), which is what scikit-learn computes.
void knn_search(const Features& train, const Features& query, int k, std::vector<int64_t>* idx, std::vector<double>* dist) {
  if (query.d != train.d) fail_input("query features have {} dimensions, the training set {}", query.d, train.d);
  if (k <= 0 || k > train.n) fail_usage("k = {} must be in [1, {}] (training rows)", k, train.n);
  idx->assign(query.n * k, 0);
  dist->assign(query.n * k, 0.0);
  const int64_t d = train.d;
  auto sq = [d](const float* v) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += double(v[j]) * v[j];
    return s;
  };
  // Candidates come from centred copies: smaller norms, smaller rounding.
  std::vector<double> mean(d, 0.0);
  for (int64_t t = 0; t < train.n; ++t)
    for (int64_t j = 0; j < d; ++j) mean[j] += train.row(t)[j];
  for (auto& m : mean) m /= train.n;
  auto centred = [&](const Features& f, int64_t lo, int64_t n) {
    std::vector<float> c(n * d);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) c[i * d + j] = static_cast<float>(f.row(lo + i)[j] - mean[j]);
    return c;
  };
  std::vector<float> tc = centred(train, 0, train.n);
  std::vector<float> tnorm(train.n);
  double tmax = 0;
  for (int64_t t = 0; t < train.n; ++t) tnorm[t] = static_cast<float>(sq(&tc[t * d])), tmax = std::max<double>(tmax, tnorm[t]);
  constexpr int64_t kQ = 256, kT = 8192;
  std::vector<float> prod(kQ * kT);
  unsigned nt = std::max(1u, std::thread::hardware_concurrency());
  for (int64_t q0 = 0; q0 < query.n; q0 += kQ) {
    int64_t nq = std::min(kQ, query.n - q0);
    std::vector<std::vector<std::pair<float, int64_t>>> cand(nq);  // (approximate distance, row)
    std::vector<std::vector<float>> best(nq);                       // max-heap of the k smallest approximations
    std::vector<float> qc = centred(query, q0, nq);
    std::vector<double> qnorm(nq);
    for (int64_t i = 0; i < nq; ++i) qnorm[i] = sq(&qc[i * d]);
    // Rounding bound of the float32 expansion, relative to the norms involved.
    auto tolerance = [&](int64_t i) { return 1e-5 * (qnorm[i] + tmax) * std::sqrt(static_cast<double>(d)) + 1e-12; };
    for (int64_t t0 = 0; t0 < train.n; t0 += kT) {
      int64_t ntr = std::min(kT, train.n - t0);
      // prod[i][t] = q_i . t_t  (column-major BLAS: C^T = T * Q^T)
      int m = static_cast<int>(ntr), n = static_cast<int>(nq), kk = static_cast<int>(d);
      float one = 1.f, zero = 0.f;
      sgemm_("T", "N", &m, &n, &kk, &one, &tc[t0 * d], &kk, qc.data(), &kk, &zero, prod.data(), &m);
      auto select = [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          double tol = tolerance(i);
          auto& h = best[i];
          for (int64_t t = 0; t < ntr; ++t) {
            float a = static_cast<float>(qnorm[i]) - 2 * prod[i * ntr + t] + tnorm[t0 + t];
            if (static_cast<int>(h.size()) == k && a > h.front() + tol) continue;
            cand[i].push_back({a, t0 + t});
            if (static_cast<int>(h.size()) < k) {
              h.push_back(a);
              std::push_heap(h.begin(), h.end());
            } else if (a < h.front()) {
              std::pop_heap(h.begin(), h.end());
              h.back() = a;
              std::push_heap(h.begin(), h.end());
            }
          }
          // Drop candidates that can no longer make it, to bound memory.
          if (cand[i].size() > static_cast<size_t>(64 * k + 1024)) {
            float cut = h.front() + static_cast<float>(tol);
            std::erase_if(cand[i], [cut](const auto& c) { return c.first > cut; });
          }
        }
      };
      std::vector<std::thread> pool;
      for (unsigned w = 0; w < nt; ++w) pool.emplace_back(select, nq * w / nt, nq * (w + 1) / nt);
      for (auto& th : pool) th.join();
    }
    auto finish = [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        double tol = tolerance(i);
        float cut = best[i].front() + static_cast<float>(tol);
        std::vector<std::pair<double, int64_t>> exact;
        const float* a = query.row(q0 + i);
        for (const auto& [approx, t] : cand[i]) {
          if (approx > cut) continue;
          const float* b = train.row(t);
          double s = 0;
          for (int64_t j = 0; j < d; ++j) {
            double diff = static_cast<double>(a[j]) - b[j];
            s += diff * diff;
          }
          exact.push_back({s, t});
        }
        std::partial_sort(exact.begin(), exact.begin() + k, exact.end());
        for (int j = 0; j < k; ++j) {
          (*idx)[(q0 + i) * k + j] = exact[j].second;
          (*dist)[(q0 + i) * k + j] = std::sqrt(exact[j].first);
        }
      }
    };
    std::vector<std::thread> pool;
    for (unsigned w = 0; w < nt; ++w) pool.emplace_back(finish, nq * w / nt, nq * (w + 1) / nt);
    for (auto& th : pool) th.join();
  }
}

void KnnRegressor::fit(const Features& x, const std::vector<double>& y) {
  check_finite(x, "training");
  if (static_cast<int64_t>(y.size()) != x.n) fail_input("{} targets for {} training rows", y.size(), x.n);
  for (size_t i = 0; i < y.size(); ++i)
    if (!std::isfinite(y[i])) fail_input("training target of row {} is {}", i, y[i]);
  if (opt_.weights != "uniform" && opt_.weights != "distance") fail_usage("weights must be uniform or distance, got '{}'", opt_.weights);
  scaler_ = {};
  if (opt_.standardize) scaler_.fit(x);
  train_ = scaler_.transform(x);
  y_ = y;
}

std::vector<double> KnnRegressor::predict(const Features& x_in) const {
  check_finite(x_in, "query");
  Features x = scaler_.transform(x_in);
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

void KnnRegressor::neighbours(const Features& x_in, std::vector<double>* values, std::vector<double>* weights) const {
  check_finite(x_in, "query");
  Features x = scaler_.transform(x_in);
  std::vector<int64_t> idx;
  std::vector<double> dist, w;
  knn_search(train_, x, opt_.k, &idx, &dist);
  values->assign(x.n * opt_.k, 0);
  weights->assign(x.n * opt_.k, 0);
  for (int64_t q = 0; q < x.n; ++q) {
    neighbour_weights(opt_.weights, dist, q, opt_.k, &w);
    double den = 0;
    for (int i = 0; i < opt_.k; ++i) den += w[i];
    for (int i = 0; i < opt_.k; ++i) (*values)[q * opt_.k + i] = y_[idx[q * opt_.k + i]], (*weights)[q * opt_.k + i] = w[i] / den;
  }
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
  Features x = reg_.scaler_.transform(x_in);
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
