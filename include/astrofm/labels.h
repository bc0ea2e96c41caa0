#pragma once
// Targets for probes and supervised baselines: a catalogue column of the
// dataset, or a column of a labels CSV joined on object_id.
// Thread-safety: pure functions over their arguments (CSV reading included).
#include <string>
#include <vector>

#include "astrofm/table.h"

namespace astrofm {

struct Targets {
  std::vector<double> values;             // one per row; NaN = no label
  std::vector<std::string> class_names;   // classification: class index -> label as written
  bool classification = false;
  int64_t labelled() const;
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
};

struct TargetSource {
  std::string target;       // column name (in the labels CSV when given, else in the dataset)
  std::string labels_csv;   // optional; joined on its object_id column (object_id, objid or id, any case; else the first)
  // regression | classification (labels become class indices 0..K-1 in sorted
  // order) | auto (classification for integer or text columns).
  std::string mode = "auto";
};

// `table` must hold object_id, and the target column unless a labels CSV is given.
// Non-finite regression targets count as unlabelled. Throws InputError naming
// `where`, the column and the value on a missing column or a non-numeric value.
Targets load_targets(const Table& table, const TargetSource& src, const std::string& where);

}  // namespace astrofm
