#include "astrofm/knn.h"

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "astrofm/error.h"
#include "testutil.h"

namespace astrofm {
namespace {

Features random_features(int64_t n, int64_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 1);
  Features f{n, d, std::vector<float>(n * d)};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) f.x[i * d + j] = g(rng) * (1 + j) + static_cast<float>(i % 3) * 2;  // 3 clusters, uneven scales
  return f;
}

void write(const std::string& path, const Features& f) {
  std::ofstream out(path);
  out.precision(9);
  for (int64_t i = 0; i < f.n; ++i) {
    for (int64_t j = 0; j < f.d; ++j) out << (j ? " " : "") << f.x[i * f.d + j];
    out << "\n";
  }
}

// Independent reference: scikit-learn's KNeighborsRegressor/Classifier (Debian's python3-sklearn).
TEST(Knn, IdenticalToSklearn) {
  ASTROFM_REQUIRE_PYTHON("sklearn numpy");
  test::TempDir tmp;
  Features tr = random_features(800, 6, 1), te = random_features(200, 6, 2);
  std::vector<double> y(tr.n);
  std::vector<int64_t> lab(tr.n);
  for (int64_t i = 0; i < tr.n; ++i) {
    y[i] = std::sin(tr.x[i * 6]) + 0.1 * tr.x[i * 6 + 1];
    lab[i] = (i % 3) * 10 + (tr.x[i * 6 + 2] > 0);
  }
  write(tmp.path("tr.txt"), tr);
  write(tmp.path("te.txt"), te);
  {
    std::ofstream o(tmp.path("y.txt"));
    o.precision(17);
    for (int64_t i = 0; i < tr.n; ++i) o << y[i] << " " << lab[i] << "\n";
  }
  std::string out = test::run_python(R"(
import sys, numpy as np
from sklearn.neighbors import KNeighborsRegressor, KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
d = sys.argv[1]
tr = np.loadtxt(d + "/tr.txt", dtype=np.float32).astype(np.float64); te = np.loadtxt(d + "/te.txt", dtype=np.float32).astype(np.float64)
yl = np.loadtxt(d + "/y.txt"); y, lab = yl[:, 0], yl[:, 1].astype(int)
for std in (False, True):
    a, b = (tr, te)
    if std:
        s = StandardScaler().fit(tr); a, b = s.transform(tr), s.transform(te)
    for w in ("uniform", "distance"):
        r = KNeighborsRegressor(n_neighbors=7, weights=w, algorithm="brute").fit(a, y).predict(b)
        c = KNeighborsClassifier(n_neighbors=7, weights=w, algorithm="brute").fit(a, lab).predict(b)
        print(" ".join(f"{v:.12g}" for v in r))
        print(" ".join(str(v) for v in c))
)", tmp.path());
  std::istringstream ss(out);
  for (bool std : {false, true})
    for (const char* w : {"uniform", "distance"}) {
      KnnOptions o{7, w, std};
      KnnRegressor reg(o);
      reg.fit(tr, y);
      KnnClassifier cls(o);
      cls.fit(tr, lab);
      auto pr = reg.predict(te);
      auto pc = cls.predict(te);
      int reg_diff = 0, cls_diff = 0;
      for (int64_t i = 0; i < te.n; ++i) {
        double want;
        ss >> want;
        reg_diff += std::abs(pr[i] - want) > 1e-6 * std::max(1.0, std::abs(want));
      }
      for (int64_t i = 0; i < te.n; ++i) {
        int64_t want;
        ss >> want;
        cls_diff += pc[i] != want;
      }
      EXPECT_EQ(reg_diff, 0) << w << " standardize=" << std;
      EXPECT_EQ(cls_diff, 0) << w << " standardize=" << std;
    }
}

TEST(Knn, ExactMatchTakesAllTheWeightWithDistanceWeights) {
  Features tr{3, 1, {0.f, 1.f, 2.f}};
  KnnRegressor r({2, "distance", false});
  r.fit(tr, {10, 20, 30});
  Features q{1, 1, {1.f}};
  EXPECT_DOUBLE_EQ(r.predict(q)[0], 20.0);
}

TEST(Knn, BadInputsAreClearErrors) {
  Features tr = random_features(10, 3, 3);
  KnnRegressor r({20, "uniform", false});
  r.fit(tr, std::vector<double>(10, 1.0));
  EXPECT_THROW(r.predict(random_features(2, 3, 4)), UsageError);  // k > n
  KnnRegressor ok({3, "uniform", false});
  ok.fit(tr, std::vector<double>(10, 1.0));
  EXPECT_THROW(ok.predict(random_features(2, 4, 4)), InputError);  // other dimension
  Features bad = tr;
  bad.x[5] = NAN;
  EXPECT_THROW(ok.fit(bad, std::vector<double>(10, 1.0)), InputError);
  EXPECT_THROW(ok.fit(tr, std::vector<double>(9, 1.0)), InputError);
  KnnRegressor w({3, "gaussian", false});
  EXPECT_THROW(w.fit(tr, std::vector<double>(10, 1.0)), UsageError);
}

}  // namespace
}  // namespace astrofm
