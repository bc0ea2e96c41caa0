#pragma once
// Discovery: rank a catalogue for what an astronomer asks, on frozen
// embeddings (or any features). Few-shot retrieval ranks by likeness to a few
// examples (and unlikeness to counter-examples); anomaly ranking by how
// isolated an object is among its neighbours; active learning picks what to
// label next. The in-memory core: features in, one score per row out (higher
// = more what was asked for). `astrofm discover`, the service and Python wrap
// it. Torch-free header.
// Thread-safety: plain functions of their arguments.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/features.h"
#include "astrofm/search.h"

namespace astrofm {

struct SimilarOptions {
  // pu: a linear probe of the examples against the catalogue as background
  //     (positive-unlabelled logistic regression; counter-examples as labelled negatives);
  // mean: cosine similarity to the mean of the examples minus mean_negative_weight
  //       times that of the counter-examples (Rocchio's relevance feedback).
  std::string method = "pu";
  bool standardize = true;    // z-score features with the catalogue's mean and std first
  double C = 0.01;            // pu: inverse L2 strength on standardised features (sklearn's C)
  double negative_weight = 1; // pu: a counter-example weighs this many examples (the examples together weigh as much as the background)
  // mean: the counter-examples' weight. At 1, the near misses that labelling
  // the top of a ranking yields cancel the examples' direction (merger AP fell
  // from 0.23 to 0.02 after one round); 0.25 was chosen on the dev half (docs/discovery.md).
  double mean_negative_weight = 0.25;
  int64_t background = 50000; // pu: unlabelled objects drawn as background (all when fewer)
  uint64_t seed = 0;
  void check() const;         // UsageError on an unknown method or a non-positive setting
};

// `positives` / `negatives`: example vectors [k, d] (need not be in the
// catalogue); `labelled`: catalogue rows that are among them, left out of
// the background. Returns one score per catalogue row. InputError on no
// positives, a dimension that differs from the catalogue's, or an empty catalogue.
std::vector<double> rank_similar(const Features& catalogue, const Features& positives, const Features& negatives,
                                 const std::vector<int64_t>& labelled, const SimilarOptions& o = {});

// Relevance weighed by rarity, as Astronomaly does with its anomaly score
// and the user's relevance (Lochner & Bassett 2021): each object's rank
// fraction (0 worst, 1 best; ties share their mean rank) in `scores`, times
// 1 - prior_weight, plus its rank fraction in `prior` (e.g. anomaly_scores),
// times prior_weight. Ranks, so the two scales need not agree. For Galaxy Zoo
// mergers, few-shot scores blended at weight 0.25 (chosen on dev) with the
// pixels' anomaly score lift the average precision from 0.16 to 0.20 on
// test (docs/discovery.md).
// InputError when the lengths differ; UsageError for a weight outside [0, 1].
std::vector<double> blend_with_prior(const std::vector<double>& scores, const std::vector<double>& prior, double prior_weight);

struct AnomalyOptions {
  std::string method = "lof";  // lof (local outlier factor) | knn (mean distance to the k nearest)
  int k = 20;                  // neighbours
  bool standardize = true;
  // The neighbour search (search.h): kind "auto" is exact (flat) up to
  // exact_limit objects and ivfsq8 beyond (the exact search is quadratic:
  // ~35 s for 10^5 objects on 2 cores, bench/discover/scale.json); or name flat, hnsw or ivf*.
  IndexOptions index = default_index();
  int64_t exact_limit = 200000;
  void check() const;
  static IndexOptions default_index() {
    IndexOptions i;
    i.kind = "auto";
    i.metric = "l2";
    return i;
  }
};

// One anomaly score per row (higher = more unusual). LOF follows Breunig et
// al. (2000) as scikit-learn's LocalOutlierFactor does (its
// -negative_outlier_factor_, duplicates included). `progress`: rows searched so far.
std::vector<double> anomaly_scores(const Features& x, const AnomalyOptions& o = {},
                                   const std::function<void(int64_t)>& progress = {});

// Active learning: which unlabelled rows to show next. labels: per row 1
// (interesting), 0 (not) or -1 (unlabelled). Acquisition:
//   top: the highest-scoring unlabelled rows (what Astronomaly shows);
//   uncertain: those whose score is nearest the boundary between the classes:
//              halfway between the mean score of the rows labelled interesting
//              and that of those labelled not (of the unlabelled when none are);
//   mix: half top, half uncertain (Protege-like).
std::vector<int64_t> next_to_label(const std::vector<double>& scores, const std::vector<int8_t>& labels, int64_t n,
                                   const std::string& acquisition = "top");
std::vector<std::string> acquisition_kinds();

// Orientation-free pixels: each cutout [channels, height, width] (rows of
// `images`) rotated about its centre so that the major axis of its light
// (second moments of the summed bands above their median) lies along x,
// then mirrored so that the brighter half is on the left and on top, and
// scaled to a total light of 1 (when positive). Two nuclei of a merger then
// line up whatever their angle on the sky and their brightness, which is
// what few-shot retrieval on pixels needs (docs/discovery.md). Bilinear
// sampling; pixels from outside the cutout repeat its edge.
Features canonical_pixels(const Features& images, int64_t channels, int64_t height, int64_t width);

// Classical morphology statistics of each cutout [channels, height, width]:
// asymmetry, concentration, Gini, M20, smoothness, the number of nuclei, the
// second's brightness against the first and their separation, ellipticity,
// size, colour (last band against the first) in the centre and further out,
// the number of separate pieces of light and the light outside the central
// one; on the bands' mean light above the sky (the border's median). Named by
// morphology_names(). What tells a merger from a galaxy on its own whatever
// its angle; rotation-invariant up to the pixel grid (docs/discovery.md).
Features morphology_features(const Features& images, int64_t channels, int64_t height, int64_t width);
const std::vector<std::string>& morphology_names();

// Ranking metrics over a whole ranking (ties broken by row): average
// precision, precision@k, nDCG@k (binary gains), recall@k.
struct RankingMetrics {
  double average_precision = 0, precision_at_20 = 0, ndcg_at_10 = 0, recall_at_100 = 0;
  int64_t positives = 0, objects = 0;
  nlohmann::json to_json() const;
};
RankingMetrics ranking_metrics(const std::vector<double>& scores, const std::vector<int8_t>& truth);

}  // namespace astrofm
