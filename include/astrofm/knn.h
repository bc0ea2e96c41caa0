#pragma once
// k-nearest-neighbour probes on frozen features (sklearn-like fit/predict):
// brute-force Euclidean search, uniform or inverse-distance weights, optional
// standardisation with the training set's mean and std. Predictions match
// sklearn's KNeighborsRegressor / KNeighborsClassifier (algorithm="brute").
// Thread-safety: fit() mutates; predict() is const and safe to call concurrently on a fitted
// probe.
#include <cstdint>
#include <string>
#include <vector>

#include "astrofm/features.h"

namespace astrofm {

struct KnnOptions {
  int k = 5;
  std::string weights = "uniform";  // uniform | distance
  bool standardize = false;         // z-score features with the training mean / std
};

// Standardisation with the training mean and population std, as
// scikit-learn's StandardScaler (a zero std counts as 1). Unfitted: identity.
struct Scaler {
  std::vector<double> mean, scale;
  void fit(const Features& x);
  Features transform(const Features& x) const;
};

class KnnRegressor {
 public:
  explicit KnnRegressor(KnnOptions o = {}) : opt_(o) {}
  void fit(const Features& x, const std::vector<double>& y);
  std::vector<double> predict(const Features& x) const;
  // The predictive distribution: each query's k neighbours' targets and their
  // weights (summing to 1), flat [n * k], nearest first.
  void neighbours(const Features& x, std::vector<double>* values, std::vector<double>* weights) const;
  int64_t k() const { return opt_.k; }

 private:
  KnnOptions opt_;
  Features train_;
  std::vector<double> y_;
  Scaler scaler_;
  friend class KnnClassifier;
};

class KnnClassifier {
 public:
  explicit KnnClassifier(KnnOptions o = {}) : reg_(o) {}
  void fit(const Features& x, const std::vector<int64_t>& labels);
  std::vector<int64_t> predict(const Features& x) const;

 private:
  KnnRegressor reg_;  // holds the training set and the search
  std::vector<int64_t> classes_, label_index_;
};

// The k nearest training rows of each query row (ascending distance, ties by index).
void knn_search(const Features& train, const Features& query, int k, std::vector<int64_t>* idx, std::vector<double>* dist);

}  // namespace astrofm
