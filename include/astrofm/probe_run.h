#pragma once
// `astrofm probe`: fit a probe on the labelled objects of one dataset, predict
// another, and score it; optionally over label budgets and seeds (a
// label-efficiency curve). Results as JSON, predictions as CSV, and an HTML
// report with PNG plots.
// Thread-safety: one run at a time per output; it trains with all cores.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/probe.h"

namespace astrofm {

struct ProbeRunOptions {
  ProbeOptions probe;                 // kind: knn | ridge | logistic | mlp | attentive | cnn (supervised from scratch) | finetune
  std::string train, test;            // datasets; test empty: a fixed 20% of train chosen by a hash of object_id
  std::string target, labels_csv;     // see TargetSource
  std::string mode = "auto";          // auto | regression | classification
  std::vector<std::string> features;  // empty: the embedding column
  int64_t pca = 0;                    // > 0: project features on their first N principal components (fit on the training set)
  int64_t labels = 0;                 // > 0: this many labelled training objects (random)
  int64_t labels_per_class = 0;       // > 0: this many per class
  std::vector<int64_t> curve;         // label budgets (per class for classification; 0 = all): a label-efficiency curve
  int repeats = 1;                    // seeds per budget (seed, seed + 1, ...)
  std::string out;                    // predictions of the first run (object_id, ra, dec, true, predicted)
  std::string out_format = "csv";     // csv | hdf5 | hats (a dataset partitioned like the test data)
  std::string report;                 // HTML report folder (index.html + PNG plots)
  std::string save;                   // probe file of the first run (saved_probe.h); not for cnn
  std::string cnn_config;             // cnn, finetune: astrofm train supervised config (finetune: over its defaults below)
  int64_t cnn_steps = 0;              // cnn, finetune: overrides the config's steps
  // finetune: the pre-trained image encoder (a model file or shipped name),
  // trained with a linear head on the labels; defaults: lr 3e-4, layer-wise
  // decay 0.7, early stopping after 3 validations without improvement.
  std::string finetune_model;
};

// Returns {"task", "probe", "train_objects", "test_objects", "metrics" (first run),
// "curve": [{"labels", "runs": [...], "mean": {...}, "std": {...}}]}.
nlohmann::json run_probe(const ProbeRunOptions& o);

}  // namespace astrofm
