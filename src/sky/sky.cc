#include "astrofm/sky.h"

#include <cmath>

#include <healpix_cxx/healpix_base.h>
#include <healpix_cxx/pointing.h>
#include <healpix_cxx/rangeset.h>

#include "astrofm/error.h"

namespace astrofm::sky {
namespace {

constexpr double kDeg = M_PI / 180.0;

T_Healpix_Base<int64> make_base(int nside, bool nest) {
  if (nside <= 0 || (nside & (nside - 1)) != 0) fail_usage("NSIDE must be a power of two, got {}", nside);
  return T_Healpix_Base<int64>(nside, nest ? NEST : RING, SET_NSIDE);
}

const T_Healpix_Base<int64>& partition_base() {
  static const T_Healpix_Base<int64> base(kPartitionNside, NEST, SET_NSIDE);
  return base;
}

pointing to_pointing(double ra_deg, double dec_deg) {
  if (dec_deg < -90.0 || dec_deg > 90.0) fail_input("dec {} is outside [-90, 90] degrees", dec_deg);
  double phi = std::fmod(ra_deg * kDeg, 2 * M_PI);
  if (phi < 0) phi += 2 * M_PI;
  return pointing((90.0 - dec_deg) * kDeg, phi);
}

}  // namespace

int64_t ang2pix(int nside, double ra_deg, double dec_deg, bool nest) {
  if (!std::isfinite(ra_deg) || !std::isfinite(dec_deg)) return kNoPixel;
  if (nside == kPartitionNside && nest) return partition_base().ang2pix(to_pointing(ra_deg, dec_deg));
  return make_base(nside, nest).ang2pix(to_pointing(ra_deg, dec_deg));
}

void pix2ang(int nside, int64_t pix, double* ra_deg, double* dec_deg, bool nest) {
  auto base = make_base(nside, nest);
  if (pix < 0 || pix >= base.Npix()) fail_input("HEALPix pixel {} out of range for NSIDE {}", pix, nside);
  pointing p = base.pix2ang(pix);
  *ra_deg = p.phi / kDeg;
  *dec_deg = 90.0 - p.theta / kDeg;
}

int64_t partition_of(double ra_deg, double dec_deg) {
  return ang2pix(kPartitionNside, ra_deg, dec_deg, true);
}

double separation_deg(double ra1, double dec1, double ra2, double dec2) {
  double l1 = ra1 * kDeg, l2 = ra2 * kDeg, b1 = dec1 * kDeg, b2 = dec2 * kDeg;
  double dl = l2 - l1;
  double sdl = std::sin(dl), cdl = std::cos(dl);
  double sb1 = std::sin(b1), cb1 = std::cos(b1), sb2 = std::sin(b2), cb2 = std::cos(b2);
  double num1 = cb2 * sdl;
  double num2 = cb1 * sb2 - sb1 * cb2 * cdl;
  double den = sb1 * sb2 + cb1 * cb2 * cdl;
  return std::atan2(std::hypot(num1, num2), den) / kDeg;
}

Vec3 to_vec(double ra_deg, double dec_deg) {
  double ra = ra_deg * kDeg, dec = dec_deg * kDeg;
  double c = std::cos(dec);
  return {c * std::cos(ra), c * std::sin(ra), std::sin(dec)};
}

double chord_for_angle_deg(double angle_deg) { return 2.0 * std::sin(0.5 * angle_deg * kDeg); }

std::vector<int64_t> cone_pixels(int nside, double ra_deg, double dec_deg, double radius_deg, bool nest) {
  if (!(radius_deg >= 0)) fail_usage("cone radius must be >= 0, got {}", radius_deg);
  auto base = make_base(nside, nest);
  rangeset<int64> ranges;
  // fact=4 oversampling makes the inclusive query conservative in NESTED scheme.
  base.query_disc_inclusive(to_pointing(ra_deg, dec_deg), radius_deg * kDeg, ranges, nest ? 4 : 1);
  std::vector<int64_t> out;
  for (tsize i = 0; i < ranges.nranges(); ++i)
    for (int64 p = ranges.ivbegin(i); p < ranges.ivend(i); ++p) out.push_back(p);
  return out;
}

std::vector<std::pair<int64_t, int64_t>> cone_ranges(int order, double ra_deg, double dec_deg, double radius_deg) {
  if (!(radius_deg >= 0)) fail_usage("cone radius must be >= 0, got {}", radius_deg);
  if (order < 0 || order > 29) fail_usage("HEALPix order {} is outside 0..29", order);
  T_Healpix_Base<int64> base(order, NEST);
  rangeset<int64> ranges;
  base.query_disc_inclusive(to_pointing(ra_deg, dec_deg), std::min(radius_deg, 180.0) * kDeg, ranges, 4);
  std::vector<std::pair<int64_t, int64_t>> out;
  out.reserve(ranges.nranges());
  for (tsize i = 0; i < ranges.nranges(); ++i) out.emplace_back(ranges.ivbegin(i), ranges.ivend(i));
  return out;
}

std::vector<int64_t> cone_partitions(double ra_deg, double dec_deg, double radius_deg) {
  return cone_pixels(kPartitionNside, ra_deg, dec_deg, radius_deg, true);
}

int nside_for_scale(double angle_deg, int max_nside) {
  int nside = 1;
  // Minimum pixel extent is roughly 0.5 * sqrt(area); keep a margin of 2x.
  while (nside * 2 <= max_nside) {
    double pix_size_deg = std::sqrt(4 * M_PI / (12.0 * (nside * 2) * (nside * 2))) / kDeg;
    if (pix_size_deg * 0.5 < angle_deg) break;
    nside *= 2;
  }
  return nside;
}

}  // namespace astrofm::sky
