// HATS output: rows staged in the v1 layout (so that checkpoints, resume and
// sharded writes work the same for both formats) become a HATS catalogue on
// commit, one leaf per target partition.
#include <algorithm>
#include <filesystem>
#include <set>

#include <spdlog/spdlog.h>

#include "astrofm/hats.h"
#include "astrofm/mmu.h"
#include "astrofm/sky.h"

namespace astrofm {
namespace fs = std::filesystem;

std::string parse_out_format(const std::string& s) {
  if (s == "hdf5" || s == "hats") return s;
  fail_usage("--out-format '{}': expected hdf5 or hats", s);
}

std::vector<std::pair<int, int64_t>> partitions_of(const Dataset& ds) {
  std::vector<std::pair<int, int64_t>> out;
  for (const auto& p : ds.partitions())
    if (p.healpix != sky::kNoPixel) out.emplace_back(p.order, p.healpix);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void write_hats(const Dataset& src, const std::string& root, const std::string& name,
                const std::vector<std::pair<int, int64_t>>& partitions_in, const std::map<std::string, std::string>& properties) {
  // The NSIDE-16 pixels that hold rows, and the target partitions: the ones
  // asked for, plus NSIDE-16 pixels for rows outside all of them.
  std::set<int64_t> pix16;
  for (const auto& p : src.partitions()) {
    if (p.rows == 0) continue;
    if (p.healpix == sky::kNoPixel)
      fail_input("{}: {} objects have no sky position (NaN ra/dec); a HATS catalogue partitions objects by position", p.path, p.rows);
    if (p.order != 4) fail_input("{}: write_hats reads NSIDE-16 partitions, this one is order {}", p.path, p.order);
    pix16.insert(p.healpix);
  }
  // Targets at order <= 4 gather whole NSIDE-16 pixels; deeper ones split
  // one. Each NSIDE-16 pixel is read once.
  std::map<std::pair<int, int64_t>, std::vector<int64_t>> gather;   // (order <= 4 target) -> NSIDE-16 pixels
  std::map<int64_t, std::set<std::pair<int, int64_t>>> split;       // NSIDE-16 pixel -> deeper targets inside it
  for (const auto& t : partitions_in) {
    hats::check_pixel(t.first, t.second, root);
    if (t.first > 4) split[t.second >> (2 * (t.first - 4))].insert(t);
  }
  std::vector<hats::Leaf> leaves;
  int64_t written = 0;
  std::map<int64_t, std::vector<size_t>> files_of;  // NSIDE-16 pixel -> its partition files
  for (size_t i = 0; i < src.partitions().size(); ++i)
    if (src.partitions()[i].rows > 0) files_of[src.partitions()[i].healpix].push_back(i);
  auto rows_of = [&](int64_t q) {
    Table t;
    for (size_t i : files_of[q]) t.append(read_rows(src, i, 0, src.partitions()[i].rows));
    return t;
  };
  std::map<std::string, std::string> file_meta;
  for (const auto& [k, v] : properties) file_meta["astrofm:" + k] = v;
  auto emit = [&](int order, int64_t pixel, const Table& t) {
    if (t.rows() == 0) return;
    std::string file = hats::leaf_path(root, order, pixel);
    hats::write_file(file, t, file_meta);
    leaves.push_back({order, pixel, {file}, {t.rows()}, t.rows()});
    written += t.rows();
  };
  for (int64_t q : pix16) {
    auto outer = std::find_if(partitions_in.begin(), partitions_in.end(),
                              [&](const auto& t) { return t.first <= 4 && hats::overlaps_order4(t.first, t.second, q); });
    if (outer != partitions_in.end()) gather[*outer].push_back(q);
    else if (!split.count(q)) gather[{4, q}].push_back(q);
  }
  for (const auto& [target, qs] : gather) {
    Table all;
    for (int64_t q : qs) all.append(rows_of(q));
    emit(target.first, target.second, all);
  }
  for (const auto& [q, targets] : split) {
    if (!pix16.count(q)) continue;
    Table all = rows_of(q);
    auto idx = hats::spatial_index(all);
    std::map<std::pair<int, int64_t>, std::vector<int64_t>> rows;
    std::set<int> orders;
    for (const auto& t : targets) orders.insert(t.first);
    const int deepest = *orders.rbegin();
    for (int64_t i = 0; i < all.rows(); ++i) {
      // Outside every target: a leaf of its own at the deepest order, which overlaps none of them.
      std::pair<int, int64_t> home{deepest, idx[i] >> (2 * (hats::kSpatialOrder - deepest))};
      for (int o : orders)
        if (targets.count({o, idx[i] >> (2 * (hats::kSpatialOrder - o))})) home = {o, idx[i] >> (2 * (hats::kSpatialOrder - o))};
      rows[home].push_back(i);
    }
    for (const auto& [t, r] : rows) emit(t.first, t.second, all.take(r));
  }
  ASTROFM_ASSERT(written == src.rows(), "HATS output holds {} of {} rows", written, src.rows());
  std::sort(leaves.begin(), leaves.end(), [](const auto& a, const auto& b) { return std::pair(a.order, a.pixel) < std::pair(b.order, b.pixel); });
  hats::CatalogMeta meta;
  meta.name = name;
  for (const auto& [k, v] : properties) meta.extra[k.rfind("astrofm", 0) == 0 ? k : "astrofm_" + k] = v;
  hats::write_catalog_metadata(root, meta, leaves);
}

int64_t convert_dataset(const std::string& src_path, const std::string& out, const WriteOptions& opt_in) {
  Dataset src = Dataset::open(src_path);
  WriteOptions opt = opt_in;
  opt.format = parse_out_format(opt.format);
  if (opt.format == "hats" && opt.hats_partitions.empty()) opt.hats_partitions = partitions_of(src);
  DatasetWriter w(out, src.config(), opt);
  DatasetReader r(src, {.batch_rows = 4096});
  Table b;
  while (r.next(b)) w.append(b);
  w.commit();
  return src.rows();
}

}  // namespace astrofm
