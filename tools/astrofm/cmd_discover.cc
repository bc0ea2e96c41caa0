#include <cstdio>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/discover_run.h"
#include "astrofm/fsutil.h"
#include "commands.h"

namespace astrofm::cli {
namespace {

// The catalogue and output options both commands share.
void add_common(CLI::App* c, DiscoverInput& in, DiscoverOutput& out, std::string& json) {
  c->add_option("--data", in.data, "embedding catalogue (astrofm embed), or any dataset with --model or --features")->required();
  c->add_option("--model", in.model, "embed --data with this model first (in memory)");
  c->add_option("--features", in.features, "feature columns instead of the embedding column (e.g. image_array)")->delimiter(',');
  c->add_flag("--canonical", in.canonical, "image features: rotate and mirror each cutout to one orientation first (docs/discovery.md)");
  c->add_flag("--morphology", in.morphology, "image features: append each cutout's morphology statistics (asymmetry, Gini, M20, nuclei, ...)");
  c->add_option("--pca", in.pca, "reduce the features to this many principal components (raw pixels)");
  c->add_option("--device", in.device, "cpu or cuda (with --model)")->capture_default_str();
  c->add_option("--out", out.out, "scored catalogue: a dataset folder, or a .csv file");
  c->add_option("--out-format", out.format, "hdf5 or hats (dataset output)")->capture_default_str();
  c->add_option("--report", out.report, "report folder: ranked.csv, cutouts.png, index.html");
  c->add_option("--top", out.top, "objects in the report")->capture_default_str();
  c->add_option("--images", out.images, "dataset with image_array for the report's cutouts (default: --data when it has images)");
  c->add_option("--labels", out.labels, "CSV object_id,label of earlier rounds (1/0, yes/no, interesting/not)");
  c->add_option("--suggest", out.suggest, "mark this many unlabelled objects to label next (column suggested)");
  c->add_option("--acquisition", out.acquisition, "what to suggest: top, uncertain or mix")->capture_default_str();
  c->add_flag("--overwrite", out.overwrite, "replace existing outputs");
  c->add_option("--json", json, "write the result as JSON ('-' for stdout)");
}

void finish(const nlohmann::json& r, const std::string& json, const DiscoverOutput& out) {
  if (json == "-") std::printf("%s\n", r.dump(1).c_str());
  else if (!json.empty()) write_file_atomic(json, r.dump(1));
  spdlog::info("{}: {} objects scored", r["method"].get<std::string>(), r["objects"].get<int64_t>());
  if (!out.report.empty()) spdlog::info("report: {}/index.html", out.report);
}

}  // namespace

void add_discover_commands(CLI::App& app) {
  auto* d = app.add_subcommand("discover", "Find rare objects: rank a catalogue by likeness to examples, or by how unusual each object is");
  d->require_subcommand(1);

  auto* sim = d->add_subcommand("similar", "Rank every object by likeness to a few examples (few-shot retrieval)");
  static DiscoverSimilarOptions s;
  static std::string sim_json;
  add_common(sim, s.in, s.out, sim_json);
  sim->add_option("--positives", s.positives, "examples: ids (comma-separated), a file of ids, or an embedding catalogue");
  sim->add_option("--negatives", s.negatives, "counter-examples, the same ways");
  sim->add_option("--method", s.similar.method, "pu (linear probe against the catalogue) or mean (cosine to the examples' mean)")
      ->capture_default_str();
  sim->add_option("--C", s.similar.C, "pu: inverse regularisation strength")->capture_default_str();
  sim->add_option("--seed", s.similar.seed, "pu: background sample seed")->capture_default_str();
  sim->add_option("--prior", s.prior, "scores of the same objects blended in (the output of `discover anomalies`: rarity weighs in)");
  sim->add_option("--prior-weight", s.prior_weight, "--prior: its weight in the blend of rank fractions")->capture_default_str();
  sim->callback([] { finish(discover_similar(s), sim_json, s.out); });

  auto* an = d->add_subcommand("anomalies", "Rank every object by how unusual it is among its neighbours");
  static DiscoverAnomalyOptions a;
  static std::string an_json;
  add_common(an, a.in, a.out, an_json);
  an->add_option("--method", a.anomaly.method, "lof (local outlier factor) or knn (mean distance to the k nearest)")->capture_default_str();
  an->add_option("-k,--neighbours", a.anomaly.k, "neighbours")->capture_default_str();
  an->add_option("--index", a.anomaly.index.kind, "neighbour search: auto (flat up to 200,000 objects, then ivfsq8), flat (exact), hnsw, ivfsq8, ivfpq")->capture_default_str();
  an->add_option("--nprobe", a.anomaly.index.nprobe, "ivf*: lists visited per object")->capture_default_str();
  an->callback([] { finish(discover_anomalies(a), an_json, a.out); });
}

}  // namespace astrofm::cli
