#include "astrofm/xmatch.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>


#include "astrofm/progress.h"
#include "astrofm/sky.h"

namespace astrofm {
namespace {

constexpr double kDeg = M_PI / 180.0;

// The zones algorithm: catalogue B cut into declination zones one radius
// tall, each sorted by RA. The partners of a position lie in its own zone and
// the two beside it, inside an RA window of asin(sin r / cos dec), so a query
// reads three short, contiguous runs (found by binary search when a zone is
// crowded) and computes exact separations only for the few positions that
// pass the declination and RA cuts. Queries run in zone order, so
// consecutive queries read neighbouring memory. Nothing here needs a unit
// vector or a HEALPix pixel per object.
struct ZoneIndex {
  double height;                 // degrees
  int64_t zones;
  std::vector<int64_t> start;    // entries of zone z: [start[z], start[z + 1])
  std::vector<double> ra, dec;   // in (zone, ra) order
  std::vector<int64_t> id;       // index in the input

  int64_t zone_of(double dec_deg) const {
    return std::clamp<int64_t>(static_cast<int64_t>(std::floor((dec_deg + 90.0) / height)), 0, zones - 1);
  }

  ZoneIndex(const std::vector<double>& ra_raw, const std::vector<double>& dec_in, double h) : height(h) {
    zones = static_cast<int64_t>(std::ceil(180.0 / h)) + 1;
    // RA in [0, 360), so the windows below wrap in one place.
    std::vector<double> ra_in(ra_raw.size());
    for (size_t i = 0; i < ra_raw.size(); ++i) {
      double r = std::fmod(ra_raw[i], 360.0);
      ra_in[i] = r < 0 ? r + 360.0 : r;
    }
    // Counting sort by zone, then each zone by RA (ties by input order).
    std::vector<int64_t> count(zones + 1, 0);
    std::vector<int64_t> zone(ra_in.size(), -1);
    for (size_t i = 0; i < ra_in.size(); ++i) {
      if (!std::isfinite(ra_in[i]) || !std::isfinite(dec_in[i])) continue;
      zone[i] = zone_of(dec_in[i]);
      ++count[zone[i] + 1];
    }
    for (int64_t z = 0; z < zones; ++z) count[z + 1] += count[z];
    start = count;
    std::vector<int64_t> order(count[zones]);
    for (size_t i = 0; i < ra_in.size(); ++i)
      if (zone[i] >= 0) order[count[zone[i]]++] = static_cast<int64_t>(i);
    for (int64_t z = 0; z < zones; ++z)
      if (start[z + 1] - start[z] > 1)
        std::sort(order.begin() + start[z], order.begin() + start[z + 1], [&](int64_t x, int64_t y) {
          return ra_in[x] < ra_in[y] || (ra_in[x] == ra_in[y] && x < y);
        });
    ra.resize(order.size()), dec.resize(order.size()), id = order;
    for (size_t k = 0; k < order.size(); ++k) ra[k] = ra_in[order[k]], dec[k] = dec_in[order[k]];
  }

  // First entry of zone z with ra >= lo.
  int64_t first_at(int64_t z, double lo) const {
    int64_t b = start[z], e = start[z + 1];
    if (e - b <= 16) {
      while (b < e && ra[b] < lo) ++b;
      return b;
    }
    return std::lower_bound(ra.begin() + b, ra.begin() + e, lo) - ra.begin();
  }
};

}  // namespace

std::vector<int64_t> match_nearest(const std::vector<double>& ra_a, const std::vector<double>& dec_a,
                                   const std::vector<double>& ra_b, const std::vector<double>& dec_b,
                                   double radius_deg, std::vector<double>* sep_deg) {
  if (!(radius_deg > 0) || radius_deg > 10) fail_usage("match radius must be in (0, 36000] arcsec, got {} arcsec", radius_deg * 3600);
  if (ra_a.size() != dec_a.size() || ra_b.size() != dec_b.size()) fail_input("ra and dec arrays differ in length");
  // Zones at least one radius tall (and no more than ~10^6 of them).
  const double h = std::max(radius_deg, 180.0 / (1 << 20));
  ZoneIndex idx(ra_b, dec_b, h);
  // The queries in zone order too (their own counting sort).
  ZoneIndex qa(ra_a, dec_a, h);
  size_t n = ra_a.size();
  std::vector<int64_t> out(n, -1);
  if (sep_deg) sep_deg->assign(n, NAN);
  const double sin_r = std::sin(radius_deg * kDeg), margin = 1e-9;
  auto work = [&](size_t lo, size_t hi) {
    for (size_t q = lo; q < hi; ++q) {
      const double ra = qa.ra[q], dec = qa.dec[q];
      const int64_t z = qa.zone_of(dec);
      // Half-width of the RA window; the whole ring near a pole.
      double cos_dec = std::cos(dec * kDeg), half = 360.0;
      if (std::abs(dec) + radius_deg < 90.0 && sin_r < cos_dec) half = std::asin(sin_r / cos_dec) / kDeg + margin;
      double best = radius_deg * (1 + 1e-12);
      int64_t best_j = -1;
      auto scan = [&](int64_t zz, double a0, double a1) {
        for (int64_t k = idx.first_at(zz, a0), e = idx.start[zz + 1]; k < e && idx.ra[k] <= a1; ++k) {
          if (std::abs(idx.dec[k] - dec) > radius_deg + margin) continue;
          double s = sky::separation_deg(ra, dec, idx.ra[k], idx.dec[k]);
          int64_t j = idx.id[k];
          if (s < best || (s == best && best_j >= 0 && j < best_j)) best = s, best_j = j;
        }
      };
      for (int64_t zz = std::max<int64_t>(0, z - 1); zz <= std::min(idx.zones - 1, z + 1); ++zz) {
        if (idx.start[zz] == idx.start[zz + 1]) continue;
        if (half >= 180.0) {
          scan(zz, -1.0, 1e9);
          continue;
        }
        scan(zz, ra - half, ra + half);
        if (ra - half < 0) scan(zz, ra - half + 360.0, 1e9);       // across RA 0
        if (ra + half >= 360.0) scan(zz, -1.0, ra + half - 360.0);  // across RA 360
      }
      if (best_j < 0 || best > radius_deg) continue;
      int64_t i = qa.id[q];
      out[i] = best_j;
      if (sep_deg) (*sep_deg)[i] = best;
    }
  };
  size_t nq = qa.id.size();
  unsigned nt = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  if (nq < 20000) nt = 1;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < nt; ++t) threads.emplace_back(work, nq * t / nt, nq * (t + 1) / nt);
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
      Table run = read_rows(ds, part, lo, rows[b - 1].first - lo + 1);
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
