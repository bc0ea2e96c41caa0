#include "astrofm/metrics.h"

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "astrofm/error.h"
#include "testutil.h"

namespace astrofm {
namespace {

TEST(Metrics, MatchSklearnAndTheNmadDefinition) {
  ASTROFM_REQUIRE_PYTHON("sklearn numpy");
  test::TempDir tmp;
  std::mt19937_64 rng(1);
  std::normal_distribution<double> g(0, 1);
  std::vector<double> t, p;
  std::vector<int64_t> ct, cp;
  {
    std::ofstream o(tmp.path("v.txt"));
    o.precision(17);
    for (int i = 0; i < 501; ++i) {
      double z = 0.1 + 0.6 * (i % 97) / 97.0, e = 0.03 * g(rng) * (1 + z) + (i % 50 == 0 ? 0.3 : 0.0);
      t.push_back(z), p.push_back(z + e);
      ct.push_back(i % 4), cp.push_back(i % 7 == 0 ? (i + 1) % 4 : i % 4 == 3 && i % 3 == 0 ? 0 : i % 4);
      o << t.back() << " " << p.back() << " " << ct.back() << " " << cp.back() << "\n";
    }
  }
  std::string out = test::run_python(R"(
import sys, numpy as np
from sklearn.metrics import r2_score, mean_squared_error, f1_score, accuracy_score, confusion_matrix
v = np.loadtxt(sys.argv[1] + "/v.txt"); t, p, ct, cp = v[:, 0], v[:, 1], v[:, 2].astype(int), v[:, 3].astype(int)
dz = (p - t) / (1 + t)
print(r2_score(t, p), mean_squared_error(t, p) ** 0.5, np.median(dz), 1.4826 * np.median(np.abs(dz - np.median(dz))),
      np.mean(np.abs(dz) > 0.05), np.mean(np.abs(dz) > 0.15), accuracy_score(ct, cp), f1_score(ct, cp, average="macro"))
print(" ".join(str(x) for x in f1_score(ct, cp, average=None)))
print(" ".join(str(x) for x in confusion_matrix(ct, cp).ravel()))
)", tmp.path());
  std::istringstream ss(out);
  auto r = regression_metrics(t, p);
  auto c = classification_metrics(ct, cp, 4);
  double want;
  for (double got : {r.r2, r.rmse, r.bias, r.sigma_nmad, r.eta_005, r.eta_015, c.accuracy, c.macro_f1}) {
    ss >> want;
    EXPECT_NEAR(got, want, 1e-12);
  }
  for (double got : c.f1) {
    ss >> want;
    EXPECT_NEAR(got, want, 1e-12);
  }
  for (auto& row : c.confusion)
    for (int64_t got : row) {
      ss >> want;
      EXPECT_EQ(got, static_cast<int64_t>(want));
    }
}

TEST(Metrics, AbsentClassScoresZeroAndSizesMustAgree) {
  auto c = classification_metrics({0, 0, 1, 1}, {0, 0, 1, 0}, 3);
  EXPECT_DOUBLE_EQ(c.f1[2], 0.0);
  EXPECT_NEAR(c.macro_f1, (1.0 / 1.0 * 0.8 + 2.0 / 3.0) / 3, 1e-12);
  EXPECT_THROW(regression_metrics({1, 2}, {1}), UsageError);
  EXPECT_THROW(classification_metrics({0, 3}, {0, 1}, 3), UsageError);
}

}  // namespace
}  // namespace astrofm

