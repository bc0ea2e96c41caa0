#include "astrofm/discover.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "astrofm/discover_run.h"
#include "astrofm/error.h"
#include "astrofm/importers.h"
#include "astrofm/mmu.h"
#include "testutil.h"

namespace astrofm {
namespace {

namespace fs = std::filesystem;

// n points per cluster around centres 0 and `shift` (in every dimension), Gaussian noise 1.
Features two_clusters(int64_t n_a, int64_t n_b, int64_t d, double shift, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  Features f{n_a + n_b, d, {}};
  for (int64_t i = 0; i < f.n; ++i)
    for (int64_t j = 0; j < d; ++j) f.x.push_back(g(rng) + (i >= n_a ? static_cast<float>(shift) : 0.f));
  return f;
}

TEST(Discover, FewShotRanksTheExamplesClusterFirst) {
  auto cat = two_clusters(400, 20, 8, 3.0, 1);  // 20 rare objects around (3, ..., 3)
  std::vector<int8_t> truth(420, 0);
  for (int i = 400; i < 420; ++i) truth[i] = 1;
  for (std::string method : {"pu", "mean"}) {
    SimilarOptions o;
    o.method = method;
    std::vector<int64_t> rows = {400, 401, 402};
    auto s = rank_similar(cat, take_rows(cat, rows), {0, 8, {}}, rows, o);
    ASSERT_EQ(s.size(), 420u);
    auto m = ranking_metrics(s, truth);
    EXPECT_GT(m.average_precision, 0.95) << method;
    EXPECT_EQ(m.ndcg_at_10, 1.0) << method;
  }
}

TEST(Discover, CounterExamplesPushTheirKindDown) {
  // Two rare groups at +3 and -3 in the first dimension; examples of both,
  // counter-examples of the second: the second must fall below the first.
  std::mt19937_64 rng(2);
  std::normal_distribution<float> g;
  Features cat{0, 4, {}};
  for (int i = 0; i < 300; ++i) {
    float c = i < 20 ? 3.f : i < 40 ? -3.f : 0.f;
    for (int j = 0; j < 4; ++j) cat.x.push_back(g(rng) * 0.5f + (j == 0 ? c : 0.f) + (j == 1 && i < 40 ? 3.f : 0.f));
    ++cat.n;
  }
  std::vector<int64_t> pos = {0, 1, 20, 21}, neg = {22, 23, 24};
  std::vector<int64_t> labelled = pos;
  labelled.insert(labelled.end(), neg.begin(), neg.end());
  for (std::string method : {"pu", "mean"}) {
    SimilarOptions o;
    o.method = method;
    auto s = rank_similar(cat, take_rows(cat, pos), take_rows(cat, neg), labelled, o);
    double first = 0, second = 0;
    for (int i = 2; i < 20; ++i) first += s[i];
    for (int i = 25; i < 40; ++i) second += s[i];
    EXPECT_GT(first / 18, second / 15) << method;
  }
}

TEST(Discover, BadExamplesAreOneClearError) {
  auto cat = two_clusters(50, 5, 4, 2.0, 3);
  Features wrong{1, 3, {0, 0, 0}};
  try {
    rank_similar(cat, wrong, {}, {});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("3 dimensions, the catalogue 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rank_similar({0, 4, {}}, take_rows(cat, {0}), {}, {}), InputError);
  EXPECT_THROW(rank_similar(cat, {0, 4, {}}, {}, {}), InputError);
  SimilarOptions bad;
  bad.method = "magic";
  EXPECT_THROW(rank_similar(cat, take_rows(cat, {0}), {}, {}, bad), UsageError);
  Features nan = take_rows(cat, {0});
  nan.x[1] = NAN;
  EXPECT_THROW(rank_similar(cat, nan, {}, {}), InputError);
}

TEST(Discover, AnOutlierScoresHighestByLofAndKnn) {
  auto x = two_clusters(300, 0, 5, 0, 4);
  for (int j = 0; j < 5; ++j) x.x[17 * 5 + j] = 8.f;  // row 17 far from the blob
  for (std::string method : {"lof", "knn"}) {
    AnomalyOptions o;
    o.method = method;
    o.k = 10;
    auto s = anomaly_scores(x, o);
    EXPECT_EQ(std::max_element(s.begin(), s.end()) - s.begin(), 17) << method;
    for (double v : s) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(Discover, LofIsOneInsideAUniformGrid) {
  // On a regular lattice every interior point has the density of its
  // neighbours, so LOF is 1 (up to the edges' influence).
  Features g{0, 2, {}};
  for (int i = 0; i < 30; ++i)
    for (int j = 0; j < 30; ++j) g.x.push_back(static_cast<float>(i)), g.x.push_back(static_cast<float>(j)), ++g.n;
  AnomalyOptions o;
  o.k = 4;
  o.standardize = false;
  auto s = anomaly_scores(g, o);
  EXPECT_NEAR(s[15 * 30 + 15], 1.0, 1e-6);
}

TEST(Discover, LofMatchesScikitLearnWithDuplicates) {
  ASTROFM_REQUIRE_PYTHON("numpy sklearn");
  test::TempDir tmp;
  auto x = two_clusters(200, 30, 3, 2.5, 5);
  for (int j = 0; j < 3; ++j) x.x[5 * 3 + j] = x.x[6 * 3 + j];  // an exact duplicate pair
  {
    std::ofstream f(tmp.path("x.csv"));
    f.precision(9);
    for (int64_t i = 0; i < x.n; ++i) f << x.x[i * 3] << "," << x.x[i * 3 + 1] << "," << x.x[i * 3 + 2] << "\n";
  }
  auto out = test::run_python(R"(
import sys, numpy as np
from sklearn.neighbors import LocalOutlierFactor
x = np.loadtxt(sys.argv[1], delimiter=",")
l = LocalOutlierFactor(n_neighbors=7, algorithm="brute").fit(x)
print(" ".join(repr(float(v)) for v in -l.negative_outlier_factor_))
)", tmp.path("x.csv"));
  std::istringstream in(out);
  AnomalyOptions o;
  o.k = 7;
  o.standardize = false;
  Features xr = x;  // the values as sklearn read them
  auto s = anomaly_scores(xr, o);
  for (int64_t i = 0; i < x.n; ++i) {
    double ref;
    ASSERT_TRUE(in >> ref);
    EXPECT_NEAR(s[i], ref, 1e-5 * ref) << "row " << i;
  }
}

TEST(Discover, ApproximateIndexAgreesWithExactSearch) {
  auto x = two_clusters(2000, 40, 16, 2.0, 6);
  AnomalyOptions exact, hnsw;
  exact.method = hnsw.method = "knn";
  hnsw.index.kind = "hnsw";
  AnomalyOptions autoivf = exact;  // "auto" past its exact limit: an IVF index
  autoivf.exact_limit = 1000;
  auto a = anomaly_scores(x, exact), b = anomaly_scores(x, hnsw), c = anomaly_scores(x, autoivf);
  int64_t close = 0, ranked_alike = 0;
  for (size_t i = 0; i < a.size(); ++i) close += std::abs(a[i] - b[i]) < 1e-3 * a[i];
  EXPECT_GT(close, 1900);
  // IVF-SQ8 quantises the vectors: the scores move a little, the most unusual stay on top.
  std::vector<size_t> oa(a.size()), oc(a.size());
  std::iota(oa.begin(), oa.end(), 0), std::iota(oc.begin(), oc.end(), 0);
  std::sort(oa.begin(), oa.end(), [&](size_t i, size_t j) { return a[i] > a[j]; });
  std::sort(oc.begin(), oc.end(), [&](size_t i, size_t j) { return c[i] > c[j]; });
  for (int i = 0; i < 40; ++i) ranked_alike += std::find(oc.begin(), oc.begin() + 40, oa[i]) != oc.begin() + 40;
  EXPECT_GE(ranked_alike, 32);
  EXPECT_NE(a, c);  // it did not fall back to the exact search
}

// A pair of Gaussian blobs, the brighter one at +angle from the centre: a merger seen at some angle.
Features pair_at(double angle, int64_t size = 48) {
  Features f{1, 2 * size * size, std::vector<float>(2 * size * size)};
  const double c = (size - 1) / 2.0, r = 9;
  for (int64_t ch = 0; ch < 2; ++ch)
    for (int64_t y = 0; y < size; ++y)
      for (int64_t x = 0; x < size; ++x) {
        auto blob = [&](double bx, double by, double amp) { return amp * std::exp(-((x - bx) * (x - bx) + (y - by) * (y - by)) / 8.0); };
        f.x[(ch * size + y) * size + x] = static_cast<float>(blob(c + r * std::cos(angle), c + r * std::sin(angle), 1.0) +
                                                             blob(c - r * std::cos(angle), c - r * std::sin(angle), 0.6));
      }
  return f;
}

TEST(Discover, CanonicalPixelsLineUpAPairAtAnyAngle) {
  const int64_t S = 48;
  auto ref = canonical_pixels(pair_at(0.0), 2, S, S);
  for (double deg : {30.0, 75.0, 120.0, 200.0, 290.0}) {
    auto got = canonical_pixels(pair_at(deg * M_PI / 180), 2, S, S);
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < ref.x.size(); ++i) dot += ref.x[i] * got.x[i], na += ref.x[i] * ref.x[i], nb += got.x[i] * got.x[i];
    EXPECT_GT(dot / std::sqrt(na * nb), 0.97) << deg << " degrees";
    // The brighter blob ends up on the left of the horizontal axis.
    double left = 0, right = 0;
    for (int64_t x = 0; x < S; ++x) (x < S / 2 ? left : right) += got.x[(S / 2) * S + x];
    EXPECT_GT(left, right) << deg << " degrees";
    EXPECT_NEAR(std::accumulate(got.x.begin(), got.x.end(), 0.0), 1.0, 1e-4);  // unit total light
  }
  // Raw pixels of the same pair at 0 and 90 degrees barely overlap; that is what canonical orientation removes.
  auto a = pair_at(0.0), b = pair_at(M_PI / 2);
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.x.size(); ++i) dot += a.x[i] * b.x[i], na += a.x[i] * a.x[i], nb += b.x[i] * b.x[i];
  EXPECT_LT(dot / std::sqrt(na * nb), 0.2);
  EXPECT_THROW(canonical_pixels(pair_at(0.0), 3, S, S), InputError);
}

TEST(Discover, NextToLabelByAcquisition) {
  std::vector<double> s = {0.9, 0.8, 0.7, 0.5, 0.3, 0.1};
  std::vector<int8_t> l = {1, -1, -1, -1, 0, -1};
  EXPECT_EQ(next_to_label(s, l, 2, "top"), (std::vector<int64_t>{1, 2}));
  // Boundary halfway between the interesting (0.9) and not (0.3) means: 0.6.
  EXPECT_EQ(next_to_label(s, l, 2, "uncertain"), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(next_to_label(s, l, 3, "mix"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(next_to_label(s, l, 10, "top").size(), 4u);
  EXPECT_THROW(next_to_label(s, l, 1, "random"), UsageError);
}

TEST(Discover, RankingMetricsByHand) {
  // Ranking: P N P N N; AP = (1/1 + 2/3) / 2; nDCG@10 = (1 + 1/log2 4) / (1 + 1/log2 3).
  auto m = ranking_metrics({5, 4, 3, 2, 1}, {1, 0, 1, 0, 0});
  EXPECT_NEAR(m.average_precision, (1 + 2.0 / 3) / 2, 1e-12);
  EXPECT_NEAR(m.ndcg_at_10, (1 + 0.5) / (1 + 1 / std::log2(3.0)), 1e-12);
  EXPECT_NEAR(m.precision_at_20, 2.0 / 20, 1e-12);
  EXPECT_EQ(m.positives, 2);
}

TEST(Discover, BlendWithPriorMixesRankFractions) {
  const std::vector<double> up = {1, 2, 3, 4}, down = {40, 30, 20, 10};
  auto only_scores = blend_with_prior(up, down, 0), only_prior = blend_with_prior(up, down, 1), even = blend_with_prior(up, down, 0.5);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(only_scores[i], i / 3.0, 1e-12);
    EXPECT_NEAR(only_prior[i], 1 - i / 3.0, 1e-12);
    EXPECT_NEAR(even[i], 0.5, 1e-12);
  }
  // Ties share their mean rank; the scales do not matter, only the order.
  auto tied = blend_with_prior({7, 7, 9}, {1e-9, 5e9, 0}, 0.25);
  EXPECT_NEAR(tied[0], 0.75 * 0.25 + 0.25 * 0.5, 1e-12);
  EXPECT_NEAR(tied[1], 0.75 * 0.25 + 0.25 * 1.0, 1e-12);
  EXPECT_NEAR(tied[2], 0.75 * 1.0, 1e-12);
  EXPECT_THROW(blend_with_prior(up, down, 1.5), UsageError);
  EXPECT_THROW(blend_with_prior(up, {1, 2, 3}, 0.5), InputError);
  EXPECT_THROW(blend_with_prior(up, {1, 2, NAN, 3}, 0.5), InputError);
}

// A small embedding catalogue on disk: 200 objects, 8 of them rare.
std::string write_catalogue(const test::TempDir& tmp, const std::string& name, const std::string& model, int64_t d) {
  auto f = two_clusters(192, 8, d, 3.0, 7);
  std::vector<std::string> ids, models;
  std::vector<double> ra, dec;
  for (int64_t i = 0; i < f.n; ++i) ids.push_back(fmt::format("obj{}", i)), models.push_back(model), ra.push_back(150 + i * 0.01), dec.push_back(2);
  Table t;
  t.add(make_string_column(mmu::kObjectId, ids));
  t.add(make_column<double>(mmu::kRa, ra));
  t.add(make_column<double>(mmu::kDec, dec));
  t.add(make_column<float>("embedding_image", f.x, {d}));
  t.add(make_string_column("model_id", models));
  DatasetWriter w(tmp.path(name), "embeddings");
  w.append(t);
  w.commit();
  return tmp.path(name);
}

TEST(DiscoverRun, SimilarWritesEveryObjectWithScoreAndRank) {
  test::TempDir tmp;
  DiscoverSimilarOptions o;
  o.in.data = write_catalogue(tmp, "cat", "m1", 6);
  o.positives = "obj192,obj193";
  o.out.out = tmp.path("scored.csv");
  o.out.report = tmp.path("report");
  o.out.top = 10;
  {
    std::ofstream l(tmp.path("labels.csv"));
    l << "object_id,label\nobj194,yes\nobj3,not\n";
  }
  o.out.labels = tmp.path("labels.csv");
  o.out.suggest = 5;
  auto r = discover_similar(o);
  EXPECT_EQ(r["objects"], 200);
  EXPECT_EQ(r["examples"], 3);
  EXPECT_EQ(r["counter_examples"], 1);
  EXPECT_EQ(r["suggested"].size(), 5u);
  auto t = read_csv_table(o.out.out);
  ASSERT_EQ(t.rows(), 200);
  for (const auto& c : {"object_id", "ra", "dec", "score", "rank", "label", "suggested"}) EXPECT_TRUE(t.has(c)) << c;
  // The rare ones that were not examples come first.
  std::vector<std::string> top8;
  for (int64_t i = 0; i < 200; ++i)
    if (t.at("rank").as_int64(i) <= 8) top8.push_back(t.at("object_id").strings[i]);
  int rare_in_top = 0;
  for (const auto& id : top8) rare_in_top += std::stoi(id.substr(3)) >= 192;
  EXPECT_GE(rare_in_top, 7);
  EXPECT_TRUE(fs::exists(tmp.path("report/ranked.csv")));
  EXPECT_TRUE(fs::exists(tmp.path("report/index.html")));
  EXPECT_FALSE(fs::exists(tmp.path("report/cutouts.png")));  // no images in an embedding catalogue
}

// `discover anomalies` output as the prior of `discover similar`: at weight 1
// the ranking is the anomaly ranking; a prior that misses objects, or a
// weight outside [0, 1], is refused before anything is written.
TEST(DiscoverRun, SimilarBlendsAnAnomalyPrior) {
  test::TempDir tmp;
  DiscoverAnomalyOptions a;
  a.in.data = write_catalogue(tmp, "cat", "m1", 6);
  a.out.out = tmp.path("anomalies.csv");
  discover_anomalies(a);
  DiscoverSimilarOptions o;
  o.in.data = a.in.data;
  o.positives = "obj1,obj2";
  o.prior = a.out.out;
  o.prior_weight = 1;
  o.out.out = tmp.path("blended.csv");
  auto r = discover_similar(o);
  EXPECT_EQ(r["method"], "similar/pu+prior");
  EXPECT_EQ(r["prior_weight"], 1.0);
  auto an = read_csv_table(a.out.out), bl = read_csv_table(o.out.out);
  ASSERT_EQ(bl.rows(), 200);
  for (int64_t i = 0; i < 200; ++i) EXPECT_EQ(bl.at("rank").as_int64(i), an.at("rank").as_int64(i)) << i;
  {
    std::ofstream p(tmp.path("partial.csv"));
    p << "object_id,score\nobj0,1.5\nobj1,2\n";
  }
  o.prior = tmp.path("partial.csv");
  o.out.out = tmp.path("refused.csv");
  try {
    discover_similar(o);
    ADD_FAILURE() << "a prior missing 198 objects was taken";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("198 objects of the catalogue"), std::string::npos) << e.what();
  }
  o.prior = a.out.out;
  o.prior_weight = 2;
  EXPECT_THROW(discover_similar(o), UsageError);
  EXPECT_FALSE(fs::exists(tmp.path("refused.csv")));
}

TEST(DiscoverRun, BadInputNamesItAndWritesNothing) {
  test::TempDir tmp;
  auto cat = write_catalogue(tmp, "cat", "m1", 6);
  auto other = write_catalogue(tmp, "other", "m2", 6);
  auto wide = write_catalogue(tmp, "wide", "m1", 5);
  auto expect_error = [&](DiscoverSimilarOptions o, const std::string& needle) {
    o.in.data = cat;
    o.out.out = tmp.path("out.csv");
    o.out.report = tmp.path("rep");
    try {
      discover_similar(o);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(tmp.path("out.csv")));
    EXPECT_FALSE(fs::exists(tmp.path("rep")));
  };
  DiscoverSimilarOptions o;
  o.positives = "obj1,nosuch,obj2,alsonot";
  expect_error(o, "2 of the examples are not in the catalogue");
  o.positives = other;  // another model's embeddings
  expect_error(o, "embedded by 'm2'");
  o.positives = wide;
  expect_error(o, "5 dimensions");
  o.positives = "obj1";
  {
    std::ofstream l(tmp.path("labels.csv"));
    l << "object_id,label\nobj5,1\nghost,0\n";
  }
  o.out.labels = tmp.path("labels.csv");
  expect_error(o, "ghost");
  {
    std::ofstream l(tmp.path("labels.csv"));
    l << "object_id,label\nobj5,maybe\n";
  }
  expect_error(o, "label 'maybe'");
  o.out.labels.clear();
  { std::ofstream(tmp.path("none.txt")) << "object_id\n"; }  // a file of no ids: refused before any feature is read
  o.positives = tmp.path("none.txt");
  expect_error(o, "none.txt: no examples given");
}

}  // namespace
}  // namespace astrofm

namespace astrofm {
namespace {

// One blob, or a pair of nuclei: the pair is more asymmetric, has a second
// nucleus as bright as its brightness says and at its separation, at any angle;
// a blank cutout gives zeros, not NaN.
TEST(Morphology, APairOfNucleiStandsOutFromOneGalaxyAtAnyAngle) {
  const int64_t S = 48;
  auto cutout = [&](double angle, bool pair) {
    Features f{1, 2 * S * S, std::vector<float>(2 * S * S, 0.01f)};
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t y = 0; y < S; ++y)
        for (int64_t x = 0; x < S; ++x) {
          const double dx = x - 23.5, dy = y - 23.5;
          double v = std::exp(-(dx * dx + dy * dy) / (2 * 9.0));
          if (pair) {
            const double px = 10 * std::cos(angle), py = 10 * std::sin(angle);
            v = std::exp(-((dx + px) * (dx + px) + (dy + py) * (dy + py)) / 8.0) +
                0.6 * std::exp(-((dx - px) * (dx - px) + (dy - py) * (dy - py)) / 8.0);
          }
          f.x[(c * S + y) * S + x] += static_cast<float>(v * (1 + c));
        }
    return morphology_features(f, 2, S, S);
  };
  const auto& names = morphology_names();
  auto at = [&](const Features& f, const std::string& n) {
    return f.x[std::find(names.begin(), names.end(), n) - names.begin()];
  };
  const Features one = cutout(0, false);
  EXPECT_LT(at(one, "asymmetry"), 0.05);
  EXPECT_EQ(at(one, "peaks"), 1);
  EXPECT_EQ(at(one, "pieces"), 1);
  for (double deg : {0.0, 37.0, 90.0, 145.0}) {
    const Features two = cutout(deg * M_PI / 180, true);
    EXPECT_GT(at(two, "asymmetry"), 0.3) << deg;
    EXPECT_EQ(at(two, "peaks"), 2) << deg;
    EXPECT_NEAR(at(two, "second_peak"), 0.6, 0.05) << deg;
    EXPECT_NEAR(at(two, "peak_separation"), 20, 1.5) << deg;
    EXPECT_NEAR(at(two, "colour_centre"), std::log(2.0), 0.05) << deg;  // the second band is twice the first
  }
  Features blank{1, 2 * S * S, std::vector<float>(2 * S * S, 0.0f)};
  for (float v : morphology_features(blank, 2, S, S).x) EXPECT_EQ(v, 0.0f);
  EXPECT_THROW(morphology_features(blank, 3, S, S), InputError);
}

}  // namespace
}  // namespace astrofm
