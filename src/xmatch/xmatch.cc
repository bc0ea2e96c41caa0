#include "astrofm/xmatch.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include <healpix_cxx/healpix_base.h>
#include <healpix_cxx/pointing.h>

#include "astrofm/progress.h"
#include "astrofm/sky.h"

namespace astrofm {
namespace {

constexpr double kDeg = M_PI / 180.0;

// Catalogue B bucketed by HEALPix pixel at a scale comparable to the radius:
// objects sorted by pixel (with their unit vectors stored in that order, for
// locality), the distinct pixels with their ranges, and a bitmap of occupied
// pixels that answers most (empty) lookups with one memory access.
struct PixelIndex {
  T_Healpix_Base<int64> base;
  std::vector<int64_t> order;   // B index of the k-th object in pixel order
  std::vector<sky::Vec3> vec;   // unit vectors, in pixel order
  std::vector<int64_t> pixels;  // distinct occupied pixels, ascending
  std::vector<int64_t> start;   // range of pixels[i] in order: [start[i], start[i+1])
  std::vector<uint64_t> bits;
  static constexpr int64_t kBitMask = (int64_t{1} << 27) - 1;

  PixelIndex(const std::vector<double>& ra, const std::vector<double>& dec, int nside)
      : base(nside, NEST, SET_NSIDE), bits((kBitMask + 1) / 64, 0) {
    std::vector<std::pair<int64_t, int64_t>> keyed;
    keyed.reserve(ra.size());
    for (size_t i = 0; i < ra.size(); ++i) {
      if (!std::isfinite(ra[i]) || !std::isfinite(dec[i])) continue;
      sky::Vec3 v = sky::to_vec(ra[i], dec[i]);
      keyed.push_back({base.vec2pix(vec3(v.x, v.y, v.z)), static_cast<int64_t>(i)});
    }
    std::sort(keyed.begin(), keyed.end());
    for (size_t k = 0; k < keyed.size(); ++k) {
      auto [p, i] = keyed[k];
      order.push_back(i);
      vec.push_back(sky::to_vec(ra[i], dec[i]));
      if (pixels.empty() || pixels.back() != p) {
        pixels.push_back(p);
        start.push_back(static_cast<int64_t>(k));
        bits[(p & kBitMask) >> 6] |= uint64_t{1} << (p & 63);
      }
    }
    start.push_back(static_cast<int64_t>(keyed.size()));
  }

