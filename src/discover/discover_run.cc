// `astrofm discover similar|anomalies` on datasets (discover_run.h).
#include "astrofm/discover_run.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <unordered_map>

#include "astrofm/embed.h"
#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/importers.h"
#include "astrofm/mmu.h"
#include "astrofm/probe.h"
#include "astrofm/progress.h"

namespace astrofm {
namespace {

namespace fs = std::filesystem;

// A catalogue in memory: its rows (object_id, ra, dec) and one feature vector per row.
struct Catalogue {
  std::string where, column, model_id;
  Table rows;
  Features x;
  std::unordered_map<std::string, int64_t> row_of;
  bool has_images = false;
};

std::string pick_embedding_column(const Table& t, const std::vector<std::string>& features, const std::string& where) {
  if (!features.empty()) {
    if (features.size() > 1) fail_usage("discover: with --model, name one embedding column in --features");
    if (!t.has(features[0])) fail_input("{}: the model wrote no column '{}' (columns: {})", where, features[0], fmt::join(t.names(), ", "));
    return features[0];
  }
  std::vector<std::string> emb;
  for (const auto& n : t.names())
    if (n.rfind("embedding_", 0) == 0) emb.push_back(n);
  if (emb.size() != 1) fail_input("{}: the model writes {} embedding columns ({}); pick one with --features", where, emb.size(), fmt::join(emb, ", "));
  return emb[0];
}

Features features_of(const Column& c) {
  Features f{c.rows, c.row_elems(), {}};
  f.x.resize(f.n * f.d);
  for (int64_t i = 0; i < f.n * f.d; ++i) f.x[i] = static_cast<float>(c.as_double(i));
  return f;
}

Catalogue load_catalogue(const DiscoverInput& in) {
  if (in.data.empty()) fail_usage("discover: --data is required");
  Catalogue c;
  c.where = in.data;
  auto ds = Dataset::open(in.data);
  c.has_images = ds.has_column(mmu::kImageArray);
  if (in.canonical && !in.model.empty()) fail_usage("discover: --canonical applies to pixel features, not to --model embeddings");
  if (in.morphology && !in.model.empty()) fail_usage("discover: --morphology applies to pixel features, not to --model embeddings");
  Features morph;  // --morphology: the statistics of each cutout, appended after the PCA
  if (!in.model.empty()) {
    // Embedded in memory, batch by batch, with the core `astrofm embed` uses.
    std::vector<std::string> have;
    for (const auto& s : ds.schema()) have.push_back(s.name);
    EmbedOptions eo;
    eo.model = in.model, eo.device = in.device;
    CatalogueEmbedder emb(eo, have, in.data);
    auto cols = emb.columns();
    for (const auto& k : {mmu::kObjectId, mmu::kRa, mmu::kDec})
      if (std::find(cols.begin(), cols.end(), k) == cols.end() && ds.has_column(k)) cols.push_back(k);
    DatasetReader r(ds, {.columns = cols, .batch_rows = 256});
    Progress bar("discover embed", ds.rows());
    Table b;
    while (r.next(b)) {
      auto t = emb.embed(b);
      if (c.column.empty()) c.column = pick_embedding_column(t, in.features, in.data);
      Table keep;
      for (const auto& k : {mmu::kObjectId, mmu::kRa, mmu::kDec})
        if (t.has(k)) keep.add(t.at(k));
      auto f = features_of(t.at(c.column));
      if (c.rows.rows() == 0 && c.rows.columns().empty()) c.rows = std::move(keep), c.x = std::move(f);
      else c.rows.append(keep), c.x.x.insert(c.x.x.end(), f.x.begin(), f.x.end()), c.x.n += f.n;
      bar.advance(b.rows());
    }
    bar.finish();
    c.model_id = emb.model_id();
  } else {
    std::vector<std::string> keep;
    if (ds.has_column("model_id")) keep.push_back("model_id");
    auto fs = load_features(in.data, in.features, keep);
    c.column = fmt::format("{}", fmt::join(fs.columns, ","));
    c.rows = std::move(fs.rows);
    c.x = std::move(fs.x);
    const auto& sh = fs.column_shape;
    if ((in.canonical || in.morphology) && (fs.columns.size() != 1 || sh.size() != 3))
      fail_input("{}: --{} needs one image column [bands, height, width]; {} is {}", in.data, in.canonical ? "canonical" : "morphology",
                 c.column, sh.empty() ? "not an image" : fmt::format("[{}]", fmt::join(sh, ", ")));
    if (in.morphology) morph = morphology_features(c.x, sh[0], sh[1], sh[2]);
    if (in.canonical) {
      c.x = canonical_pixels(c.x, sh[0], sh[1], sh[2]);
      c.column += " (canonical orientation)";
    }
    if (const auto* m = c.rows.find("model_id"); m && m->rows > 0) c.model_id = m->strings[0];
  }
  if (c.x.n == 0) fail_input("{}: the catalogue is empty", in.data);
  if (in.pca > 0) {
    // Fitted on at most 20,000 objects: enough for the leading components.
    std::vector<int64_t> sample(c.x.n);
    std::iota(sample.begin(), sample.end(), 0);
    if (c.x.n > 20000) {
      std::mt19937_64 rng(7);
      std::shuffle(sample.begin(), sample.end(), rng);
      sample.resize(20000);
    }
    Pca p;
    p.fit(take_rows(c.x, sample), in.pca);
    c.x = p.project(c.x);
    c.column += fmt::format(" (PCA {})", in.pca);
  }
  if (in.morphology) {  // after the PCA: the statistics stay as they are (the ranking standardises every column)
    Features both{c.x.n, c.x.d + morph.d, {}};
    both.x.reserve(both.n * both.d);
    for (int64_t i = 0; i < c.x.n; ++i) {
      both.x.insert(both.x.end(), c.x.row(i), c.x.row(i) + c.x.d);
      both.x.insert(both.x.end(), morph.row(i), morph.row(i) + morph.d);
    }
    c.x = std::move(both);
    c.column += fmt::format(" + morphology ({})", morph.d);
  }
  const auto& ids = c.rows.at(mmu::kObjectId).strings;
  for (int64_t i = 0; i < static_cast<int64_t>(ids.size()); ++i) c.row_of.emplace(ids[i], i);
  return c;
}

// The ids of a CSV file's object_id (objid, id) column, as text.
std::vector<std::string> csv_ids(const Table& t, const std::string& file) {
  const Column* c = find_csv_id_column(t);
  if (!c) fail_input("{}: no object_id column (columns: {})", file, fmt::join(t.names(), ", "));
  std::vector<std::string> out;
  for (int64_t i = 0; i < c->rows; ++i) out.push_back(csv_cell(*c, i));
  return out;
}

// "a, b, c" for the first ten of `ids`, with ", ..." beyond.
std::string some_of(const std::vector<std::string>& ids) {
  return fmt::format("{}{}", fmt::join(ids.begin(), ids.begin() + std::min<size_t>(ids.size(), 10), ", "), ids.size() > 10 ? ", ..." : "");
}

// Examples as rows of the catalogue and vectors: ids, a file of ids, or an embedding catalogue.
struct Examples {
  Features x;
  std::vector<int64_t> rows;  // catalogue rows among them
};

// The ids a file or a comma list names (checked before any feature is read:
// an empty file fails at once); an embedding catalogue (a folder): none here.
std::vector<std::string> example_ids(const std::string& spec, const char* what) {
  std::vector<std::string> ids;
  if (spec.empty() || fs::is_directory(spec)) return ids;
  if (fs::is_regular_file(spec)) {
    std::ifstream in(spec);
    std::string first;
    std::getline(in, first);
    if (first.find(',') != std::string::npos) {
      ids = csv_ids(read_csv_table(spec), spec);
    } else {
      for (std::string line = first; in || !line.empty(); line.clear(), std::getline(in, line)) {
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
        if (!line.empty() && line != "object_id") ids.push_back(line);
        if (!in) break;
      }
    }
  } else {
    for (size_t a = 0; a <= spec.size();) {
      size_t b = spec.find(',', a);
      if (b == std::string::npos) b = spec.size();
      if (b > a) ids.push_back(spec.substr(a, b - a));
      a = b + 1;
    }
  }
  if (ids.empty()) fail_input("{}: no {} given", spec, what);
  return ids;
}

Examples resolve_examples(const std::string& spec, const std::vector<std::string>& ids, const Catalogue& cat, const char* what) {
  Examples e{{0, cat.x.d, {}}, {}};
  if (spec.empty()) return e;
  if (fs::is_directory(spec)) {
    auto f = load_features(spec, {cat.column.find(" (PCA") == std::string::npos ? cat.column : std::string()}, {"model_id"});
    std::string model = f.rows.has("model_id") && f.rows.rows() > 0 ? f.rows.at("model_id").strings[0] : "";
    if (!cat.model_id.empty() && model != cat.model_id)
      fail_input("{}: the {} were embedded by '{}', the catalogue {} by '{}'", spec, what, model.empty() ? "no model" : model, cat.where,
                 cat.model_id);
    if (f.x.d != cat.x.d) fail_input("{}: the {} have {} dimensions, the catalogue {} has {}", spec, what, f.x.d, cat.where, cat.x.d);
    e.x = std::move(f.x);
    for (const auto& id : f.rows.at(mmu::kObjectId).strings)
      if (auto it = cat.row_of.find(id); it != cat.row_of.end()) e.rows.push_back(it->second);
    return e;
  }
  std::vector<std::string> unknown;
  for (const auto& id : ids) {
    auto it = cat.row_of.find(id);
    if (it == cat.row_of.end()) unknown.push_back(id);
    else e.rows.push_back(it->second);
  }
  if (!unknown.empty())
    fail_input("{}: {} of the {} are not in the catalogue {}: {}", spec.size() > 80 ? spec.substr(0, 80) + "..." : spec, unknown.size(),
               what, cat.where, some_of(unknown));
  e.x = take_rows(cat.x, e.rows);
  return e;
}

// Labels of earlier rounds: -1 where none.
std::vector<int8_t> read_labels(const std::string& file, const Catalogue& cat) {
  std::vector<int8_t> labels(cat.x.n, -1);
  if (file.empty()) return labels;
  auto t = read_csv_table(file);
  auto ids = csv_ids(t, file);
  const Column* l = t.find("label");
  if (!l) fail_input("{}: no 'label' column (columns: {})", file, fmt::join(t.names(), ", "));
  std::vector<std::string> unknown;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string v = csv_cell(*l, i);
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char ch) { return std::tolower(ch); });
    int8_t y;
    if (v == "1" || v == "yes" || v == "true" || v == "interesting") y = 1;
    else if (v == "0" || v == "no" || v == "false" || v == "not") y = 0;
    else fail_input("{}: row {}: label '{}' for {} (1/0, yes/no, true/false or interesting/not)", file, i + 2, v, ids[i]);
    auto it = cat.row_of.find(ids[i]);
    if (it == cat.row_of.end()) unknown.push_back(ids[i]);
    else labels[it->second] = y;
  }
  if (!unknown.empty())
    fail_input("{}: {} labelled objects are not in the catalogue {}: {}", file, unknown.size(), cat.where, some_of(unknown));
  return labels;
}

