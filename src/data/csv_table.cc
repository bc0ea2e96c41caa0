// CSV files as tables (csv.h): a streaming reader with RFC 4180 quoting and
// line numbers, column types inferred from the whole file.
#include "astrofm/csv.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>

#include "astrofm/error.h"

namespace astrofm {

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

std::string csv_trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

namespace {
bool is_null(const std::string& t) {
  return t.empty() || t == "nan" || t == "NaN" || t == "NAN" || t == "null" || t == "NULL" || t == "NA";
}
}  // namespace

bool parse_csv_double(const std::string& s, double* out) {
  std::string t = csv_trim(s);
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
  std::string t = csv_trim(s);
  if (t.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (end != t.c_str() + t.size() || errno == ERANGE) return false;
  *out = v;
  return true;
}

// Column types decided from the whole file: int64 when every value is an
// integer (keeps 18-digit survey ids exact), float64 when every value is a
// number or empty/NaN, else string.
std::vector<CsvType> infer_csv_types(const std::string& path, char delim, int64_t* rows) {
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


std::string csv_cell(const Column& c, int64_t i) {
  if (c.dtype == DType::String) return c.strings[i];
  if (dtype_is_integer(c.dtype)) return std::to_string(c.as_int64(i));
  return fmt::format("{}", c.as_double(i));
}

const Column* find_csv_id_column(const Table& t) {
  for (const char* want : {"object_id", "objid", "id"})
    for (const auto& c : t.columns()) {
      std::string n = c.name;
      std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (n == want) return &c;
    }
  return nullptr;
}

Table read_csv_table(const std::string& path, char delim) {
  int64_t rows = 0;
  auto types = infer_csv_types(path, delim, &rows);
  CsvReader r(path, delim);
  CsvTableBuilder b;
  b.init(r.header(), types);
  std::vector<std::string> f;
  while (r.next(f)) b.add(r, f);
  return b.take();
}

}  // namespace astrofm
