#include "astrofm/catalogue.h"

#include <cmath>
#include <random>

#include "astrofm/error.h"
#include "astrofm/sky.h"
#include "testutil.h"

namespace astrofm {
namespace {

// Uniform on the sphere, plus clumps (a survey field) and a few objects
// without positions, and objects near the poles and the ra = 0/360 seam.
Catalogue random_sky(uint64_t seed, int64_t n, std::vector<double>* ra_out = nullptr, std::vector<double>* dec_out = nullptr) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::string> ids;
  std::vector<double> ra, dec;
  for (int64_t i = 0; i < n; ++i) {
    double r, d;
    if (i % 10 == 0) {  // a clump
      r = std::fmod(359.9 + 0.3 * u(rng), 360.0), d = -1 + 0.3 * u(rng);
    } else if (i % 97 == 0) {
      r = 360 * u(rng), d = 89.8 + 0.2 * u(rng);
    } else {
      r = 360 * u(rng), d = std::asin(2 * u(rng) - 1) * 180 / M_PI;
    }
    if (i % 501 == 0) r = d = NAN;
    ids.push_back("obj" + std::to_string(i * 7919 % 1000003));
    ra.push_back(r), dec.push_back(d);
  }
  if (ra_out) *ra_out = ra, *dec_out = dec;
  return Catalogue(std::move(ids), std::move(ra), std::move(dec), "random sky");
}

TEST(Catalogue, ConesEqualBruteForceOnRandomSkies) {
  for (uint64_t seed : {1, 2, 3}) {
    std::vector<double> ra, dec;
    Catalogue c = random_sky(seed, 20000, &ra, &dec);
    std::mt19937_64 rng(seed + 100);
    std::uniform_real_distribution<double> u(0, 1);
    for (int q = 0; q < 200; ++q) {
      double qra = 360 * u(rng), qdec = std::asin(2 * u(rng) - 1) * 180 / M_PI;
      if (q % 4 == 0) qra = std::fmod(359.95 + 0.1 * u(rng), 360.0), qdec = -0.85;  // the clump across the seam
      if (q % 9 == 0) qdec = 89.9;                                                  // the pole
      // Radii from arcseconds to a hemisphere and beyond.
      double rad = std::pow(10.0, -4 + 6.3 * u(rng));
      std::vector<int64_t> want;
      for (int64_t i = 0; i < c.size(); ++i)
        if (sky::separation_deg(qra, qdec, ra[i], dec[i]) <= rad) want.push_back(i);
      ASSERT_EQ(c.cone(qra, qdec, rad), want) << "seed " << seed << " cone (" << qra << ", " << qdec << ") r " << rad;
    }
  }
}

TEST(Catalogue, OneIdMapAndClearErrors) {
  Catalogue c = random_sky(5, 1000);
  for (int64_t i = 0; i < c.size(); i += 37) EXPECT_EQ(c.row(c.ids()[i]), i);
  EXPECT_EQ(c.row("nope"), -1);
  // Moving keeps the map's views valid.
  Catalogue moved = std::move(c);
  EXPECT_EQ(moved.row(moved.ids()[500]), 500);
  try {
    Catalogue dup({"a", "b", "a"}, {1, 2, 3}, {0, 0, 0}, "cat.h5");
    ADD_FAILURE() << "duplicate ids accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "cat.h5: object_id 'a' appears twice (rows 0 and 2)");
  }
  EXPECT_THROW(Catalogue({"a"}, {1}, {91}, "cat.h5"), InputError);
  EXPECT_THROW(moved.cone(0, 0, -1), UsageError);
  EXPECT_TRUE(Catalogue({}, {}, {}, "empty").cone(10, 10, 180).empty());
  EXPECT_GT(moved.memory_bytes(), 1000u * (8 + 8 + 16));
}

}  // namespace
}  // namespace astrofm