// A prior score for every catalogue object, from a scored catalogue (.csv or dataset: object_id, score).
std::vector<double> read_prior(const std::string& path, const Catalogue& cat) {
  std::vector<std::string> ids;
  std::vector<double> score;
  if (fs::is_directory(path)) {
    auto f = load_features(path, {"score"});
    ids = f.rows.at(mmu::kObjectId).strings;
    score.assign(f.x.x.begin(), f.x.x.end());
  } else {
    if (!fs::is_regular_file(path)) fail_input("{}: no such prior file or dataset", path);
    auto t = read_csv_table(path);
    ids = csv_ids(t, path);
    const Column* c = t.find("score");
    if (!c) fail_input("{}: no 'score' column (columns: {})", path, fmt::join(t.names(), ", "));
    for (int64_t i = 0; i < c->rows; ++i) {
      std::string v = csv_cell(*c, i);
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != 0 || !std::isfinite(d)) fail_input("{}: row {}: score '{}' for {} is not a finite number", path, i + 2, v, ids[i]);
      score.push_back(d);
    }
  }
  std::vector<double> prior(cat.x.n, 0.0);
  std::vector<char> seen(cat.x.n, 0);
  for (size_t i = 0; i < ids.size(); ++i)
    if (auto it = cat.row_of.find(ids[i]); it != cat.row_of.end()) prior[it->second] = score[i], seen[it->second] = 1;
  std::vector<std::string> missing;
  for (int64_t i = 0; i < cat.x.n; ++i)
    if (!seen[i]) missing.push_back(cat.rows.at(mmu::kObjectId).strings[i]);
  if (!missing.empty())
    fail_input("{}: {} objects of the catalogue {} have no prior score: {}", path, missing.size(), cat.where, some_of(missing));
  return prior;
}

