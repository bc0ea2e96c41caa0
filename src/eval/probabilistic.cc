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

nlohmann::json grid_pdf_metrics(const std::vector<double>& g, const std::vector<double>& density, const std::vector<double>& truth,
                                std::vector<double>* pit_out) {
  const size_t K = g.size(), n = truth.size();
  if (K < 2 || density.size() != n * K) fail_usage("grid PDF metrics: {} densities for {} truths on {} grid points", density.size(), n, K);
  for (size_t k = 1; k < K; ++k)
    if (!(g[k] > g[k - 1])) fail_usage("grid PDF metrics: the grid must increase (at {})", k);
  std::vector<double> pit, cdf(K);
  double crps = 0, in68 = 0, in95 = 0, cde1 = 0, cde2 = 0;
  size_t used = 0;
  for (size_t i = 0; i < n; ++i) {
    const double y = truth[i];
    const double* p = density.data() + i * K;
    if (!std::isfinite(y)) continue;
    cdf[0] = 0;
    for (size_t k = 1; k < K; ++k) cdf[k] = cdf[k - 1] + 0.5 * (g[k] - g[k - 1]) * (p[k] + p[k - 1]);
    const double total = cdf[K - 1];
    if (!(total > 0)) continue;
    ++used;
    double sq = 0;
    for (size_t k = 1; k < K; ++k) sq += 0.5 * (g[k] - g[k - 1]) * (p[k] * p[k] + p[k - 1] * p[k - 1]);
    cde1 += sq / (total * total);
    size_t near = std::lower_bound(g.begin(), g.end(), y) - g.begin();
    if (near == K || (near > 0 && y - g[near - 1] <= g[near] - y)) near = near == 0 ? 0 : near - 1;
    cde2 += p[near] / total;
    // The CDF at y: linear between grid points; 0 below and 1 above the grid.
    auto cdf_at = [&](double z) {
      if (z <= g[0]) return 0.0;
      if (z >= g[K - 1]) return 1.0;
      size_t k = std::upper_bound(g.begin(), g.end(), z) - g.begin() - 1;
      return (cdf[k] + (cdf[k + 1] - cdf[k]) * (z - g[k]) / (g[k + 1] - g[k])) / total;
    };
    const double u = cdf_at(y);
    pit.push_back(u);
    // CRPS over the grid: the CDF is piecewise linear, so each piece's integral of (F - H)^2 is exact.
    double c = 0;
    for (size_t k = 0; k + 1 < K; ++k) {
      double a = cdf[k] / total, b = cdf[k + 1] / total, x0 = g[k], x1 = g[k + 1];
      auto piece = [](double fa, double fb, double h, double step) {  // integral of (F - step)^2, F linear fa..fb over h
        double da = fa - step, db = fb - step;
        return h * (da * da + da * db + db * db) / 3;
      };
      if (y <= x0) c += piece(a, b, x1 - x0, 1);
      else if (y >= x1) c += piece(a, b, x1 - x0, 0);
      else {
        double fy = a + (b - a) * (y - x0) / (x1 - x0);
        c += piece(a, fy, y - x0, 0) + piece(fy, b, x1 - y, 1);
      }
    }
    if (y < g[0]) c += g[0] - y;          // F = 0 below the grid while the step is 1
    crps += c;
    in68 += u >= 0.16 && u <= 0.84;
    in95 += u >= 0.025 && u <= 0.975;
  }
  nlohmann::json j = summary(pit, crps, in68, in95);
  if (!pit.empty()) {
    std::vector<double> s = pit;
    std::sort(s.begin(), s.end());
    const double m = static_cast<double>(s.size());
    double w2 = 1 / (12 * m), out = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      double d = (2.0 * i + 1) / (2 * m) - s[i];
      w2 += d * d;
      out += s[i] < 1e-4 || s[i] > 0.9999;
    }
    j["pit_cvm"] = w2;
    j["pit_outlier_rate"] = out / m;
    j["cde_loss"] = (cde1 - 2 * cde2) / static_cast<double>(used);
  }
  if (pit_out) *pit_out = std::move(pit);
  return j;
}

}  // namespace astrofm
