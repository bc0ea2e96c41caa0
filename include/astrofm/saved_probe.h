#pragma once
// A fitted probe saved to a file (`astrofm probe ... --save PROBE`) and
// applied later (`POST /v1/predict`, Python). The file is an astrofm model
// file (architecture "probe"): the probe's options, the labelled training
// features it was fitted on (after PCA, with the PCA basis when one was
// used), their targets, the class names, and what the features are (columns,
// the embedding model that made them). Loading fits the probe again on those
// rows with the same seed: exact for knn, ridge and logistic, the same
// network for mlp/attentive on the same build (deterministic on CPU). The
// save-time predictions of the first training rows are stored and checked
// on load; a mismatch is reported, not hidden. Torch-free header.
// Thread-safety: predict() is const and safe to call concurrently.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/features.h"
#include "astrofm/probe.h"

namespace astrofm {

struct ProbeSaveData {
  ProbeOptions options;
  std::string target;                       // the target column
  std::vector<std::string> class_names;     // classification
  std::vector<std::string> feature_columns; // as read from the dataset (before PCA)
  std::string model_id;                     // the embedding model behind the features ("" for catalogue columns)
  std::string trained_on;                   // the training dataset
  const Pca* pca = nullptr;                 // when features were projected
  Features x;                               // training rows, as the probe saw them (after PCA)
  std::vector<double> y;
};

// Writes the probe file (to path.tmp, then renamed).
void save_probe(const std::string& path, const ProbeSaveData& d);

class SavedProbe {
 public:
  // InputError naming the file for anything unusable (not a probe file, bad shapes).
  static SavedProbe load(const std::string& path);
  const nlohmann::json& meta() const { return meta_; }
  bool classification() const { return options_.classification; }
  const std::vector<std::string>& class_names() const { return classes_; }
  const std::vector<std::string>& feature_columns() const { return columns_; }
  const std::string& model_id() const { return model_id_; }
  const std::string& target() const { return target_; }
  int64_t input_dim() const { return input_dim_; }  // features per object before PCA
  // Raw features (the feature columns concatenated) -> predictions (values, or class indices).
  std::vector<double> predict(const Features& raw) const;

 private:
  nlohmann::json meta_;
  ProbeOptions options_;
  std::vector<std::string> classes_, columns_;
  std::string model_id_, target_;
  int64_t input_dim_ = 0;
  std::shared_ptr<Pca> pca_;
  std::shared_ptr<Probe> probe_;
};

nlohmann::json probe_options_to_json(const ProbeOptions& o);
ProbeOptions probe_options_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace astrofm
