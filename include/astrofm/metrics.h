#pragma once
// Metrics astronomers report for probes. Regression (photo-z conventions:
// dz = (pred - true) / (1 + true)): R^2, RMSE, bias = median(dz),
// sigma_NMAD = 1.4826 * median(|dz - median(dz)|), outlier fractions
// eta = fraction with |dz| > 0.05 and > 0.15. Classification: accuracy,
// macro-F1, per-class F1, confusion matrix [true][pred].
// Thread-safety: pure functions.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm {

struct RegressionMetrics {
  int64_t n = 0;
  double r2 = 0, rmse = 0, bias = 0, sigma_nmad = 0, eta_005 = 0, eta_015 = 0;
  nlohmann::json to_json() const;
};

struct ClassificationMetrics {
  int64_t n = 0;
  double accuracy = 0, macro_f1 = 0;
  std::vector<double> f1;                       // per class
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  nlohmann::json to_json(const std::vector<std::string>& class_names = {}) const;
};

RegressionMetrics regression_metrics(const std::vector<double>& truth, const std::vector<double>& pred);
// Labels are class indices 0..classes-1.
ClassificationMetrics classification_metrics(const std::vector<int64_t>& truth, const std::vector<int64_t>& pred, int64_t classes);

// Mean and sample standard deviation (0 for one value).
std::pair<double, double> mean_std(const std::vector<double>& v);

// Probabilistic predictions: per-object probabilities over shared, increasing
// bin values (a codec's bins). PIT = P(below the truth) + half the truth's bin;
// its KS distance from uniform; CRPS = sum over bins of (CDF - step at the
// truth)^2 x bin width; coverage of the central 68% and 95% intervals; the
// PIT histogram (10 bins). Objects with a non-finite truth are skipped.
nlohmann::json probabilistic_metrics(const std::vector<std::vector<double>>& pdf, const std::vector<double>& bin_values,
                                     const std::vector<double>& truth, std::vector<double>* pit = nullptr);
// The same metrics for weighted ensembles (a kNN probe's neighbours): `per`
// values and weights per object, flat; CRPS = E|X - y| - E|X - X'| / 2.
nlohmann::json ensemble_metrics(const std::vector<double>& values, const std::vector<double>& weights, int64_t per,
                                const std::vector<double>& truth, std::vector<double>* pit = nullptr);

// Densities on a shared grid (qp's interp ensembles, RAIL's PDFs): `density`
// is [n, K] row-major; each row is normalised by the trapezoid rule and its
// CDF is interpolated linearly between grid points, as qp does. Adds to the
// above: PIT Cramer-von Mises (scipy's statistic), the PIT outlier rate
// (the fraction of PITs below 1e-4 or above 0.9999; qp reads the same limits
// off a quantile fit of the PITs, which differs in small samples), the CDE loss (Izbicki & Lee 2017, as
// RAIL computes it: the mean of the integral of p^2 minus twice the mean
// density at the grid point nearest the truth). CRPS integrates the squared
// difference of the CDF and the truth's step over the grid.
nlohmann::json grid_pdf_metrics(const std::vector<double>& grid, const std::vector<double>& density, const std::vector<double>& truth,
                                std::vector<double>* pit = nullptr);

}  // namespace astrofm
