// Probabilistic metrics of binned predictive distributions (metrics.h).
#include <algorithm>
#include <cmath>

#include "astrofm/error.h"
#include "astrofm/metrics.h"

namespace astrofm {
namespace {

// KS distance of the PITs from uniform, their 10-bin histogram, the means.
nlohmann::json summary(const std::vector<double>& pit, double crps, double in68, double in95) {
  const double n = static_cast<double>(pit.size());
  nlohmann::json j = {{"objects", pit.size()}};
  if (pit.empty()) return j;
  std::vector<double> sorted = pit;
  std::sort(sorted.begin(), sorted.end());
  double ks = 0;
  for (size_t i = 0; i < sorted.size(); ++i) ks = std::max({ks, std::abs((i + 1) / n - sorted[i]), std::abs(sorted[i] - i / n)});
  std::vector<int64_t> hist(10, 0);
  for (double x : pit) ++hist[std::min<size_t>(9, static_cast<size_t>(x * 10))];
  j["pit_ks"] = ks;
  j["pit_histogram"] = hist;
  j["crps"] = crps / n;
  j["coverage_68"] = in68 / n;
  j["coverage_95"] = in95 / n;
  return j;
}

}  // namespace

nlohmann::json probabilistic_metrics(const std::vector<std::vector<double>>& pdf, const std::vector<double>& v,
                                     const std::vector<double>& truth, std::vector<double>* pit_out) {
  if (pdf.size() != truth.size()) fail_usage("probabilistic metrics: {} distributions for {} truths", pdf.size(), truth.size());
  const size_t K = v.size();
  // Bin widths: half the distance to each neighbour.
  std::vector<double> w(K, 0);
  for (size_t k = 0; k < K; ++k) w[k] = 0.5 * ((k + 1 < K ? v[k + 1] : v[k]) - (k > 0 ? v[k - 1] : v[k]));
  std::vector<double> pit;
  double crps = 0, in68 = 0, in95 = 0;
  for (size_t i = 0; i < pdf.size(); ++i) {
    if (!std::isfinite(truth[i]) || pdf[i].size() != K) continue;
    const auto& p = pdf[i];
    double s = 0;
    for (double x : p) s += x;
    if (!(s > 0)) continue;
    size_t t = std::lower_bound(v.begin(), v.end(), truth[i]) - v.begin();
    if (t >= K) t = K - 1;
    double cdf = 0, below = 0, c = 0;
    double q[4] = {0.025, 0.16, 0.84, 0.975}, qv[4] = {v.back(), v.back(), v.back(), v.back()};
    int qi = 0;
    for (size_t k = 0; k < K; ++k) {
      double pk = p[k] / s;
      if (k < t) below += pk;
      cdf += pk;
      while (qi < 4 && cdf >= q[qi]) qv[qi++] = v[k];
      double step = v[k] >= truth[i] ? 1.0 : 0.0;
      c += (cdf - step) * (cdf - step) * w[k];
    }
    pit.push_back(below + 0.5 * p[t] / s);
    crps += c;
    in68 += truth[i] >= qv[1] && truth[i] <= qv[2];
    in95 += truth[i] >= qv[0] && truth[i] <= qv[3];
  }
  if (pit_out) *pit_out = pit;
  return summary(pit, crps, in68, in95);
}

nlohmann::json ensemble_metrics(const std::vector<double>& values, const std::vector<double>& weights, int64_t per,
                                const std::vector<double>& truth, std::vector<double>* pit_out) {
  if (per <= 0 || values.size() != truth.size() * per || weights.size() != values.size())
    fail_usage("ensemble metrics: {} values and {} weights for {} truths of {} members", values.size(), weights.size(), truth.size(), per);
  std::vector<double> pit;
  double crps = 0, in68 = 0, in95 = 0;
  std::vector<std::pair<double, double>> m(per);
  for (size_t i = 0; i < truth.size(); ++i) {
    const double y = truth[i];
    if (!std::isfinite(y)) continue;
    double s = 0;
    for (int64_t k = 0; k < per; ++k) m[k] = {values[i * per + k], weights[i * per + k]}, s += m[k].second;
    if (!(s > 0)) continue;
    std::sort(m.begin(), m.end());
    // PIT: weight below the truth plus half the weight at it; CRPS of a
    // weighted ensemble: E|X - y| - E|X - X'| / 2 (Gneiting & Raftery 2007).
    double below = 0, at = 0, e1 = 0, e2 = 0, cdf = 0;
    double q[4] = {0.025, 0.16, 0.84, 0.975}, qv[4] = {m.back().first, m.back().first, m.back().first, m.back().first};
    int qi = 0;
    for (int64_t k = 0; k < per; ++k) {
      const double w = m[k].second / s;
      below += m[k].first < y ? w : 0;
      at += m[k].first == y ? w : 0;
      e1 += w * std::abs(m[k].first - y);
      for (int64_t l = 0; l < per; ++l) e2 += w * (m[l].second / s) * std::abs(m[k].first - m[l].first);
      cdf += w;
      while (qi < 4 && cdf >= q[qi] - 1e-12) qv[qi++] = m[k].first;
    }
    pit.push_back(below + 0.5 * at);
    crps += e1 - 0.5 * e2;
    in68 += y >= qv[1] && y <= qv[2];
    in95 += y >= qv[0] && y <= qv[3];
  }
  if (pit_out) *pit_out = pit;
  return summary(pit, crps, in68, in95);
}

}  // namespace astrofm
