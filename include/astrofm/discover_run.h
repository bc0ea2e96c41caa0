#pragma once
// `astrofm discover similar|anomalies`: the discovery core (discover.h) on
// datasets. The catalogue is an embedding catalogue (`astrofm embed`), or
// any dataset with --model (embedded in memory first) or --features (raw
// columns such as image_array, optionally reduced by PCA: the pixel
// baseline). Writes every object with a `score` (higher = more what was
// asked for), its `rank` (1 = best) and, when labels were given, `label`
// (1 interesting, 0 not, -1 none) and `suggested` (1 for the objects to
// label next); optionally a report folder with the ranked list and a cutout
// grid. Everything is checked before anything is written.
// Thread-safety: one job at a time per output.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/discover.h"

namespace astrofm {

struct DiscoverInput {
  std::string data;
  std::string model;                  // embed `data` with this model (file or shipped name) first
  std::vector<std::string> features;  // feature columns; default: the embedding column
  bool canonical = false;             // an image column: orientation-free pixels (canonical_pixels) first
  bool morphology = false;            // an image column: its morphology statistics appended (after --pca)
  int64_t pca = 0;                    // > 0: project the features on this many principal components
  std::string device = "cpu";
};

struct DiscoverOutput {
  std::string out;                  // dataset folder (hdf5 | hats) or a .csv file
  std::string format = "hdf5";
  bool overwrite = false;
  std::string report;               // folder: ranked.csv (top objects), cutouts.png, index.html
  int64_t top = 100;                // objects in the report
  std::string images;               // dataset with image_array for the cutouts (default: the data, when it has images)
  std::string labels;               // CSV object_id,label of earlier rounds (1/0, yes/no, true/false, interesting/not)
  int64_t suggest = 0;              // mark this many unlabelled objects to label next
  std::string acquisition = "top";  // top | uncertain | mix (discover.h)
};

struct DiscoverSimilarOptions {
  DiscoverInput in;
  // Object ids (comma-separated), a file of ids (one per line, or a CSV with
  // an object_id column), or an embedding catalogue whose vectors are the
  // examples (made by the same model as the catalogue).
  std::string positives, negatives;
  SimilarOptions similar;
  // A scored catalogue of the same objects (`discover anomalies` output: a
  // .csv or a dataset with object_id and score) blended in with this weight
  // (blend_with_prior): few-shot relevance weighed by rarity.
  std::string prior;
  double prior_weight = 0.25;  // chosen on the dev half of the Galaxy Zoo mergers (docs/discovery.md)
  DiscoverOutput out;
};

struct DiscoverAnomalyOptions {
  DiscoverInput in;
  AnomalyOptions anomaly;
  DiscoverOutput out;
};

// Both return {"objects", "method", "top": [{"object_id", "score"}...], "suggested": [...]}.
nlohmann::json discover_similar(const DiscoverSimilarOptions& o);
nlohmann::json discover_anomalies(const DiscoverAnomalyOptions& o);

}  // namespace astrofm
