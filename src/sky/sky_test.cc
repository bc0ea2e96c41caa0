#include "astrofm/sky.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "astrofm/error.h"
#include "testutil.h"

namespace astrofm::sky {
namespace {

TEST(Sky, Pix2AngRoundTripEveryPartition) {
  int npix = 12 * kPartitionNside * kPartitionNside;
  for (int p = 0; p < npix; ++p) {
    double ra, dec;
    pix2ang(kPartitionNside, p, &ra, &dec);
    ASSERT_GE(ra, 0.0);
    ASSERT_LT(ra, 360.0);
    ASSERT_EQ(partition_of(ra, dec), p);
  }
}

TEST(Sky, RoundTripFineNsideRing) {
  std::mt19937_64 rng(7);
  int nside = 1 << 13;
  std::uniform_int_distribution<int64_t> pick(0, 12LL * nside * nside - 1);
  for (int i = 0; i < 20000; ++i) {
    int64_t p = pick(rng);
    double ra, dec;
    pix2ang(nside, p, &ra, &dec, false);
    ASSERT_EQ(ang2pix(nside, ra, dec, false), p);
  }
}

TEST(Sky, NonFiniteIsNoPixelAndBadDecThrows) {
  EXPECT_EQ(partition_of(NAN, 10), kNoPixel);
  EXPECT_EQ(partition_of(10, INFINITY), kNoPixel);
  EXPECT_THROW(partition_of(10, 91), InputError);
  EXPECT_THROW(partition_of(10, -90.5), InputError);
  // ra wraps: -10 and 350 are the same place.
  EXPECT_EQ(partition_of(-10, 5), partition_of(350, 5));
}

TEST(Sky, SeparationKnownValues) {
  EXPECT_NEAR(separation_deg(0, 0, 90, 0), 90.0, 1e-12);
  EXPECT_NEAR(separation_deg(10, 89, 190, 89), 2.0, 1e-9);
  EXPECT_NEAR(separation_deg(359.9999, 0, 0.0001, 0), 0.0002, 1e-12);
  EXPECT_NEAR(separation_deg(0, -90, 123, 90), 180.0, 1e-9);
  // Tiny separations keep full precision (1 milliarcsecond).
  EXPECT_NEAR(separation_deg(150, 2, 150, 2 + 1.0 / 3.6e6) * 3.6e6, 1.0, 1e-6);
}

TEST(Sky, ConePartitionsCoverEveryPointInTheCone) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 40; ++trial) {
    double ra = 360 * u(rng), dec = std::asin(2 * u(rng) - 1) * 180 / M_PI, r = 0.1 + 5 * u(rng);
    auto parts = cone_partitions(ra, dec, r);
    ASSERT_TRUE(std::is_sorted(parts.begin(), parts.end()));
    for (int i = 0; i < 2000; ++i) {
      // A random point inside the cap.
      double cr = std::cos(r * M_PI / 180);
      double z = cr + (1 - cr) * u(rng), phi = 2 * M_PI * u(rng), s = std::sqrt(1 - z * z);
      Vec3 c = to_vec(ra, dec);
      Vec3 a = std::abs(c.z) < 0.9 ? Vec3{0, 0, 1} : Vec3{1, 0, 0};
      Vec3 e1{a.y * c.z - a.z * c.y, a.z * c.x - a.x * c.z, a.x * c.y - a.y * c.x};
      double n1 = std::sqrt(e1.x * e1.x + e1.y * e1.y + e1.z * e1.z);
      e1 = {e1.x / n1, e1.y / n1, e1.z / n1};
      Vec3 e2{c.y * e1.z - c.z * e1.y, c.z * e1.x - c.x * e1.z, c.x * e1.y - c.y * e1.x};
      Vec3 p{z * c.x + s * (std::cos(phi) * e1.x + std::sin(phi) * e2.x),
             z * c.y + s * (std::cos(phi) * e1.y + std::sin(phi) * e2.y),
             z * c.z + s * (std::cos(phi) * e1.z + std::sin(phi) * e2.z)};
      double pra = std::atan2(p.y, p.x) * 180 / M_PI, pdec = std::asin(std::clamp(p.z, -1.0, 1.0)) * 180 / M_PI;
      if (pra < 0) pra += 360;
      ASSERT_LE(separation_deg(ra, dec, pra, pdec), r + 1e-9);
      ASSERT_TRUE(std::binary_search(parts.begin(), parts.end(), partition_of(pra, pdec)))
          << "cone (" << ra << "," << dec << ") r=" << r << " misses point (" << pra << "," << pdec << ")";
    }
  }
}

TEST(Sky, NsideForScale) {
  int n = nside_for_scale(1.0 / 3600);
  double size_deg = std::sqrt(4 * M_PI / (12.0 * n * n)) * 180 / M_PI;
  EXPECT_GE(size_deg * 0.5, 1.0 / 3600);
  EXPECT_LT(size_deg * 0.25, 1.0 / 3600 * 1.01);
}

// Independent reference: healpy (Debian python3-healpy) on the same positions,
// including the poles, ra = 0/360 and the pixel boundaries of the base tiles.
TEST(Sky, MatchesHealpyAng2Pix) {
  ASTROFM_REQUIRE_PYTHON("healpy numpy");
  test::TempDir tmp;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::pair<double, double>> pos = {{0, 90}, {0, -90}, {0, 0}, {360 - 1e-12, 0}, {45, 41.8103148957786},
                                                {90, -41.8103148957786}, {180, 0}, {270, 19.47122063449069}};
  for (int i = 0; i < 20000; ++i) pos.push_back({360 * u(rng), std::asin(2 * u(rng) - 1) * 180 / M_PI});
  std::ofstream out(tmp.path("pos.txt"));
  out.precision(17);
  for (auto& [ra, dec] : pos) out << ra << " " << dec << "\n";
  out.close();
  std::string got = test::run_python(R"(
import sys, numpy as np, healpy as hp
p = np.loadtxt(sys.argv[1])
for nside in (16, 1024):
    print(" ".join(map(str, hp.ang2pix(nside, p[:, 0], p[:, 1], lonlat=True, nest=True))))
)", tmp.path("pos.txt"));
  std::istringstream ss(got);
  for (int nside : {16, 1024}) {
    int mismatches = 0;
    for (size_t i = 0; i < pos.size(); ++i) {
      int64_t want;
      ASSERT_TRUE(ss >> want);
      if (ang2pix(nside, pos[i].first, pos[i].second) != want) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0) << "nside " << nside;
  }
}

}  // namespace
}  // namespace astrofm::sky
