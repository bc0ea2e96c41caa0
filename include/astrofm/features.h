#pragma once
// Feature matrices for probes and search, read from any MMU dataset: an
// embedding catalogue (`astrofm embed`) or plain catalogue columns.
// Thread-safety: plain values; load_features() reads HDF5 (one HDF5 caller at a time, see mmu.h).
#include <cstdint>
#include <string>
#include <vector>

#include "astrofm/table.h"

namespace astrofm {

// Row-major features [n, d].
struct Features {
  int64_t n = 0, d = 0;
  std::vector<float> x;
  const float* row(int64_t i) const { return x.data() + i * d; }
};

// InputError naming `what`, the row, column and value of the first non-finite
// feature (or a size that does not match n x d). Every probe checks with it.
void check_finite(const Features& f, const char* what);


struct FeatureSet {
  Table rows;                        // object_id, ra, dec and the `keep` columns, one row per object
  Features x;                        // [n, d] float32, columns concatenated (multi-dimensional columns flattened)
  std::vector<std::string> columns;  // the feature columns used
  std::vector<int64_t> column_shape; // per-row shape of a single multi-dimensional column (e.g. tokens [T, D])
};

// columns empty: the dataset's embedding column (`embedding_*`; an error
// listing them when there are several). Feature columns must be numeric; a
// name "a-b" that is not a column is the difference of scalar columns a and b.
// `keep`: further columns to carry along (e.g. a target), when present.
FeatureSet load_features(const std::string& dataset, const std::vector<std::string>& columns,
                         const std::vector<std::string>& keep = {});

// Rows `idx` of a feature matrix.
Features take_rows(const Features& x, const std::vector<int64_t>& idx);

}  // namespace astrofm
