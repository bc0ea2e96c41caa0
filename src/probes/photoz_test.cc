// The photo-z core on real BOSS galaxies from the shipped sample, and qp files.
#include "astrofm/photoz.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "astrofm/error.h"
#include "astrofm/metrics.h"
#include "astrofm/qp.h"
#include "testutil.h"

namespace astrofm {
namespace {

using test::sample_dir;
using test::TempDir;

struct Boss {
  PhotozInputs x;
  std::vector<double> z;
};

// The shipped sample: mag_u,magerr_u,...,mag_z,magerr_z,z.
Boss read_boss(int64_t begin, int64_t count) {
  std::ifstream in(sample_dir() + "/boss_dr10_photoz/galaxies.csv");
  std::string line;
  std::getline(in, line);
  Boss b;
  for (int64_t row = 0; std::getline(in, line) && row < begin + count; ++row) {
    if (row < begin) continue;
    std::stringstream ss(line);
    std::string f;
    std::vector<double> v;
    while (std::getline(ss, f, ',')) v.push_back(std::stod(f));
    for (int k = 0; k < 5; ++k) b.x.mags.push_back(static_cast<float>(v[2 * k])), b.x.errors.push_back(static_cast<float>(v[2 * k + 1]));
    b.z.push_back(v[10]);
    ++b.x.n;
  }
  return b;
}

PhotozOptions small() {
  PhotozOptions o;
  o.bands = {"mag_u", "mag_g", "mag_r", "mag_i", "mag_z"};
  o.errors = {"magerr_u", "magerr_g", "magerr_r", "magerr_i", "magerr_z"};
  o.members = 2, o.epochs = 40, o.seed = 5;
  return o;
}

// One estimator for the suite: fitting takes a few seconds.
const PhotozEstimator& fitted() {
  static PhotozEstimator e = [] {
    PhotozEstimator est(small());
    auto b = read_boss(0, 1500);
    est.fit(b.x, b.z);
    return est;
  }();
  return e;
}

double width68(const std::vector<double>& g, const double* p) {
  double c = 0, lo = NAN, hi = NAN;
  for (size_t k = 0; k + 1 < g.size(); ++k) {
    double piece = 0.5 * (g[k + 1] - g[k]) * (p[k] + p[k + 1]);
    if (std::isnan(lo) && c + piece >= 0.16) lo = g[k];
    if (c + piece >= 0.84) { hi = g[k + 1]; break; }
    c += piece;
  }
  return hi - lo;
}

TEST(Photoz, LearnsRedshiftsOfHeldOutBossGalaxies) {
  const auto& est = fitted();
  auto test = read_boss(1500, 500);
  auto p = est.pdf(test.x);
  auto g = est.grid();
  ASSERT_EQ(p.size(), g.size() * 500);
  std::vector<double> mode;
  for (int64_t i = 0; i < 500; ++i) {
    const double* pi = p.data() + i * g.size();
    double total = 0;
    for (size_t k = 0; k + 1 < g.size(); ++k) total += 0.5 * (g[k + 1] - g[k]) * (pi[k] + pi[k + 1]);
    EXPECT_NEAR(total, 1.0, 1e-9);
    mode.push_back(summarize_grid_pdf(g, pi).mode);
  }
  auto m = regression_metrics(test.z, mode);
  EXPECT_LT(m.sigma_nmad, 0.035);   // a constant guess gives ~0.1
  EXPECT_LT(m.eta_015, 0.05);
  auto pm = grid_pdf_metrics(g, p, test.z);
  EXPECT_LT(pm["pit_ks"].get<double>(), 0.12);
  EXPECT_GT(pm["coverage_68"].get<double>(), 0.5);
}

TEST(Photoz, SavedAndPickledModelsGiveTheSamePdfs) {
  const auto& est = fitted();
  auto test = read_boss(1500, 50);
  auto p = est.pdf(test.x);
  TempDir d;
  est.save(d.path("pz.afm"));
  auto loaded = PhotozEstimator::load(d.path("pz.afm"));
  EXPECT_EQ(loaded.pdf(test.x), p);
  auto again = PhotozEstimator::from_bytes(est.to_bytes());
  EXPECT_EQ(again.pdf(test.x), p);
  EXPECT_EQ(again.options().bands, est.options().bands);
}

TEST(Photoz, MissingMagnitudesWidenThePdf) {
  const auto& est = fitted();
  auto test = read_boss(1500, 200);
  auto g = est.grid();
  auto base = est.pdf(test.x);
  for (float bad : {99.0f, -99.0f, NAN, INFINITY}) {
    auto x = test.x;
    for (int64_t i = 0; i < x.n; ++i) x.mags[i * 5 + 0] = bad;  // no u band
    auto p = est.pdf(x);
    std::vector<double> wb, wp;
    for (int64_t i = 0; i < x.n; ++i) {
      for (size_t k = 0; k < g.size(); ++k) ASSERT_TRUE(std::isfinite(p[i * g.size() + k]));
      wb.push_back(width68(g, base.data() + i * g.size()));
      wp.push_back(width68(g, p.data() + i * g.size()));
    }
    std::nth_element(wb.begin(), wb.begin() + wb.size() / 2, wb.end());
    std::nth_element(wp.begin(), wp.begin() + wp.size() / 2, wp.end());
    EXPECT_GT(wp[wp.size() / 2], wb[wb.size() / 2]) << "missing u as " << bad;
  }
  // A non-positive error also marks the band as not measured.
  auto x = test.x;
  for (int64_t i = 0; i < x.n; ++i) x.errors[i * 5 + 0] = -1;
  EXPECT_NO_THROW(est.pdf(x));
}

TEST(Photoz, BadInputsGetClearErrors) {
  auto b = read_boss(0, 100);
  PhotozEstimator e(small());
  std::vector<double> no_z(b.z.size(), NAN);
  for (int i = 0; i < 10; ++i) no_z[i] = b.z[i];
  try {
    e.fit(b.x, no_z);
    FAIL() << "fitted on 10 redshifts";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("10 objects with a finite redshift"), std::string::npos) << err.what();
  }
  auto x = b.x;
  for (int64_t i = 0; i < x.n; ++i) x.mags[i * 5 + 4] = 99;
  try {
    e.fit(x, b.z);
    FAIL() << "fitted without a z band";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("band mag_z is missing"), std::string::npos) << err.what();
  }
  auto short_rows = b.x;
  short_rows.mags.pop_back();
  EXPECT_THROW(e.fit(short_rows, b.z), InputError);
  EXPECT_THROW(e.pdf(b.x), UsageError);  // not fitted
  auto no_err = b.x;
  no_err.errors.clear();
  EXPECT_THROW(fitted().pdf(no_err), InputError);
}