void check_output(const DiscoverOutput& o) {
  if (o.out.empty() && o.report.empty()) fail_usage("discover: give --out (the scored catalogue) or --report");
  for (const auto& p : {o.out, o.report})
    if (!p.empty() && !o.overwrite && fs::exists(p)) fail_usage("{} exists (--overwrite to replace it)", p);
  if (o.top < 1) fail_usage("discover: --top must be at least 1, not {}", o.top);
  if (o.suggest < 0) fail_usage("discover: --suggest must be at least 0, not {}", o.suggest);
  next_to_label({}, {}, 0, o.acquisition);  // checks the kind
}

}  // namespace

// Writing the scored catalogue and the report (discover_write.cc).
nlohmann::json write_discovery(const DiscoverOutput& o, const Table& rows, const std::vector<double>& scores,
                               const std::vector<int8_t>& labels, const std::string& method, const std::string& data,
                               bool data_has_images);

nlohmann::json discover_similar(const DiscoverSimilarOptions& o) {
  o.similar.check();
  check_output(o.out);
  if (!o.prior.empty()) blend_with_prior({}, {}, o.prior_weight);  // the weight, checked before any reading
  const auto pos_ids = example_ids(o.positives, "examples"), neg_ids = example_ids(o.negatives, "counter-examples");
  auto cat = load_catalogue(o.in);
  const auto prior = o.prior.empty() ? std::vector<double>{} : read_prior(o.prior, cat);
  auto labels = read_labels(o.out.labels, cat);
  auto pos = resolve_examples(o.positives, pos_ids, cat, "examples");
  auto neg = resolve_examples(o.negatives, neg_ids, cat, "counter-examples");
  if (o.positives.empty() && std::count(labels.begin(), labels.end(), 1) == 0)
    fail_usage("discover similar: give --positives (or --labels with at least one object labelled interesting)");
  // Labelled objects join the examples.
  std::vector<int64_t> labelled = pos.rows;
  labelled.insert(labelled.end(), neg.rows.begin(), neg.rows.end());
  for (int64_t i = 0; i < cat.x.n; ++i) {
    if (labels[i] < 0) continue;
    auto& e = labels[i] == 1 ? pos : neg;
    if (std::find(e.rows.begin(), e.rows.end(), i) != e.rows.end()) continue;
    e.x.x.insert(e.x.x.end(), cat.x.row(i), cat.x.row(i) + cat.x.d), ++e.x.n, e.rows.push_back(i), labelled.push_back(i);
  }
  for (auto r : pos.rows) labels[r] = 1;
  for (auto r : neg.rows) labels[r] = 0;
  auto scores = rank_similar(cat.x, pos.x, neg.x, labelled, o.similar);
  if (!o.prior.empty()) scores = blend_with_prior(scores, prior, o.prior_weight);
  auto res = write_discovery(o.out, cat.rows, scores, labels, "similar/" + o.similar.method + (o.prior.empty() ? "" : "+prior"), o.in.data,
                             cat.has_images);
  res["examples"] = pos.x.n, res["counter_examples"] = neg.x.n, res["features"] = cat.column;
  if (!o.prior.empty()) res["prior"] = o.prior, res["prior_weight"] = o.prior_weight;
  return res;
}

nlohmann::json discover_anomalies(const DiscoverAnomalyOptions& o) {
  o.anomaly.check();
  check_output(o.out);
  auto cat = load_catalogue(o.in);
  auto labels = read_labels(o.out.labels, cat);
  Progress bar("discover anomalies", cat.x.n);
  int64_t done = 0;
  auto scores = anomaly_scores(cat.x, o.anomaly, [&](int64_t n) { bar.advance(n - done), done = n; });
  bar.finish();
  auto res = write_discovery(o.out, cat.rows, scores, labels, "anomalies/" + o.anomaly.method, o.in.data, cat.has_images);
  res["features"] = cat.column;
  return res;
}

}  // namespace astrofm