  // [begin, end) in `order` of pixel p; empty when unoccupied.
  std::pair<int64_t, int64_t> range(int64_t p) const {
    if (!((bits[(p & kBitMask) >> 6] >> (p & 63)) & 1)) return {0, 0};
    auto it = std::lower_bound(pixels.begin(), pixels.end(), p);
    if (it == pixels.end() || *it != p) return {0, 0};
    size_t i = static_cast<size_t>(it - pixels.begin());
    return {start[i], start[i + 1]};
  }
};

}  // namespace

std::vector<int64_t> match_nearest(const std::vector<double>& ra_a, const std::vector<double>& dec_a,
                                   const std::vector<double>& ra_b, const std::vector<double>& dec_b,
                                   double radius_deg, std::vector<double>* sep_deg) {
  if (!(radius_deg > 0) || radius_deg > 10) fail_usage("match radius must be in (0, 36000] arcsec, got {} arcsec", radius_deg * 3600);
  if (ra_a.size() != dec_a.size() || ra_b.size() != dec_b.size()) fail_input("ra and dec arrays differ in length");
  // Pixels at least 8 radii across: every neighbour within the radius then lies
  // in the object's own pixel or one of its 8 neighbours (HEALPix pixels are
  // never more than ~2x anisotropic), a cheaper query than a disc search.
  int nside = 1;
  while (nside < (1 << 20) && std::sqrt(4 * M_PI / (12.0 * (2.0 * nside) * (2.0 * nside))) >= 8 * radius_deg * kDeg)
    nside *= 2;
  PixelIndex idx(ra_b, dec_b, nside);
  size_t n = ra_a.size();
  std::vector<int64_t> out(n, -1);
  if (sep_deg) sep_deg->assign(n, NAN);
  double max_chord = sky::chord_for_angle_deg(radius_deg);
  auto work = [&](size_t lo, size_t hi) {
    fix_arr<int64, 8> nb;
    for (size_t i = lo; i < hi; ++i) {
      if (!std::isfinite(ra_a[i]) || !std::isfinite(dec_a[i])) continue;
      sky::Vec3 v = sky::to_vec(ra_a[i], dec_a[i]);
      int64 own = idx.base.vec2pix(vec3(v.x, v.y, v.z));
      idx.base.neighbors(own, nb);
      double best = max_chord * max_chord * (1 + 1e-12);
      int64_t best_j = -1;
      for (int q = -1; q < 8; ++q) {
        int64 p = q < 0 ? own : nb[q];
        if (p < 0) continue;
        auto [kb, ke] = idx.range(p);
        for (int64_t k = kb; k < ke; ++k) {
          int64_t j = idx.order[k];
          const sky::Vec3& w = idx.vec[k];
          double dx = v.x - w.x, dy = v.y - w.y, dz = v.z - w.z, d2 = dx * dx + dy * dy + dz * dz;
          if (d2 < best || (d2 == best && best_j >= 0 && j < best_j)) {
            best = d2;
            best_j = j;
          }
        }
      }
      if (best_j < 0) continue;
      // Confirm with the exact great-circle separation (the chord test is a prefilter).
      double sep = sky::separation_deg(ra_a[i], dec_a[i], ra_b[best_j], dec_b[best_j]);
      if (sep <= radius_deg) {
        out[i] = best_j;
        if (sep_deg) (*sep_deg)[i] = sep;
      }
    }
  };
  unsigned nt = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  if (n < 20000) nt = 1;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < nt; ++t) threads.emplace_back(work, n * t / nt, n * (t + 1) / nt);
  for (auto& t : threads) t.join();
  return out;
}

namespace {

struct Positions {
  std::vector<double> ra, dec;
  std::vector<int> part;      // partition index in the dataset
  std::vector<int64_t> row;   // row within that partition
};

Positions read_positions(const Dataset& ds) {
  Positions p;
  DatasetReader r(ds, {.columns = {mmu::kRa, mmu::kDec}, .batch_rows = 1 << 16});
  Table b;
  while (r.next(b)) {
    const Column &ra = b.at(mmu::kRa), &dec = b.at(mmu::kDec);
    for (int64_t i = 0; i < b.rows(); ++i) {
      p.ra.push_back(ra.as_double(i));
      p.dec.push_back(dec.as_double(i));
      p.part.push_back(static_cast<int>(r.current_partition_index()));
      p.row.push_back(r.current_row() + i);
    }
  }
  return p;
}

// Reads the given rows of every column of `ds`, in the order given. Rows are
// read in short contiguous runs per partition, so memory stays bounded by the
// batch, not by the partition.
Table gather_rows(const Dataset& ds, const Positions& pos, const std::vector<int64_t>& global) {
  constexpr int64_t kMaxGap = 64, kMaxRun = 2048;
  std::map<int, std::vector<std::pair<int64_t, size_t>>> by_part;  // part -> (row, output slot)
  for (size_t k = 0; k < global.size(); ++k) by_part[pos.part[global[k]]].push_back({pos.row[global[k]], k});
  std::vector<int64_t> order(global.size());
  Table gathered;
  size_t filled = 0;
  for (auto& [part, rows] : by_part) {
    std::sort(rows.begin(), rows.end());
    for (size_t a = 0; a < rows.size();) {
      size_t b = a + 1;
      while (b < rows.size() && rows[b].first - rows[b - 1].first <= kMaxGap && rows[b].first - rows[a].first < kMaxRun) ++b;
      int64_t lo = rows[a].first;
      Table run = read_rows(ds.partitions()[part], lo, rows[b - 1].first - lo + 1);
      std::vector<int64_t> take;
      for (size_t k = a; k < b; ++k) {
        take.push_back(rows[k].first - lo);
        order[rows[k].second] = static_cast<int64_t>(filled++);
      }
      gathered.append(run.take(take));
      a = b;
    }
  }
  return gathered.take(order);
}

}  // namespace

