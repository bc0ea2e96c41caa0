#include "astrofm/labels.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <unordered_map>

#include "astrofm/error.h"
#include "astrofm/csv.h"
#include "astrofm/mmu.h"

namespace astrofm {

int64_t Targets::labelled() const {
  return std::count_if(values.begin(), values.end(), [](double v) { return !std::isnan(v); });
}

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// A labels file's id column: object_id, objid or id (any case), else the first.
const Column& id_column(const Table& t, const std::string& where) {
  if (const Column* c = find_csv_id_column(t)) return *c;
  if (t.columns().empty()) fail_input("{}: no columns", where);
  return t.columns().front();
}

}  // namespace

Targets load_targets(const Table& table, const TargetSource& src, const std::string& where) {
  const Column& ids = table.at(mmu::kObjectId);
  std::vector<std::string> raw(ids.rows);  // the label as written, "" = none
  DType dtype = DType::Float64;
  if (!src.labels_csv.empty()) {
    Table labels = read_csv_table(src.labels_csv);
    const Column& lid = id_column(labels, src.labels_csv);
    const Column* col = labels.find(src.target);
    if (!col) fail_input("{}: no column '{}' (columns: {})", src.labels_csv, src.target, fmt::join(labels.names(), ", "));
    dtype = col->dtype;
    std::unordered_map<std::string, std::string> of;
    for (int64_t i = 0; i < labels.rows(); ++i) of[csv_cell(lid, i)] = csv_cell(*col, i);
    int64_t hits = 0;
    for (int64_t i = 0; i < ids.rows; ++i) {
      auto it = of.find(csv_cell(ids, i));
      if (it != of.end()) raw[i] = it->second, ++hits;
    }
    if (hits == 0)
      fail_input("{}: none of its {} ids ({}, ...) matches an object_id of {} ({}, ...)", src.labels_csv, labels.rows(),
                 labels.rows() ? csv_cell(lid, 0) : "", where, ids.rows ? csv_cell(ids, 0) : "");
  } else {
    const Column* col = table.find(src.target);
    if (!col) fail_input("{}: no column '{}' (columns: {})", where, src.target, fmt::join(table.names(), ", "));
    if (col->row_elems() != 1) fail_input("{}: column '{}' is {}, not a scalar", where, src.target, col->describe());
    dtype = col->dtype;
    for (int64_t i = 0; i < ids.rows; ++i) raw[i] = csv_cell(*col, i);
  }
  if (src.mode != "auto" && src.mode != "regression" && src.mode != "classification")
    fail_usage("target mode must be auto, regression or classification, not '{}'", src.mode);
  bool classify = src.mode == "classification" || (src.mode == "auto" && !dtype_is_float(dtype));
  Targets t;
  t.classification = classify;
  t.values.assign(ids.rows, NAN);
  if (classify) {
    // Sort numerically when every label is a number (so 10 follows 9).
    std::vector<std::string> names;
    for (const auto& r : raw)
      if (!r.empty() && lower(r) != "nan") names.push_back(r);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    bool numeric = std::all_of(names.begin(), names.end(), [](const std::string& s) {
      char* end = nullptr;
      std::strtod(s.c_str(), &end);
      return end && *end == 0;
    });
    if (numeric)
      std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) { return std::stod(a) < std::stod(b); });
    std::map<std::string, int64_t> index;
    for (size_t k = 0; k < names.size(); ++k) index[names[k]] = static_cast<int64_t>(k);
    for (int64_t i = 0; i < ids.rows; ++i)
      if (auto it = index.find(raw[i]); it != index.end()) t.values[i] = static_cast<double>(it->second);
    t.class_names = names;
  } else {
    for (int64_t i = 0; i < ids.rows; ++i) {
      if (raw[i].empty()) continue;
      char* end = nullptr;
      double v = std::strtod(raw[i].c_str(), &end);
      if (!end || *end != 0)
        fail_input("{}: target '{}' of object {} is '{}', not a number", src.labels_csv.empty() ? where : src.labels_csv,
                   src.target, csv_cell(ids, i), raw[i]);
      if (std::isfinite(v)) t.values[i] = v;
    }
  }
  return t;
}

}  // namespace astrofm
