#include "astrofm/metrics.h"

#include <algorithm>
#include <cmath>

#include "astrofm/error.h"

namespace astrofm {
namespace {

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  double hi = v[m];
  if (v.size() % 2) return hi;
  return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + m));
}

}  // namespace

nlohmann::json RegressionMetrics::to_json() const {
  return {{"n", n}, {"r2", r2}, {"rmse", rmse}, {"bias", bias}, {"sigma_nmad", sigma_nmad}, {"eta_0.05", eta_005}, {"eta_0.15", eta_015}};
}

nlohmann::json ClassificationMetrics::to_json(const std::vector<std::string>& names) const {
  nlohmann::json per = nlohmann::json::object();
  for (size_t k = 0; k < f1.size(); ++k) per[k < names.size() ? names[k] : std::to_string(k)] = f1[k];
  return {{"n", n}, {"accuracy", accuracy}, {"macro_f1", macro_f1}, {"f1", per}, {"confusion", confusion},
          {"classes", names}};
}

RegressionMetrics regression_metrics(const std::vector<double>& t, const std::vector<double>& p) {
  if (t.size() != p.size()) fail_usage("regression_metrics: {} truths but {} predictions", t.size(), p.size());
  RegressionMetrics m;
  m.n = static_cast<int64_t>(t.size());
  if (t.empty()) return m;
  double mean = 0;
  for (double v : t) mean += v;
  mean /= t.size();
  double ss_res = 0, ss_tot = 0;
  std::vector<double> dz(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    ss_res += (p[i] - t[i]) * (p[i] - t[i]);
    ss_tot += (t[i] - mean) * (t[i] - mean);
    dz[i] = (p[i] - t[i]) / (1.0 + t[i]);
    m.eta_005 += std::abs(dz[i]) > 0.05;
    m.eta_015 += std::abs(dz[i]) > 0.15;
  }
  m.r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : NAN;
  m.rmse = std::sqrt(ss_res / t.size());
  m.eta_005 /= t.size();
  m.eta_015 /= t.size();
  m.bias = median(dz);
  std::vector<double> dev(dz.size());
  for (size_t i = 0; i < dz.size(); ++i) dev[i] = std::abs(dz[i] - m.bias);
  m.sigma_nmad = 1.4826 * median(dev);
  return m;
}

ClassificationMetrics classification_metrics(const std::vector<int64_t>& t, const std::vector<int64_t>& p, int64_t classes) {
  if (t.size() != p.size()) fail_usage("classification_metrics: {} truths but {} predictions", t.size(), p.size());
  ClassificationMetrics m;
  m.n = static_cast<int64_t>(t.size());
  m.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  int64_t right = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] < 0 || t[i] >= classes || p[i] < 0 || p[i] >= classes)
      fail_usage("classification_metrics: label {} / prediction {} outside 0..{}", t[i], p[i], classes - 1);
    ++m.confusion[t[i]][p[i]];
    right += t[i] == p[i];
  }
  m.accuracy = t.empty() ? NAN : static_cast<double>(right) / t.size();
  // As sklearn f1_score(average="macro"): a class with no true positives scores 0.
  for (int64_t k = 0; k < classes; ++k) {
    int64_t tp = m.confusion[k][k], fp = 0, fn = 0;
    for (int64_t j = 0; j < classes; ++j)
      if (j != k) fp += m.confusion[j][k], fn += m.confusion[k][j];
    m.f1.push_back(tp == 0 ? 0.0 : 2.0 * tp / (2.0 * tp + fp + fn));
  }
  double s = 0;
  for (double f : m.f1) s += f;
  m.macro_f1 = classes ? s / classes : NAN;
  return m;
}

std::pair<double, double> mean_std(const std::vector<double>& v) {
  if (v.empty()) return {NAN, NAN};
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) s += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(s / (v.size() - 1)) : 0.0};
}

}  // namespace astrofm
