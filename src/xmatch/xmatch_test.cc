#include "astrofm/xmatch.h"

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "astrofm/sky.h"
#include "testutil.h"

namespace astrofm {
namespace {

struct Cat {
  std::vector<double> ra, dec;
};

// A point on the border between two NSIDE-16 partitions, found by bisection.
std::pair<double, double> border_point() {
  double ra0, dec0;
  sky::pix2ang(16, 1000, &ra0, &dec0);
  double lo = 0, hi = 8;  // offset in ra; the far end lies in another partition
  for (int i = 0; i < 60; ++i) {
    double mid = 0.5 * (lo + hi);
    (sky::partition_of(ra0 + mid, dec0) == 1000 ? lo : hi) = mid;
  }
  return {ra0 + lo, dec0};
}

// A and B over a few partitions, a fifth of A in a strip along a partition
// border; B holds perturbed copies of 20% of A (offsets up to 2") plus
// unrelated objects.
std::pair<Cat, Cat> make_catalogues(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  auto [rab, decb] = border_point();
  Cat a, b;
  for (int i = 0; i < n; ++i) {
    bool strip = i % 5 == 0;  // within 2" of the border, 0.1 deg long
    a.ra.push_back(rab + (strip ? 2.0 / 3600 : 3.0) * u(rng));
    a.dec.push_back(decb + (strip ? 0.05 : 3.0) * u(rng));
    if (u(rng) < -0.6) {
      double off = 2.0 / 3600;
      b.ra.push_back(a.ra.back() + off * u(rng) / std::cos(a.dec.back() * M_PI / 180));
      b.dec.push_back(a.dec.back() + off * u(rng));
    }
  }
  for (int i = 0; i < n / 2; ++i) {
    b.ra.push_back(rab + 3 * u(rng));
    b.dec.push_back(decb + 3 * u(rng));
  }
  return {a, b};
}

void write_txt(const std::string& path, const Cat& c) {
  std::ofstream out(path);
  out.precision(17);
  for (size_t i = 0; i < c.ra.size(); ++i) out << c.ra[i] << " " << c.dec[i] << "\n";
}

std::vector<int64_t> astropy_matches(const Cat& a, const Cat& b, double radius_arcsec) {
  test::TempDir tmp;
  write_txt(tmp.path("a.txt"), a);
  write_txt(tmp.path("b.txt"), b);
  std::string out = test::run_python(R"(
import sys, numpy as np
from astropy.coordinates import SkyCoord
import astropy.units as u
a = np.loadtxt(sys.argv[1]); b = np.loadtxt(sys.argv[2]); r = float(sys.argv[3])
ca = SkyCoord(a[:, 0] * u.deg, a[:, 1] * u.deg); cb = SkyCoord(b[:, 0] * u.deg, b[:, 1] * u.deg)
idx, sep, _ = ca.match_to_catalog_sky(cb)
print(" ".join(str(int(i)) if s.arcsec <= r else "-1" for i, s in zip(idx, sep)))
)", tmp.path("a.txt") + " " + tmp.path("b.txt") + " " + std::to_string(radius_arcsec));
  std::istringstream ss(out);
  std::vector<int64_t> v;
  int64_t x;
  while (ss >> x) v.push_back(x);
  return v;
}

TEST(Xmatch, SimpleCasesIncludingRaWrapAndPole) {
  std::vector<double> ra_a = {359.99999, 10, 0, 200}, dec_a = {0, 89.9999, -30, 45};
  std::vector<double> ra_b = {0.0000001, 190, 0, 0.0002, NAN}, dec_b = {0, 89.9999, -30.0001, -30, NAN};
  std::vector<double> sep;
  auto m = match_nearest(ra_a, dec_a, ra_b, dec_b, 1.0 / 3600, &sep);
  // A[2]: B[2] is 0.36" away, B[3] 0.62"; A[3] has nothing near.
  EXPECT_EQ(m, (std::vector<int64_t>{0, 1, 2, -1}));
  EXPECT_NEAR(sep[0] * 3600, 0.03636, 1e-4);  // across ra = 0/360
  EXPECT_NEAR(sep[1] * 3600, 0.72, 1e-3);  // across the pole: 2 * 0.0001 deg
  EXPECT_TRUE(std::isnan(sep[3]));
}

TEST(Xmatch, SamePairsAsAstropyMatchToCatalogSky) {
  ASTROFM_REQUIRE_PYTHON("astropy numpy");
  auto [a, b] = make_catalogues(20000, 5);
  for (double r : {0.5, 1.0, 1.5}) {
    auto want = astropy_matches(a, b, r);
    auto got = match_nearest(a.ra, a.dec, b.ra, b.dec, r / 3600);
    ASSERT_EQ(want.size(), got.size());
    int64_t pairs = 0, diff = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      pairs += got[i] >= 0;
      diff += got[i] != want[i];
    }
    EXPECT_EQ(diff, 0) << "radius " << r;
    EXPECT_GT(pairs, 100);
  }
}

TEST(Xmatch, SamePairsAsAstropyAtThePole) {
  ASTROFM_REQUIRE_PYTHON("astropy numpy");
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> u(0, 1);
  Cat a, b;
  for (int i = 0; i < 20000; ++i) {
    a.ra.push_back(360 * u(rng));
    a.dec.push_back(90 - 0.05 * u(rng));  // a dense cap of radius 3 arcmin
    b.ra.push_back(360 * u(rng));
    b.dec.push_back(90 - 0.05 * u(rng));
  }
  auto want = astropy_matches(a, b, 1.0);
  auto got = match_nearest(a.ra, a.dec, b.ra, b.dec, 1.0 / 3600);
  int64_t diff = 0, pairs = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff += got[i] != want[i];
    pairs += got[i] >= 0;
  }
  EXPECT_EQ(diff, 0);
  EXPECT_GT(pairs, 1000);
}

