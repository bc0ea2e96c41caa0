#include <filesystem>
#include <unistd.h>
#include "astrofm/probe.h"
#include "astrofm/saved_probe.h"

#include <cmath>
#include <fstream>
#include <iomanip>
#include <span>
#include <random>
#include <sstream>

#include "astrofm/error.h"
#include "astrofm/metrics.h"
#include "testutil.h"

namespace astrofm {
namespace {

// Three clusters with uneven scales; a linear target plus a non-linear part.
Features features(int64_t n, int64_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 1);
  Features f{n, d, std::vector<float>(n * d)};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) f.x[i * d + j] = g(rng) * (1 + j) + static_cast<float>(i % 3) * 2;
  return f;
}

double target(const Features& f, int64_t i) { return 0.7 * f.row(i)[0] - 0.2 * f.row(i)[1] + std::sin(f.row(i)[2]); }
int64_t klass(const Features& f, int64_t i) { return (f.row(i)[0] > 2) + (f.row(i)[1] + f.row(i)[3] > 3); }

void write(const std::string& path, const Features& f, const std::vector<double>& y) {
  std::ofstream out(path);
  out.precision(9);
  for (int64_t i = 0; i < f.n; ++i) {
    for (int64_t j = 0; j < f.d; ++j) out << f.x[i * f.d + j] << " ";
    out << std::setprecision(17) << y[i] << std::setprecision(9) << "\n";
  }
}

// Independent references: scikit-learn's Ridge and LogisticRegression (lbfgs,
// multinomial) on StandardScaler'd features, at one regularisation strength.
TEST(Probe, RidgeAndLogisticMatchSklearn) {
  ASTROFM_REQUIRE_PYTHON("sklearn numpy");
  test::TempDir tmp;
  Features tr = features(600, 5, 1), te = features(200, 5, 2);
  std::vector<double> y(tr.n), c(tr.n), yte(te.n);
  for (int64_t i = 0; i < tr.n; ++i) y[i] = target(tr, i), c[i] = static_cast<double>(klass(tr, i));
  write(tmp.path("tr_r.txt"), tr, y);
  write(tmp.path("tr_c.txt"), tr, c);
  write(tmp.path("te.txt"), te, yte);
  std::string out = test::run_python(R"(
import sys, numpy as np
from sklearn.linear_model import Ridge, LogisticRegression
from sklearn.preprocessing import StandardScaler
d = sys.argv[1]
r = np.loadtxt(d + "/tr_r.txt"); c = np.loadtxt(d + "/tr_c.txt"); te = np.loadtxt(d + "/te.txt")[:, :-1]
f32 = lambda a: a.astype(np.float32).astype(np.float64)
X = f32(r[:, :-1]); s = StandardScaler().fit(X)
for a in (0.1, 30.0):
    print(" ".join(f"{v:.12g}" for v in Ridge(alpha=a).fit(s.transform(X), r[:, -1]).predict(s.transform(f32(te)))))
m = LogisticRegression(C=0.5, max_iter=5000, tol=1e-10).fit(s.transform(X), c[:, -1].astype(int))
print(" ".join(str(v) for v in m.predict(s.transform(f32(te)))))
)", tmp.path());
  std::istringstream ss(out);
  for (double a : {0.1, 30.0}) {
    ProbeOptions o{.kind = "ridge"};
    o.alphas = {a};
    auto p = make_probe(o);
    p->fit(tr, y);
    auto pred = p->predict(te);
    double worst = 0;
    for (int64_t i = 0; i < te.n; ++i) {
      double want;
      ss >> want;
      worst = std::max(worst, std::abs(pred[i] - want));
    }
    EXPECT_LT(worst, 1e-6) << "alpha " << a;
  }
  ProbeOptions o{.kind = "logistic", .classification = true, .classes = 3};
  o.Cs = {0.5};
  auto p = make_probe(o);
  p->fit(tr, c);
  auto pred = p->predict(te);
  int diff = 0;
  for (int64_t i = 0; i < te.n; ++i) {
    int want;
    ss >> want;
    diff += static_cast<int>(pred[i]) != want;
  }
  EXPECT_LE(diff, 1);  // at most a tie-break on the decision boundary
}

TEST(Probe, CrossValidationPrefersWeakRegularisationWithoutNoise) {
  Features tr = features(300, 4, 3);
  std::vector<double> y(tr.n);
  for (int64_t i = 0; i < tr.n; ++i) y[i] = 2 * tr.row(i)[0] - tr.row(i)[3];  // exactly linear
  auto p = make_probe({.kind = "ridge"});
  p->fit(tr, y);
  EXPECT_LE(p->info()["alpha"].get<double>(), 0.01);
}