namespace astrofm {
namespace {

// Gaussian predictive distributions on a shared grid; truths drawn from them
// (calibrated) or from a wider one (overconfident predictions).
nlohmann::json gaussian_case(double truth_sigma, std::vector<double>* pit = nullptr) {
  std::vector<double> bins;
  for (int k = 0; k < 401; ++k) bins.push_back(-4 + 0.02 * k);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> mu_d(0, 0.5), noise(0, 1);
  std::vector<std::vector<double>> pdf;
  std::vector<double> truth;
  for (int i = 0; i < 3000; ++i) {
    double mu = mu_d(rng), sigma = 0.3;
    std::vector<double> p(bins.size());
    for (size_t k = 0; k < bins.size(); ++k) p[k] = std::exp(-0.5 * std::pow((bins[k] - mu) / sigma, 2));
    pdf.push_back(p);
    truth.push_back(mu + truth_sigma * noise(rng));
  }
  return probabilistic_metrics(pdf, bins, truth, pit);
}

TEST(ProbabilisticMetrics, CalibratedGaussiansGiveUniformPitNominalCoverageAndTheirCrps) {
  std::vector<double> pit;
  auto j = gaussian_case(0.3, &pit);
  EXPECT_EQ(j["objects"], 3000);
  EXPECT_LT(j["pit_ks"].get<double>(), 0.03);
  EXPECT_NEAR(j["coverage_68"].get<double>(), 0.68, 0.03);
  EXPECT_NEAR(j["coverage_95"].get<double>(), 0.95, 0.015);
  // E[CRPS] of N(mu, s) against draws from itself is s / sqrt(pi).
  EXPECT_NEAR(j["crps"].get<double>(), 0.3 / std::sqrt(M_PI), 0.01);
  ASSERT_EQ(pit.size(), 3000u);
  auto over = gaussian_case(0.6);  // truths twice as spread as predicted
  EXPECT_GT(over["pit_ks"].get<double>(), 0.1);
  EXPECT_LT(over["coverage_68"].get<double>(), 0.45);
  EXPECT_GT(over["crps"].get<double>(), j["crps"].get<double>());
}

TEST(ProbabilisticMetrics, WeightedEnsemblesHaveTheirClosedFormCrpsAndPit) {
  // One member: CRPS is the absolute error; PIT 0 or 1 (or 1/2 at the truth).
  auto one = ensemble_metrics({0.3, 0.5, 0.9}, {1, 1, 1}, 1, {0.5, 0.2, 0.9});
  EXPECT_NEAR(one["crps"].get<double>(), (0.2 + 0.3 + 0) / 3, 1e-12);
  // Two members at 0 and 1 with weights 1/4, 3/4, truth 0.5: E|X-y| = 0.5,
  // E|X-X'| = 2 * 1/4 * 3/4 = 3/8, CRPS = 0.5 - 3/16; PIT = 1/4 (unnormalised weights).
  std::vector<double> pit;
  auto two = ensemble_metrics({1, 0}, {3, 1}, 2, {0.5}, &pit);
  EXPECT_NEAR(two["crps"].get<double>(), 0.5 - 3.0 / 16, 1e-12);
  ASSERT_EQ(pit.size(), 1u);
  EXPECT_NEAR(pit[0], 0.25, 1e-12);
  // Ensembles drawn from the truth's own distribution: uniform PITs, nominal coverage.
  std::mt19937 rng(5);
  std::normal_distribution<double> g(0, 1);
  const int n = 2000, per = 64;
  std::vector<double> v, w(n * per, 1.0), truth;
  for (int i = 0; i < n; ++i) {
    double mu = g(rng);
    for (int k = 0; k < per; ++k) v.push_back(mu + 0.2 * g(rng));
    truth.push_back(mu + 0.2 * g(rng));
  }
  auto cal = ensemble_metrics(v, w, per, truth);
  EXPECT_LT(cal["pit_ks"].get<double>(), 0.04);
  EXPECT_NEAR(cal["coverage_68"].get<double>(), 0.68, 0.04);
  EXPECT_NEAR(cal["crps"].get<double>(), 0.2 / std::sqrt(M_PI), 0.01);
  EXPECT_THROW(ensemble_metrics({1, 2}, {1}, 2, {0.5}), UsageError);
}

}  // namespace
}  // namespace astrofm
