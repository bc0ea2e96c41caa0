#pragma once
// A streaming CSV reader: header row, RFC 4180 quoting, line numbers for errors.
#include <fstream>
#include <string>
#include <vector>

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
// Parses a number as the importer does: empty, "nan", "NaN", "null" are NaN.
bool parse_csv_double(const std::string& s, double* out);
bool parse_csv_int(const std::string& s, int64_t* out);

}  // namespace astrofm
