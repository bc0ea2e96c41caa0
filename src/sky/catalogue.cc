#include "astrofm/catalogue.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "astrofm/error.h"
#include "astrofm/sky.h"

namespace astrofm {

Catalogue::Catalogue(std::vector<std::string> ids, std::vector<double> ra, std::vector<double> dec, const std::string& where)
    : ids_(std::move(ids)), ra_(std::move(ra)), dec_(std::move(dec)) {
  ASTROFM_ASSERT(ra_.size() == ids_.size() && dec_.size() == ids_.size(), "{}: {} ids, {} ra, {} dec", where, ids_.size(), ra_.size(),
                 dec_.size());
  index(where);
}

// The map holds views into ids_: a move keeps the strings where they are
// (std::vector's move takes the buffer), so the views stay valid.
Catalogue::Catalogue(Catalogue&&) noexcept = default;
Catalogue& Catalogue::operator=(Catalogue&&) noexcept = default;

void Catalogue::index(const std::string& where) {
  const int64_t n = size();
  row_.reserve(ids_.size());
  for (int64_t i = 0; i < n; ++i)
    if (!row_.emplace(ids_[i], i).second) fail_input("{}: object_id '{}' appears twice (rows {} and {})", where, ids_[i], row_[ids_[i]], i);
  std::vector<int64_t> pix(n);
  const int nside = 1 << kOrder;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(dec_[i]) && std::abs(dec_[i]) > 90) fail_input("{}: object '{}' has dec {} (beyond +-90)", where, ids_[i], dec_[i]);
    pix[i] = sky::ang2pix(nside, ra_[i], dec_[i], true);
  }
  by_pixel_.resize(n);
  std::iota(by_pixel_.begin(), by_pixel_.end(), 0);
  std::stable_sort(by_pixel_.begin(), by_pixel_.end(), [&](int64_t a, int64_t b) { return pix[a] < pix[b]; });
  pixel_.resize(n);
  for (int64_t k = 0; k < n; ++k) pixel_[k] = pix[by_pixel_[k]];
}

int64_t Catalogue::row(std::string_view id) const {
  auto it = row_.find(id);
  return it == row_.end() ? -1 : it->second;
}

std::vector<int64_t> Catalogue::cone(double ra_deg, double dec_deg, double radius_deg) const {
  if (!(radius_deg >= 0)) fail_usage("cone radius must be >= 0, got {}", radius_deg);
  std::vector<int64_t> out;
  if (ids_.empty()) return out;
  // The coarsest order whose pixels are still smaller than the cone keeps
  // both the range count and the area tested beyond the cone small.
  const int order = std::countr_zero(static_cast<unsigned>(sky::nside_for_scale(radius_deg / 4, 1 << kOrder)));
  const int shift = 2 * (kOrder - order);
  for (auto [b, e] : sky::cone_ranges(order, ra_deg, dec_deg, radius_deg)) {
    auto lo = std::lower_bound(pixel_.begin(), pixel_.end(), b << shift);
    auto hi = std::lower_bound(lo, pixel_.end(), e << shift);
    for (auto it = lo; it != hi; ++it) {
      int64_t r = by_pixel_[it - pixel_.begin()];
      if (sky::separation_deg(ra_deg, dec_deg, ra_[r], dec_[r]) <= radius_deg) out.push_back(r);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t Catalogue::memory_bytes() const {
  size_t b = sizeof(*this);
  for (const auto& s : ids_) b += sizeof(std::string) + (s.capacity() > 15 ? s.capacity() + 1 : 0);
  b += (ra_.capacity() + dec_.capacity()) * sizeof(double) + (pixel_.capacity() + by_pixel_.capacity()) * sizeof(int64_t);
  // unordered_map: a node (key, value, next pointer, cached hash) per entry and one bucket pointer each.
  b += row_.size() * (sizeof(std::pair<const std::string_view, int64_t>) + 2 * sizeof(void*)) + row_.bucket_count() * sizeof(void*);
  return b;
}

}  // namespace astrofm
