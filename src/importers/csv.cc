#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <unordered_set>

#include "astrofm/importers.h"
#include "astrofm/progress.h"
#include "astrofm/csv.h"

namespace astrofm {
namespace fs = std::filesystem;

namespace {

int find_column(const std::vector<std::string>& header, const std::string& wanted,
                std::initializer_list<const char*> defaults, const std::string& path, const char* what) {
  if (!wanted.empty()) {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == wanted) return static_cast<int>(i);
    fail_input("{}: no column '{}' for {} (columns: {})", path, wanted, what, fmt::join(header, ", "));
  }
  for (const char* d : defaults)
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == d) return static_cast<int>(i);
  return -1;
}

}  // namespace


int64_t import_csv(const std::string& path, const ImportTarget& target, const CsvOptions& opt) {
  int64_t total = 0;
  auto types = infer_csv_types(path, opt.delimiter, &total);
  CsvReader r(path, opt.delimiter);
  const auto& header = r.header();
  int id_col = find_column(header, opt.id_column, {"object_id", "objid", "OBJID", "objID", "id", "ID"}, path, "--id-column");
  int ra_col = find_column(header, opt.ra_column, {"ra", "RA", "RA_deg", "ra_deg"}, path, "--ra");
  int dec_col = find_column(header, opt.dec_column, {"dec", "DEC", "Dec", "DEC_deg", "dec_deg"}, path, "--dec");
  if ((ra_col < 0) != (dec_col < 0)) fail_input("{}: has an ra column but no dec column, or the reverse", path);
  for (int c : {ra_col, dec_col})
    if (c >= 0 && types[c] == CsvType::String)
      fail_input("{}: column '{}' must hold numbers (degrees)", path, header[c]);
  std::string stem = fs::path(path).stem().string();
  ImportTarget t = target;
  if (t.config.empty()) t.config = stem;
  DatasetWriter w(t.out, t.config, t.write);
  w.set_attribute("source", fs::path(path).filename().string());

  CsvTableBuilder b;
  b.init(header, types);
  std::vector<std::string> f, ids;
  std::vector<double> ra, dec;
  Progress bar("import csv", total);
  auto flush = [&] {
    // object_id/ra/dec are the MMU names; catalogue columns of the same name are replaced.
    Table batch = b.take();
    if (ra_col >= 0) {
      batch.remove(header[ra_col]);
      batch.remove(header[dec_col]);
    }
    batch.remove(mmu::kObjectId);
    batch.remove(mmu::kHealpix);
    Table out;
    out.add(make_string_column(mmu::kObjectId, ids));
    out.add(make_column<double>(mmu::kRa, ra));
    out.add(make_column<double>(mmu::kDec, dec));
    for (auto& c : batch.columns()) out.add(std::move(c));
    w.append(out);
    bar.advance(out.rows());
    ids.clear();
    ra.clear();
    dec.clear();
  };
  int64_t row = 0;
  std::unordered_set<std::string> seen;
  while (r.next(f)) {
    b.add(r, f);
    ids.push_back(id_col >= 0 ? csv_trim(f[id_col]) : fmt::format("{}-{}", stem, row));
    if (ids.back().empty()) fail_input("{}: line {}: empty object id in column '{}'", path, r.line(), header[id_col]);
    if (!seen.insert(ids.back()).second)
      fail_input("{}: line {}: object id '{}' in column '{}' appears twice", path, r.line(), ids.back(), header[id_col]);
    double a = std::numeric_limits<double>::quiet_NaN(), d = a;
    if (ra_col >= 0) {
      parse_csv_double(f[ra_col], &a);
      parse_csv_double(f[dec_col], &d);
      if (std::isfinite(d) && (d < -90 || d > 90))
        fail_input("{}: line {}: column '{}': {} is outside [-90, 90]", path, r.line(), header[dec_col], d);
      if (std::isfinite(a) != std::isfinite(d))
        fail_input("{}: line {}: ra and dec must both be given or both be empty", path, r.line());
      if (std::isfinite(a)) a = std::fmod(std::fmod(a, 360.0) + 360.0, 360.0);
    }
    ra.push_back(a);
    dec.push_back(d);
    ++row;
    if (ids.size() == 65536) flush();
  }
  if (!ids.empty()) flush();
  if (row == 0) fail_input("{}: no data rows", path);
  bar.finish();
  w.commit();
  return row;
}

}  // namespace astrofm
