#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <unordered_set>

#include "astrofm/importers.h"
#include "astrofm/progress.h"
#include "csv_reader.h"

namespace astrofm {
namespace fs = std::filesystem;

CsvReader::CsvReader(const std::string& path, char delimiter) : in_(path, std::ios::binary), path_(path), delim_(delimiter) {
  if (!in_) fail_input("{}: cannot open", path);
  if (!read_record(header_)) fail_input("{}: empty file, expected a header row", path);
  for (auto& h : header_) {
    h.erase(0, h.find_first_not_of(" \t\xEF\xBB\xBF"));  // spaces and a UTF-8 BOM
    h.erase(h.find_last_not_of(" \t") + 1);
    if (h.empty()) fail_input("{}: line 1: empty column name in header", path);
  }
  for (size_t i = 0; i < header_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (header_[i] == header_[j]) fail_input("{}: line 1: column '{}' appears twice", path, header_[i]);
}

bool CsvReader::read_record(std::vector<std::string>& fields) {
  fields.clear();
  std::string line;
  do {
    if (!std::getline(in_, line)) return false;
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
  } while (line.empty());
  std::string cur;
  bool quoted = false;
  for (size_t i = 0;; ++i) {
    if (i == line.size()) {
      if (!quoted) break;
      // A quoted field may span lines.
      std::string more;
      if (!std::getline(in_, more)) fail_input("{}: line {}: unterminated quoted field", path_, line_);
      ++line_;
      if (!more.empty() && more.back() == '\r') more.pop_back();
      line += "\n" + more;
    }
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"' && cur.empty()) {
      quoted = true;
    } else if (c == delim_) {
      fields.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  fields.push_back(std::move(cur));
  return true;
}

bool CsvReader::next(std::vector<std::string>& fields) {
  if (!read_record(fields)) return false;
  if (fields.size() != header_.size())
    fail_input("{}: line {}: {} fields, the header has {}", path_, line_, fields.size(), header_.size());
  return true;
}

namespace {
std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}
bool is_null(const std::string& t) {
  return t.empty() || t == "nan" || t == "NaN" || t == "NAN" || t == "null" || t == "NULL" || t == "NA";
}
}  // namespace

bool parse_csv_double(const std::string& s, double* out) {
  std::string t = trim(s);
  if (is_null(t)) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size() && errno != ERANGE;
}

bool parse_csv_int(const std::string& s, int64_t* out) {
  std::string t = trim(s);
  if (t.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (end != t.c_str() + t.size() || errno == ERANGE) return false;
  *out = v;
  return true;
}

namespace {

// Column types decided from the whole file: int64 when every value is an
// integer (keeps 18-digit survey ids exact), float64 when every value is a
// number or empty/NaN, else string.
std::vector<CsvType> infer_types(const std::string& path, char delim, int64_t* rows) {
  CsvReader r(path, delim);
  std::vector<CsvType> types(r.header().size(), CsvType::Int);
  std::vector<std::string> f;
  *rows = 0;
  while (r.next(f)) {
    ++*rows;
    for (size_t i = 0; i < f.size(); ++i) {
      if (types[i] == CsvType::String) continue;
      int64_t iv;
      double dv;
      if (types[i] == CsvType::Int && parse_csv_int(f[i], &iv)) continue;
      types[i] = parse_csv_double(f[i], &dv) ? CsvType::Float : CsvType::String;
    }
  }
  return types;
}

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

struct CsvTableBuilder {
  std::vector<std::string> names;
  std::vector<CsvType> types;
  std::vector<std::vector<int64_t>> ints;
  std::vector<std::vector<double>> floats;
  std::vector<std::vector<std::string>> strings;

  void init(const std::vector<std::string>& header, const std::vector<CsvType>& t) {
    names = header;
    types = t;
    ints.assign(t.size(), {});
    floats.assign(t.size(), {});
    strings.assign(t.size(), {});
  }
  void add(const CsvReader& r, const std::vector<std::string>& f) {
    for (size_t i = 0; i < f.size(); ++i) {
      switch (types[i]) {
        case CsvType::Int: {
          int64_t v;
          if (!parse_csv_int(f[i], &v))
            fail_input("{}: line {}: column '{}': '{}' is not an integer", r.path(), r.line(), names[i], f[i]);
          ints[i].push_back(v);
          break;
        }
        case CsvType::Float: {
          double v;
          if (!parse_csv_double(f[i], &v))
            fail_input("{}: line {}: column '{}': '{}' is not a number", r.path(), r.line(), names[i], f[i]);
          floats[i].push_back(v);
          break;
        }
        case CsvType::String: strings[i].push_back(f[i]); break;
      }
    }
  }
  Table take(const std::vector<int>& skip = {}) {
    Table t;
    for (size_t i = 0; i < names.size(); ++i) {
      if (std::find(skip.begin(), skip.end(), static_cast<int>(i)) != skip.end()) continue;
      if (types[i] == CsvType::Int) t.add(make_column<int64_t>(names[i], ints[i]));
      else if (types[i] == CsvType::Float) t.add(make_column<double>(names[i], floats[i]));
      else t.add(make_string_column(names[i], strings[i]));
      ints[i].clear();
      floats[i].clear();
      strings[i].clear();
    }
    return t;
  }
};

}  // namespace

Table read_csv_table(const std::string& path, char delim) {
  int64_t rows = 0;
  auto types = infer_types(path, delim, &rows);
  CsvReader r(path, delim);
  CsvTableBuilder b;
  b.init(r.header(), types);
  std::vector<std::string> f;
  while (r.next(f)) b.add(r, f);
  return b.take();
}

int64_t import_csv(const std::string& path, const ImportTarget& target, const CsvOptions& opt) {
  int64_t total = 0;
  auto types = infer_types(path, opt.delimiter, &total);
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
    ids.push_back(id_col >= 0 ? trim(f[id_col]) : fmt::format("{}-{}", stem, row));
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
