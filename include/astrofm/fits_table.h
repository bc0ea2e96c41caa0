#pragma once
// Writing a table as a FITS binary table (CFITSIO), staged and renamed.
// Thread-safety: one writer per thread; CFITSIO calls on distinct files may run concurrently.
#include <string>

#include "astrofm/table.h"

namespace astrofm {

// Streams batches into one BINTABLE HDU named `extname`.
class FitsTableWriter {
 public:
  FitsTableWriter(const std::string& path, const std::string& extname, bool overwrite);
  ~FitsTableWriter();
  void append(const Table& batch);  // the first batch fixes the columns
  void commit();

 private:
  struct State;
  State* st_;
};

}  // namespace astrofm