TEST(Probe, MlpLearnsANonLinearTargetAndStopsEarly) {
  Features tr = features(1500, 3, 4), te = features(400, 3, 5);
  std::vector<double> y(tr.n), yt(te.n);
  for (int64_t i = 0; i < tr.n; ++i) y[i] = std::sin(tr.row(i)[0]) * 2 + 0.3 * tr.row(i)[1];
  for (int64_t i = 0; i < te.n; ++i) yt[i] = std::sin(te.row(i)[0]) * 2 + 0.3 * te.row(i)[1];
  ProbeOptions o{.kind = "mlp", .seed = 1};
  o.max_epochs = 300;
  auto mlp = make_probe(o);
  mlp->fit(tr, y);
  auto ridge = make_probe({.kind = "ridge"});
  ridge->fit(tr, y);
  double r2_mlp = regression_metrics(yt, mlp->predict(te)).r2, r2_ridge = regression_metrics(yt, ridge->predict(te)).r2;
  EXPECT_GT(r2_mlp, 0.9);
  EXPECT_GT(r2_mlp, r2_ridge + 0.1);  // the sine is out of a linear probe's reach
  EXPECT_LT(mlp->info()["epochs"].get<int64_t>(), 300);
}

TEST(Probe, AttentivePoolingFindsTheInformativeToken) {
  // 8 tokens of 6 values; the class is carried by whichever token has a marker.
  std::mt19937_64 rng(6);
  std::normal_distribution<float> g(0, 1);
  auto make = [&](int64_t n, std::vector<double>& y) {
    Features f{n, 48, std::vector<float>(n * 48)};
    y.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      for (auto& v : std::span(f.x).subspan(i * 48, 48)) v = g(rng);
      int64_t tok = static_cast<int64_t>(rng() % 8), cls = static_cast<int64_t>(rng() % 2);
      f.x[i * 48 + tok * 6 + 0] = 4;  // marker
      f.x[i * 48 + tok * 6 + 1] = cls ? 3 : -3;
      y[i] = static_cast<double>(cls);
    }
    return f;
  };
  std::vector<double> y, yt;
  Features tr = make(800, y), te = make(300, yt);
  ProbeOptions o{.kind = "attentive", .classification = true, .classes = 2, .seed = 2};
  o.tokens = 8;
  o.heads = 2;
  o.lr = 3e-3;
  auto p = make_probe(o);
  p->fit(tr, y);
  auto pred = p->predict(te);
  auto m = classification_metrics(std::vector<int64_t>(yt.begin(), yt.end()), std::vector<int64_t>(pred.begin(), pred.end()), 2);
  EXPECT_GT(m.accuracy, 0.9);
}

TEST(Probe, BadInputsAreClearErrors) {
  Features tr = features(50, 3, 7);
  std::vector<double> y(50, 1.0);
  EXPECT_THROW(make_probe({.kind = "forest"}), UsageError);
  EXPECT_THROW(make_probe({.kind = "ridge", .classification = true, .classes = 3}), UsageError);
  EXPECT_THROW(make_probe({.kind = "logistic", .classification = true, .classes = 1}), InputError);
  auto single = make_probe({.kind = "logistic", .classification = true, .classes = 2});
  EXPECT_THROW(single->fit(tr, std::vector<double>(50, 0.0)), InputError);  // one class present
  Features bad = tr;
  bad.x[7] = INFINITY;
  auto r = make_probe({.kind = "ridge"});
  EXPECT_THROW(r->fit(bad, y), InputError);
  r->fit(tr, y);
  EXPECT_THROW(r->predict(features(5, 4, 8)), InputError);  // other dimension
}


TEST(SavedProbe, RefitsToTheSamePredictionsWithPcaAndClassNames) {
  Features tr = features(60, 6, 3);
  std::vector<double> y(60);
  for (int64_t i = 0; i < 60; ++i) y[i] = tr.x[i * 6] + tr.x[i * 6 + 1] > 0 ? 1 : 0;
  Pca pca;
  pca.fit(tr, 4);
  Features p = pca.project(tr);
  ProbeSaveData d{.options = {.kind = "logistic", .classification = true, .classes = 2, .seed = 4}, .target = "morph",
                  .class_names = {"elliptical", "spiral"}, .feature_columns = {"embedding_image"}, .model_id = "m",
                  .trained_on = "x", .pca = &pca, .x = p, .y = y};
  auto path = (std::filesystem::temp_directory_path() / fmt::format("astrofm-probe-{}.probe", ::getpid())).string();
  save_probe(path, d);
  SavedProbe sp = SavedProbe::load(path);
  EXPECT_EQ(sp.input_dim(), 6);
  EXPECT_EQ(sp.class_names()[1], "spiral");
  EXPECT_EQ(sp.model_id(), "m");
  auto direct = make_probe(d.options);
  direct->fit(p, y);
  Features te = features(20, 6, 9);
  EXPECT_EQ(sp.predict(te), direct->predict(pca.project(te)));
  EXPECT_THROW(sp.predict(features(3, 5, 1)), InputError);  // other dimension
  std::filesystem::remove(path);
  EXPECT_THROW(SavedProbe::load(path), InputError);
}

}  // namespace
}  // namespace astrofm
