#pragma once
// The objects of one catalogue in memory: ids, sky positions, one id -> row
// map, and the rows sorted along the HEALPix NESTED curve at a fine order, so
// that a cone is a few pixel-range look-ups instead of a scan. Shared by the
// search index, the service and the probes (one map per catalogue).
// Rows keep the order they were given in (a search index addresses vectors
// by row); the curve order is a permutation beside them.
// Thread-safety: immutable after construction; concurrent readers are safe.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace astrofm {

class Catalogue {
 public:
  // Positions are sorted at this order (nside 2^20: pixels of 0.2 arcsec).
  static constexpr int kOrder = 20;

  Catalogue() = default;
  // ra/dec in degrees, NaN where an object has no position (never in a cone).
  // InputError naming `where` and the id for a duplicate id, or a declination
  // beyond +-90.
  Catalogue(std::vector<std::string> ids, std::vector<double> ra, std::vector<double> dec, const std::string& where);
  Catalogue(Catalogue&&) noexcept;
  Catalogue& operator=(Catalogue&&) noexcept;
  Catalogue(const Catalogue&) = delete;
  Catalogue& operator=(const Catalogue&) = delete;

  int64_t size() const { return static_cast<int64_t>(ids_.size()); }
  int64_t row(std::string_view id) const;  // -1 when absent
  bool contains(std::string_view id) const { return row(id) >= 0; }
  const std::vector<std::string>& ids() const { return ids_; }
  const std::vector<double>& ra() const { return ra_; }
  const std::vector<double>& dec() const { return dec_; }

  // Rows within `radius_deg` of (ra, dec), ascending by row: the cone's pixel
  // ranges at a coarse order matched against the sorted pixels, then the
  // exact separation (same answer as testing every object).
  std::vector<int64_t> cone(double ra_deg, double dec_deg, double radius_deg) const;
  // Bytes held (ids, positions, the map, the sorted pixels).
  size_t memory_bytes() const;

 private:
  void index(const std::string& where);
  std::vector<std::string> ids_;
  std::vector<double> ra_, dec_;
  std::unordered_map<std::string_view, int64_t> row_;  // views into ids_
  std::vector<int64_t> pixel_;  // NESTED pixels at kOrder, ascending (kNoPixel first)
  std::vector<int64_t> by_pixel_;  // by_pixel_[k]: the row whose pixel is pixel_[k]
};

}  // namespace astrofm
