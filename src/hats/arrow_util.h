#pragma once
// What the HATS Parquet reader and writer share (src/hats only; Arrow inside).
#include <string>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "astrofm/error.h"

namespace astrofm::hats::detail {

// MMU v1.5 struct fields whose v1 name is not "<struct>_<field>".
struct Rename {
  const char* strct;
  const char* field;
  const char* column;
};
constexpr Rename kRenames[] = {{"image", "flux", "image_array"}};
// v1 columns written back into the v1.5 structs.
constexpr const char* kStructs[] = {"image", "spectrum"};

inline std::string flat_name(const std::vector<std::string>& path) {
  if (path.size() == 2)
    for (const auto& r : kRenames)
      if (path[0] == r.strct && path[1] == r.field) return r.column;
  std::string s = path[0];
  for (size_t i = 1; i < path.size(); ++i) s += "_" + path[i];
  return s;
}

template <class T>
T check(arrow::Result<T> r, const std::string& file, const char* what) {
  if (!r.ok()) fail_corrupt("{}: cannot {}: {}", file, what, r.status().ToString());
  return std::move(r).ValueUnsafe();
}
inline void check(const arrow::Status& s, const std::string& file, const char* what) {
  if (!s.ok()) fail_corrupt("{}: cannot {}: {}", file, what, s.ToString());
}

}  // namespace astrofm::hats::detail
