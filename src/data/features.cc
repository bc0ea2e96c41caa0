#include "astrofm/features.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "astrofm/error.h"
#include "astrofm/mmu.h"

namespace astrofm {

void check_finite(const Features& f, const char* what) {
  if (static_cast<int64_t>(f.x.size()) != f.n * f.d) fail_input("{} features: {} values for {} x {}", what, f.x.size(), f.n, f.d);
  for (int64_t i = 0; i < f.n * f.d; ++i)
    if (!std::isfinite(f.x[i])) fail_input("{} features: row {} column {} is {}", what, i / f.d, i % f.d, f.x[i]);
}

FeatureSet load_features(const std::string& path, const std::vector<std::string>& columns, const std::vector<std::string>& keep) {
  Dataset ds = Dataset::open(path);
  FeatureSet fs;
  fs.columns = columns;
  auto schema = ds.schema();
  std::vector<std::string> names;
  for (const auto& c : schema) names.push_back(c.name);
  if (fs.columns.empty()) {
    for (const auto& c : schema)
      if (c.name.rfind("embedding_", 0) == 0) fs.columns.push_back(c.name);
    if (fs.columns.empty())
      fail_input("{}: no embedding_* column; name the feature columns with --features (columns: {})", path,
                 fmt::join(names, ", "));
    if (fs.columns.size() > 1)
      fail_input("{}: several embedding columns ({}); pick one with --features", path, fmt::join(fs.columns, ", "));
  }
  // A feature "a-b" not stored as a column is the difference of two scalar
  // columns (a colour from two magnitudes).
  auto find = [&](const std::string& n) {
    return std::find_if(schema.begin(), schema.end(), [&](const ColumnSchema& c) { return c.name == n; });
  };
  std::vector<std::pair<std::string, std::string>> parts;  // per feature: (column, subtracted column or "")
  std::vector<std::string> stored;                          // distinct stored columns to read
  for (const auto& name : fs.columns) {
    std::string a = name, b;
    if (find(name) == schema.end()) {
      size_t dash = name.find('-');
      if (dash != std::string::npos && find(name.substr(0, dash)) != schema.end() && find(name.substr(dash + 1)) != schema.end())
        a = name.substr(0, dash), b = name.substr(dash + 1);
    }
    parts.emplace_back(a, b);
    for (const auto& s : {a, b})
      if (!s.empty() && std::find(stored.begin(), stored.end(), s) == stored.end()) stored.push_back(s);
  }
  int64_t d = 0;
  for (const auto& [name, minus] : parts) {
    auto it = find(name);
    if (it == schema.end())
      fail_input("{}: no column '{}' (columns: {})", path, name,
                 fmt::join(names, ", "));
    if (!minus.empty() && (!it->shape.empty() || !find(minus)->shape.empty()))
      fail_input("{}: '{}-{}': differences need scalar columns", path, name, minus);
    if (!dtype_is_float(it->dtype) && !dtype_is_integer(it->dtype) && it->dtype != DType::Bool)
      fail_input("{}: column '{}' is {}, not numeric", path, name, dtype_name(it->dtype));
    int64_t per = 1;
    for (int64_t s : it->shape) per *= s;
    d += per;
    if (fs.columns.size() == 1) fs.column_shape = it->shape;
  }
  std::vector<std::string> read = {mmu::kObjectId};
  for (const char* c : {mmu::kRa, mmu::kDec})
    if (ds.has_column(c)) read.push_back(c);
  for (const auto& k : keep)
    if (ds.has_column(k) && std::find(read.begin(), read.end(), k) == read.end()) read.push_back(k);
  size_t meta_cols = read.size();
  for (const auto& s : stored)
    if (std::find(read.begin(), read.end(), s) == read.end()) read.push_back(s);
  DatasetReader r(ds, {.columns = read, .batch_rows = 4096});
  Table b;
  fs.x.d = d;
  while (r.next(b)) {
    Table meta;
    for (size_t k = 0; k < meta_cols; ++k) meta.add(b.at(read[k]));
    if (fs.rows.rows() == 0) fs.rows = meta;
    else fs.rows.append(meta);
    size_t base = fs.x.x.size();
    fs.x.x.resize(base + b.rows() * d);
    for (int64_t i = 0; i < b.rows(); ++i) {
      float* out = fs.x.x.data() + base + i * d;
      for (const auto& [name, minus] : parts) {
        const Column& c = b.at(name);
        int64_t per = c.row_elems();
        if (!minus.empty()) {
          *out++ = static_cast<float>(c.as_double(i) - b.at(minus).as_double(i));
          continue;
        }
        if (c.dtype == DType::Float32) {
          std::memcpy(out, c.ptr<float>() + i * per, per * sizeof(float));
          out += per;
          continue;
        }
        for (int64_t j = 0; j < per; ++j) *out++ = static_cast<float>(c.as_double(i * per + j));
      }
    }
  }
  fs.x.n = fs.rows.rows();
  return fs;
}

Features take_rows(const Features& x, const std::vector<int64_t>& idx) {
  Features out;
  out.n = static_cast<int64_t>(idx.size());
  out.d = x.d;
  out.x.resize(out.n * out.d);
  for (int64_t i = 0; i < out.n; ++i) std::memcpy(out.x.data() + i * x.d, x.row(idx[i]), x.d * sizeof(float));
  return out;
}

}  // namespace astrofm