Table to_table(const Cat& c, const std::string& prefix, bool with_z) {
  Table t;
  std::vector<std::string> ids;
  std::vector<double> z;
  for (size_t i = 0; i < c.ra.size(); ++i) {
    ids.push_back(prefix + std::to_string(i));
    z.push_back(static_cast<double>(i));
  }
  t.add(make_string_column(mmu::kObjectId, ids));
  t.add(make_column<double>(mmu::kRa, c.ra));
  t.add(make_column<double>(mmu::kDec, c.dec));
  if (with_z) t.add(make_column<double>("Z", z));
  return t;
}

void write_dataset(const std::string& root, const std::string& config, const Table& t) {
  DatasetWriter w(root, config);
  w.append(t);
  w.commit();
}

TEST(Xmatch, DatasetsKeepBothColumnsAndCrossPartitionPairs) {
  ASTROFM_REQUIRE_PYTHON("astropy numpy");
  test::TempDir tmp;
  auto [a, b] = make_catalogues(5000, 9);
  write_dataset(tmp.path("a"), "survey_a", to_table(a, "a", true));
  write_dataset(tmp.path("b"), "survey_b", to_table(b, "b", true));
  XmatchOptions o;
  o.radius_arcsec = 1.0;
  auto res = xmatch_datasets({tmp.path("a"), tmp.path("b")}, tmp.path("ab"), o);
  auto want = astropy_matches(a, b, 1.0);
  int64_t want_pairs = std::count_if(want.begin(), want.end(), [](int64_t x) { return x >= 0; });
  EXPECT_EQ(res.matched, want_pairs);
  Dataset ds = Dataset::open(tmp.path("ab"));
  EXPECT_EQ(ds.rows(), want_pairs);
  DatasetReader r(ds, {});
  Table t;
  int64_t straddling = 0, checked = 0;
  while (r.next(t)) {
    for (int64_t i = 0; i < t.rows(); ++i) {
      int64_t ia = std::stoll(t.at(mmu::kObjectId).strings[i].substr(1));
      int64_t ib = std::stoll(t.at("survey_b_object_id").strings[i].substr(1));
      ASSERT_EQ(want[ia], ib);
      EXPECT_EQ(t.at("Z").values<double>()[i], ia);
      EXPECT_EQ(t.at("survey_b_Z").values<double>()[i], ib);
      EXPECT_LE(t.at("survey_b_sep_arcsec").values<double>()[i], 1.0);
      straddling += sky::partition_of(a.ra[ia], a.dec[ia]) != sky::partition_of(b.ra[ib], b.dec[ib]);
      ++checked;
    }
  }
  EXPECT_EQ(checked, want_pairs);
  EXPECT_GT(straddling, 0) << "the fixture should contain pairs across partition borders";
}

TEST(Xmatch, ThreeWayKeepsObjectsMatchedInAll) {
  test::TempDir tmp;
  auto [a, b] = make_catalogues(3000, 13);
  auto [a2, c] = make_catalogues(3000, 13);  // same A, same B positions
  write_dataset(tmp.path("a"), "a", to_table(a, "a", false));
  write_dataset(tmp.path("b"), "b", to_table(b, "b", false));
  Cat c_half{{b.ra.begin(), b.ra.begin() + b.ra.size() / 2}, {b.dec.begin(), b.dec.begin() + b.dec.size() / 2}};
  write_dataset(tmp.path("c"), "c", to_table(c_half, "c", false));
  XmatchOptions o;
  o.radius_arcsec = 1.0;
  auto two = match_nearest(a.ra, a.dec, b.ra, b.dec, 1.0 / 3600);
  auto three = match_nearest(a.ra, a.dec, c_half.ra, c_half.dec, 1.0 / 3600);
  int64_t both = 0;
  for (size_t i = 0; i < two.size(); ++i) both += two[i] >= 0 && three[i] >= 0;
  auto res = xmatch_datasets({tmp.path("a"), tmp.path("b"), tmp.path("c")}, tmp.path("abc"), o);
  EXPECT_EQ(res.matched, both);
  Dataset ds = Dataset::open(tmp.path("abc"));
  EXPECT_TRUE(ds.has_column("b_object_id"));
  EXPECT_TRUE(ds.has_column("c_object_id"));
  EXPECT_TRUE(ds.has_column("c_sep_arcsec"));
}

TEST(Xmatch, BadUsage) {
  std::vector<double> x = {1};
  EXPECT_THROW(match_nearest(x, x, x, x, -1), UsageError);
  EXPECT_THROW(xmatch_datasets({"only-one"}, "/tmp/none", {}), UsageError);
}

}  // namespace
}  // namespace astrofm