XmatchResult xmatch_datasets(const std::vector<std::string>& inputs, const std::string& out, const XmatchOptions& opt) {
  if (inputs.size() < 2) fail_usage("xmatch needs at least two datasets");
  std::vector<Dataset> ds;
  for (const auto& in : inputs) ds.push_back(Dataset::open(in));
  std::vector<std::string> prefix = opt.prefixes;
  if (prefix.empty())
    for (const auto& d : ds) prefix.push_back(d.config() + "_");
  if (prefix.size() != ds.size()) fail_usage("{} prefixes for {} inputs", prefix.size(), ds.size());
  for (size_t i = 1; i < prefix.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (prefix[i] == prefix[j]) fail_usage("inputs {} and {} would share the column prefix '{}'; pass --prefix", j + 1, i + 1, prefix[i]);

  XmatchResult res;
  std::vector<Positions> pos;
  for (const auto& d : ds) {
    pos.push_back(read_positions(d));
    res.input_rows.push_back(static_cast<int64_t>(pos.back().ra.size()));
  }
  double radius = opt.radius_arcsec / 3600.0;
  size_t na = pos[0].ra.size();
  std::vector<std::vector<int64_t>> match(ds.size());
  std::vector<std::vector<double>> sep(ds.size());
  for (size_t k = 1; k < ds.size(); ++k)
    match[k] = match_nearest(pos[0].ra, pos[0].dec, pos[k].ra, pos[k].dec, radius, &sep[k]);

  // Column names: the first input keeps its names; others are prefixed on clashes
  // (and always for the mandatory MMU columns, which come from the first input).
  std::set<std::string> taken;
  for (const auto& c : ds[0].schema()) taken.insert(c.name);
  std::vector<std::map<std::string, std::string>> rename(ds.size());
  for (size_t k = 1; k < ds.size(); ++k) {
    for (const auto& c : ds[k].schema()) {
      std::string name = c.name;
      if (taken.count(name)) name = prefix[k] + name;
      if (taken.count(name)) fail_input("column '{}' of {} clashes even with prefix '{}'", c.name, inputs[k], prefix[k]);
      taken.insert(name);
      rename[k][c.name] = name;
    }
    std::string s = prefix[k] + "sep_arcsec";
    if (taken.count(s)) fail_input("column '{}' already exists", s);
    taken.insert(s);
  }

  WriteOptions wo = opt.write;
  DatasetWriter w(out, opt.config, wo);
  w.set_attribute("source", fmt::format("astrofm xmatch {} within {} arcsec", fmt::join(inputs, " "), opt.radius_arcsec));
  Progress bar("xmatch", static_cast<int64_t>(na));
  // Stream the reference catalogue partition by partition; gather partners.
  DatasetReader ra(ds[0], {.batch_rows = 8192});
  Table batch;
  int64_t offset = 0;
  while (ra.next(batch)) {
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < batch.rows(); ++i) {
      bool all = true;
      for (size_t k = 1; k < ds.size(); ++k) all = all && match[k][offset + i] >= 0;
      if (all) keep.push_back(i);
    }
    if (!keep.empty()) {
      Table outb = batch.take(keep);
      for (size_t k = 1; k < ds.size(); ++k) {
        std::vector<int64_t> partners;
        std::vector<double> s;
        for (int64_t i : keep) {
          partners.push_back(match[k][offset + i]);
          s.push_back(sep[k][offset + i] * 3600.0);
        }
        Table other = gather_rows(ds[k], pos[k], partners);
        for (auto& c : other.columns()) {
          c.name = rename[k].at(c.name);
          outb.add(std::move(c));
        }
        outb.add(make_column<double>(prefix[k] + "sep_arcsec", s));
      }
      w.append(outb);
      res.matched += outb.rows();
    }
    offset += batch.rows();
    bar.advance(batch.rows());
  }
  bar.finish();
  w.commit();
  return res;
}

}  // namespace astrofm