TEST(Photoz, CorruptModelBytesAreAnErrorNotACrash) {
  auto bytes = fitted().to_bytes();
  // (The last bytes are alignment padding: cutting or flipping those changes no tensor.)
  for (size_t cut : {size_t{0}, size_t{7}, size_t{100}, bytes.size() / 2, bytes.size() - 200})
    EXPECT_THROW(PhotozEstimator::from_bytes(bytes.substr(0, cut)), InputError) << cut;
  auto flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x5a;
  EXPECT_THROW(PhotozEstimator::from_bytes(flipped), InputError);
}

TEST(Qp, WritesAndReadsInterpEnsembles) {
  TempDir d;
  QpEnsemble e;
  e.x = {0, 0.5, 1, 1.5};
  e.n = 2;
  e.y = {0, 1, 1, 0, 0.5, 0.5, 0.5, 0.5};
  e.ancil = {{"zmode", {0.5, 0.0}}};
  e.ancil_strings = {{"id", {"a", "bb"}}};
  write_qp(d.path("z.hdf5"), e);
  EXPECT_FALSE(std::filesystem::exists(d.path("z.hdf5.tmp")));
  auto r = read_qp(d.path("z.hdf5"));
  EXPECT_EQ(r.kind, "interp");
  EXPECT_EQ(r.x, e.x);
  EXPECT_EQ(r.y, e.y);
  ASSERT_EQ(r.ancil.size(), 1u);
  EXPECT_EQ(r.ancil[0].second, e.ancil[0].second);
  {
    QpWriter w(d.path("abandoned.hdf5"), "interp", e.x, {"zmode"});
    w.append(1, e.y.data(), {e.ancil[0].second.data()});
  }  // no commit: nothing is left behind
  EXPECT_FALSE(std::filesystem::exists(d.path("abandoned.hdf5")));
  EXPECT_FALSE(std::filesystem::exists(d.path("abandoned.hdf5.tmp")));
  EXPECT_THROW(read_qp(sample_dir() + "/boss_dr10_photoz/galaxies.csv"), InputError);
}

TEST(GridPdfMetrics, GaussianPdfsGiveTheirKnownValues) {
  // N(0.5, 0.05) on a fine grid: PIT of the mean is 1/2; CRPS at the mean is
  // sigma (2 phi(0) - 1 / sqrt(pi)) = 0.2337 sigma.
  std::vector<double> g;
  for (int k = 0; k <= 3000; ++k) g.push_back(k * 0.001);
  const double s = 0.05;
  std::vector<double> p;
  for (double x : g) p.push_back(std::exp(-0.5 * std::pow((x - 0.5) / s, 2)) / (s * std::sqrt(2 * M_PI)));
  std::vector<double> pit;
  auto m = grid_pdf_metrics(g, p, {0.5}, &pit);
  EXPECT_NEAR(pit[0], 0.5, 1e-6);
  EXPECT_NEAR(m["crps"].get<double>(), s * (2 / std::sqrt(2 * M_PI) - 1 / std::sqrt(M_PI)), 1e-5);
  // CDE loss: integral of p^2 = 1 / (2 sigma sqrt(pi)), minus twice p(0.5).
  EXPECT_NEAR(m["cde_loss"].get<double>(), 1 / (2 * s * std::sqrt(M_PI)) - 2 / (s * std::sqrt(2 * M_PI)), 1e-3);
}

}  // namespace
}  // namespace astrofm
