#pragma once
// Sky geometry on top of HEALPix C++ (healpix_cxx): the partitioning MMU uses
// (NSIDE 16, NESTED, on ra/dec in degrees), angular distances, cone queries.
// Torch-free by design.
// Thread-safety: pure functions (healpix_cxx objects are built per call or immutable).
#include <cstdint>
#include <utility>
#include <vector>

namespace astrofm::sky {

// MMU partitions every dataset with HEALPix NSIDE 16 in the NESTED scheme.
constexpr int kPartitionNside = 16;
// Partition of objects without a usable sky position (NaN ra/dec).
constexpr int64_t kNoPixel = -1;

// Same numbers as healpy.ang2pix(nside, ra, dec, lonlat=True, nest=nest).
// Non-finite positions give kNoPixel. Throws InputError for |dec| > 90.
int64_t ang2pix(int nside, double ra_deg, double dec_deg, bool nest = true);
// Pixel centre, ra in [0, 360).
void pix2ang(int nside, int64_t pix, double* ra_deg, double* dec_deg, bool nest = true);
int64_t partition_of(double ra_deg, double dec_deg);

// Great-circle separation (Vincenty formula: stable at all separations).
double separation_deg(double ra1, double dec1, double ra2, double dec2);

struct Vec3 {
  double x, y, z;
};
Vec3 to_vec(double ra_deg, double dec_deg);
// Chord length between unit vectors for an angle; monotone in the angle.
double chord_for_angle_deg(double angle_deg);

// Pixels whose area may hold points within radius of (ra, dec): every pixel
// that overlaps the cone (inclusive query), sorted ascending.
std::vector<int64_t> cone_pixels(int nside, double ra_deg, double dec_deg, double radius_deg,
                                 bool nest = true);
// The same as NESTED pixel ranges [begin, end) at HEALPix `order` (nside
// 2^order): a range at order q is the range [b << 2(k-q), e << 2(k-q)) at
// any finer order k, which is how a catalogue sorted along the curve at a
// fine order answers cones with a few binary searches.
std::vector<std::pair<int64_t, int64_t>> cone_ranges(int order, double ra_deg, double dec_deg, double radius_deg);
// The MMU partitions a cone search must read.
std::vector<int64_t> cone_partitions(double ra_deg, double dec_deg, double radius_deg);

// Largest NSIDE (a power of two, <= max_nside) whose pixels are at least
// `angle_deg` across, so that neighbours within the angle touch adjacent pixels.
int nside_for_scale(double angle_deg, int max_nside = 1 << 20);

}  // namespace astrofm::sky
