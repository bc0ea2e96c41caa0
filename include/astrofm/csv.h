#pragma once
// CSV files: a streaming reader (header row, RFC 4180 quoting, line numbers
// for errors), number parsing as the importers do it, and whole files as
// tables with column types inferred from every row (label files, id lists,
// the CSV importer). Thread-safety: plain values and functions.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "astrofm/error.h"
#include "astrofm/table.h"

namespace astrofm {

class CsvReader {
 public:
  CsvReader(const std::string& path, char delimiter = ',');
  const std::vector<std::string>& header() const { return header_; }
  // Next data row; false at end of file. Throws InputError on a malformed row.
  bool next(std::vector<std::string>& fields);
  int64_t line() const { return line_; }
  const std::string& path() const { return path_; }

 private:
  bool read_record(std::vector<std::string>& fields);
  std::ifstream in_;
  std::string path_;
  char delim_;
  std::vector<std::string> header_;
  int64_t line_ = 0;
};

enum class CsvType { Int, Float, String };
// A field without the spaces and tabs around it.
std::string csv_trim(const std::string& s);
// Parses a number as the importer does: empty, "nan", "NaN", "null", "NA" are NaN.
bool parse_csv_double(const std::string& s, double* out);
bool parse_csv_int(const std::string& s, int64_t* out);

// Column types decided from the whole file: int64 when every value is an
// integer (keeps 18-digit survey ids exact), float64 when every value is a
// number or empty/NaN, else string. `rows`: the data rows counted.
std::vector<CsvType> infer_csv_types(const std::string& path, char delimiter, int64_t* rows);

// Rows of typed fields collected into columns.
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

// A cell as text: exact for 18-digit integer ids, shortest form for floats.
std::string csv_cell(const Column& c, int64_t row);
// The object id column of a table read from CSV: object_id, objid or id (any case); null when none.
const Column* find_csv_id_column(const Table& t);

// A whole CSV file in memory with per-column types inferred (int64, float64
// or string); for label files and tests.
Table read_csv_table(const std::string& csv_path, char delimiter = ',');

}  // namespace astrofm
