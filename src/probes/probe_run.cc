#include "astrofm/probe_run.h"
#include "astrofm/saved_probe.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "astrofm/error.h"
#include "astrofm/features.h"
#include "astrofm/fsutil.h"
#include "astrofm/hash.h"
#include "astrofm/labels.h"
#include "astrofm/metrics.h"
#include "astrofm/mmu.h"
#include "astrofm/resources.h"
#include "astrofm/train.h"
#include "astrofm/report.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

struct Side {
  FeatureSet fs;
  std::vector<int64_t> rows;  // rows of fs used on this side
  std::vector<double> y;      // their targets (NaN = none)
};

// Budget selection: `n` labelled rows at random, or `per_class` of each class.
std::vector<int64_t> choose(const std::vector<int64_t>& labelled, const std::vector<double>& y, int64_t n, int64_t per_class,
                            bool classification, uint64_t seed) {
  std::vector<int64_t> pool = labelled;
  std::shuffle(pool.begin(), pool.end(), std::mt19937_64(seed * 2654435761ull + 17));
  if (per_class > 0 && classification) {
    std::map<int64_t, int64_t> taken;
    std::vector<int64_t> out;
    for (int64_t i : pool)
      if (taken[static_cast<int64_t>(y[i])]++ < per_class) out.push_back(i);
    std::sort(out.begin(), out.end());
    return out;
  }
  if (n > 0 && n < static_cast<int64_t>(pool.size())) pool.resize(n);
  std::sort(pool.begin(), pool.end());
  return pool;
}

// The pixels the cnn and finetune probes train and predict on, read once:
// every training image by object id, and the test rows in scoring order.
struct CnnImages {
  Table train, test;
  std::unordered_map<std::string_view, int64_t> train_row;  // views into train's object_id
  // Rows of `train` for the objects side_ids[side_rows[k]], k in `pick`.
  std::vector<int64_t> train_rows(const std::vector<std::string>& side_ids, const std::vector<int64_t>& side_rows,
                                  const std::vector<int64_t>& pick) const {
    std::vector<int64_t> out;
    for (int64_t k : pick) out.push_back(train_row.at(side_ids[side_rows[k]]));
    return out;
  }
};

// `test_ids[test_rows[k]]` for every k: the objects scored, in order.
CnnImages read_cnn_images(const std::string& train, const std::string& test, const std::vector<std::string>& test_ids,
                          const std::vector<int64_t>& test_rows) {
  const std::vector<std::string> cols = {mmu::kObjectId, mmu::kImageArray, mmu::kImageBand};
  CnnImages c;
  c.train = read_table(train, cols);
  const auto& ids = c.train.at(mmu::kObjectId).strings;
  for (size_t i = 0; i < ids.size(); ++i) c.train_row.emplace(ids[i], static_cast<int64_t>(i));
  Table other = test.empty() ? Table{} : read_table(test, cols);
  const Table& pool = test.empty() ? c.train : other;
  std::unordered_map<std::string_view, int64_t> pool_row;
  const auto& pids = pool.at(mmu::kObjectId).strings;
  for (size_t i = 0; i < pids.size(); ++i) pool_row.emplace(pids[i], static_cast<int64_t>(i));
  std::vector<int64_t> rows;
  for (int64_t r : test_rows) rows.push_back(pool_row.at(test_ids[r]));
  c.test = pool.take(rows);
  return c;
}

// Fine-tuning's defaults under the user's settings.
nlohmann::json finetune_settings(const std::string& user_config) {
  nlohmann::json c = {{"lr", 3e-4}, {"layer_decay", 0.7}, {"early_stopping", 3}, {"val_every", 25}, {"warmup", 20}, {"head_init", "probe"}};
  if (!user_config.empty()) {
    try {
      c.merge_patch(nlohmann::json::parse(read_file(user_config)));
    } catch (const nlohmann::json::exception& e) {
      fail_input("{}: not valid JSON ({})", user_config, e.what());
    }
  }
  return c;
}

}  // namespace

nlohmann::json run_probe(const ProbeRunOptions& o) {
  if (o.target.empty()) fail_usage("--target COLUMN is required");
  // cnn and finetune train a network on the pixels (astrofm train supervised).
  const bool finetune = o.probe.kind == "finetune", cnn = o.probe.kind == "cnn" || finetune;
  if (finetune && o.finetune_model.empty()) fail_usage("probe finetune: --model MODEL (the pre-trained image encoder) is required");
  if (!finetune && !o.finetune_model.empty()) fail_usage("--model is for probe finetune");
  const std::string init = finetune ? resolve_model_path(o.finetune_model) : "";
  std::vector<std::string> feats = o.features;
  if (cnn) feats = {mmu::kImageArray};  // only to read ids and sizes; the CNN reads pixels itself
  if (o.probe.kind == "attentive" && feats.empty()) {
    // The tokens an `astrofm embed --tokens` catalogue holds.
    for (const auto& c : Dataset::open(o.train).schema())
      if (c.name.rfind("tokens_", 0) == 0) feats.push_back(c.name);
    if (feats.size() != 1)
      fail_input("{}: attentive pooling needs one tokens_* column (astrofm embed --tokens), found {}; pick one with --features", o.train,
                 feats.size());
  }
  if (cnn && !o.save.empty()) fail_usage("--save keeps probes on features; cnn and finetune train models of their own (astrofm train supervised)");
  std::vector<std::string> keep = {o.target, "model_id"};
  Side tr, te;
  tr.fs = load_features(o.train, feats, keep);
  bool split = o.test.empty();
  if (!split) te.fs = load_features(o.test, feats, keep);
  if (!split && te.fs.x.d != tr.fs.x.d)
    fail_input("{}: features have {} dimensions, {} has {}", o.test, te.fs.x.d, o.train, tr.fs.x.d);

  // One label map for both sides (class indices must agree).
  Table joint;
  auto side_table = [&](const FeatureSet& f) {
    Table t;
    t.add(f.rows.at(mmu::kObjectId));
    if (o.labels_csv.empty()) {
      const Column* c = f.rows.find(o.target);
      if (!c) fail_input("{}: no column '{}'", &f == &tr.fs ? o.train : o.test, o.target);
      t.add(*c);
    }
    return t;
  };
  joint = side_table(tr.fs);
  if (!split) {
    Table b = side_table(te.fs);
    if (!joint.at(mmu::kObjectId).same_layout(b.at(mmu::kObjectId)) ||
        (o.labels_csv.empty() && !joint.at(o.target).same_layout(b.at(o.target))))
      fail_input("{} and {}: column '{}' has different types", o.train, o.test, o.target);
    joint.append(b);
  }
  Targets y = load_targets(joint, {o.target, o.labels_csv, o.mode}, o.train);
  int64_t ntr = tr.fs.rows.rows();
  const auto& ids = tr.fs.rows.at(mmu::kObjectId).strings;
  if (split) {
    for (int64_t i = 0; i < ntr; ++i) (in_fixed_test_split(ids[i]) ? te.rows : tr.rows).push_back(i);
    te.y.reserve(te.rows.size());
    for (int64_t i : te.rows) te.y.push_back(y.values[i]);
    for (int64_t i : tr.rows) tr.y.push_back(y.values[i]);
  } else {
    for (int64_t i = 0; i < ntr; ++i) tr.rows.push_back(i), tr.y.push_back(y.values[i]);
    for (int64_t i = 0; i < te.fs.rows.rows(); ++i) te.rows.push_back(i), te.y.push_back(y.values[ntr + i]);
  }
  std::vector<int64_t> labelled;  // indices into tr.rows
  for (size_t i = 0; i < tr.rows.size(); ++i)
    if (!std::isnan(tr.y[i])) labelled.push_back(static_cast<int64_t>(i));
  int64_t test_labelled = std::count_if(te.y.begin(), te.y.end(), [](double v) { return !std::isnan(v); });
  if (labelled.empty()) fail_input("{}: no training object has a '{}' label", o.train, o.target);
  ProbeOptions po = o.probe;
  po.classification = y.classification;
  po.classes = y.num_classes();
  if (y.classification) {
    std::vector<int64_t> per(po.classes, 0);
    for (int64_t i : labelled) ++per[static_cast<int64_t>(tr.y[i])];
    int64_t present = std::count_if(per.begin(), per.end(), [](int64_t c) { return c > 0; });
    if (present < 2) fail_input("{}: the training labels hold {} class(es); a classifier needs at least 2", o.train, present);
    if (o.labels_per_class > 0 && !o.curve.empty()) fail_usage("give either --labels-per-class or --curve");
  }
  if (test_labelled == 0) fail_input("{}: no test object has a '{}' label to score against", split ? o.train : o.test, o.target);
  if (!cnn && po.kind == "attentive" && po.tokens == 0) {
    if (tr.fs.column_shape.size() != 2)
      fail_input("attentive: feature column must hold tokens [T, D] per object (astrofm embed --tokens), got shape [{}]",
                 fmt::join(tr.fs.column_shape, ", "));
    po.tokens = tr.fs.column_shape[0];
  }
  Pca pca;
  if (o.pca > 0 && !cnn) {
    std::vector<int64_t> fit_rows = tr.rows;  // unsupervised: every training object, labelled or not
    pca.fit(take_rows(tr.fs.x, fit_rows), o.pca);
    tr.fs.x = pca.project(tr.fs.x);
    if (!split) te.fs.x = pca.project(te.fs.x);
    spdlog::info("PCA: {} components keep {:.1f}% of the training features' variance", o.pca, 100 * pca.explained_variance_ratio());
  }
  Features test_x = cnn ? Features{} : take_rows(split ? tr.fs.x : te.fs.x, te.rows);
  const CnnImages cnn_images =
      cnn ? read_cnn_images(o.train, o.test, (split ? tr.fs : te.fs).rows.at(mmu::kObjectId).strings, te.rows) : CnnImages{};
  std::vector<int64_t> budgets = o.curve;
  if (budgets.empty()) budgets = {y.classification && o.labels_per_class > 0 ? o.labels_per_class : o.labels};
  bool per_class = y.classification && (o.labels_per_class > 0 || !o.curve.empty());

  nlohmann::json result = {{"probe", po.kind}, {"task", y.classification ? "classification" : "regression"},
                           {"target", o.target}, {"train", o.train}, {"test", split ? o.train + " (20% by object_id hash)" : o.test},
                           {"features", cnn ? nlohmann::json("pixels") : nlohmann::json(tr.fs.columns)},
                           {"pca", o.pca},
                           {"train_objects", static_cast<int64_t>(tr.rows.size())}, {"train_labelled", static_cast<int64_t>(labelled.size())},
                           {"test_scored", test_labelled}, {"curve", nlohmann::json::array()}};
  if (y.classification) result["classes"] = y.class_names;
  std::vector<double> first_pred, first_pit;
  std::vector<double> truth_scored;
  for (int64_t budget : budgets) {
    nlohmann::json point = {{"labels", budget}, {"per_class", per_class}, {"runs", nlohmann::json::array()}};
    std::map<std::string, std::vector<double>> values;
    // Every label at once is the same draw for every seed: repeat only what a seed changes (network initialisation).
    bool stochastic = po.kind == "mlp" || po.kind == "attentive" || cnn;
    int repeats = budget == 0 && !stochastic ? 1 : o.repeats;
    for (int r = 0; r < repeats; ++r) {
      uint64_t seed = o.probe.seed + r;
      auto sel = choose(labelled, tr.y, per_class ? 0 : budget, per_class ? budget : 0, y.classification, seed);
      std::vector<double> ysel;
      for (int64_t i : sel) ysel.push_back(tr.y[i]);
      std::vector<double> pred, pit;
      nlohmann::json info, prob;
      if (cnn) {
        // Supervised from scratch (or fine-tuned) on exactly the chosen labels, in memory.
        auto rows = std::make_shared<Table>(cnn_images.train.take(cnn_images.train_rows(ids, tr.rows, sel)));
        if (y.classification) {
          std::vector<std::string> names;
          for (double v : ysel) names.push_back(y.class_names[static_cast<int64_t>(v)]);
          rows->add(make_string_column("label", names));
        } else {
          rows->add(make_column("label", ysel));
        }
        TrainOptions t{.task = "supervised", .data = {o.train}, .table = rows, .config = finetune ? "" : o.cnn_config,
                       .settings = finetune ? finetune_settings(o.cnn_config).dump() : "",
                       .task_options = {{"target", {"label"}}, {"objective", {y.classification ? "classification" : "regression"}}},
                       .steps = o.cnn_steps, .seed = seed + 1};
        if (finetune) t.task_options["init-image"] = {init};
        auto res = train_model(t);
        auto sp = predict_supervised(res.model, cnn_images.test, "the cnn probe");
        for (double v : sp.values) {
          if (y.classification) {  // the model's class index -> ours
            auto it = std::find(y.class_names.begin(), y.class_names.end(), sp.classes.at(static_cast<int64_t>(v)));
            v = static_cast<double>(it - y.class_names.begin());
          }
          pred.push_back(v);
        }
        info = {{"steps", res.steps}, {"seconds", res.seconds}, {"val_loss", res.val_loss}};
      } else {
        auto t0 = std::chrono::steady_clock::now();
        auto probe = make_probe([&] { auto p = po; p.seed = seed; return p; }());
        Features fit_x = take_rows(tr.fs.x, [&] { std::vector<int64_t> v; for (int64_t i : sel) v.push_back(tr.rows[i]); return v; }());
        probe->fit(fit_x, ysel);
        if (!o.save.empty() && first_pred.empty()) {
          const Column* mid = tr.fs.rows.find("model_id");
          ProbeSaveData d{.options = [&] { auto p = po; p.seed = seed; return p; }(), .target = o.target, .class_names = y.class_names,
                          .feature_columns = tr.fs.columns, .model_id = mid && mid->rows > 0 ? mid->strings.at(0) : "",
                          .trained_on = o.train, .pca = o.pca > 0 ? &pca : nullptr, .x = fit_x, .y = ysel};
          save_probe(o.save, d);
          spdlog::info("probe saved: {}", o.save);
        }
        pred = probe->predict(test_x);
        std::vector<double> ev, ew;
        int64_t per = 0;
        if (!y.classification && probe->predict_ensemble(test_x, &ev, &ew, &per)) prob = ensemble_metrics(ev, ew, per, te.y, &pit);
        info = probe->info();
        info["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();  // fit + predict
      }
      std::vector<double> t_s, p_s;
      for (size_t i = 0; i < te.y.size(); ++i)
        if (!std::isnan(te.y[i])) t_s.push_back(te.y[i]), p_s.push_back(pred[i]);
      nlohmann::json m;
      if (y.classification) {
        m = classification_metrics(std::vector<int64_t>(t_s.begin(), t_s.end()), std::vector<int64_t>(p_s.begin(), p_s.end()),
                                   po.classes).to_json(y.class_names);
        for (const char* k : {"accuracy", "macro_f1"}) values[k].push_back(m[k]);
      } else {
        m = regression_metrics(t_s, p_s).to_json();
        for (const char* k : {"r2", "rmse", "bias", "sigma_nmad", "eta_0.05", "eta_0.15"}) values[k].push_back(m[k]);
        if (prob.contains("crps")) {  // the predictive distribution's calibration and sharpness
          m["probabilistic"] = prob;
          for (const char* k : {"crps", "pit_ks", "coverage_68", "coverage_95"}) values[k].push_back(prob[k]);
        }
      }
      m["labels_used"] = static_cast<int64_t>(sel.size());
      m["seed"] = seed;
      m["fit"] = info;
      point["runs"].push_back(m);
      if (first_pred.empty()) {
        first_pred = pred;
        first_pit = pit;
        truth_scored = t_s;
        result["metrics"] = m;
      }
      spdlog::info("{} probe, {} labels{}, seed {}: {}", po.kind, sel.size(), per_class && budget > 0 ? fmt::format(" ({} per class)", budget) : "",
                   seed, y.classification ? fmt::format("macro-F1 {:.3f}, accuracy {:.3f}", m["macro_f1"].get<double>(), m["accuracy"].get<double>())
                                          : fmt::format("R2 {:.3f}, sigma_NMAD {:.4f}, eta(0.15) {:.3f}", m["r2"].get<double>(),
                                                        m["sigma_nmad"].get<double>(), m["eta_0.15"].get<double>()));
    }
    for (auto& [k, v] : values) {
      auto [mean, sd] = mean_std(v);
      point["mean"][k] = mean;
      point["std"][k] = sd;
    }
    result["curve"].push_back(point);
  }
  const FeatureSet& tfs = split ? tr.fs : te.fs;
  if (!o.out.empty() && o.out_format != "csv") {
    // A dataset LSDB can join with the test data, object by object.
    const Column* ra = tfs.rows.find(mmu::kRa);
    const Column* dec = tfs.rows.find(mmu::kDec);
    if (!ra || !dec) fail_input("{}: --out-format {} needs ra and dec in the test data", split ? o.train : o.test, o.out_format);
    std::vector<std::string> ids, truth_s, pred_s;
    std::vector<double> ras, decs, truth_v, pred_v;
    for (size_t k = 0; k < te.rows.size(); ++k) {
      int64_t i = te.rows[k];
      ids.push_back(tfs.rows.at(mmu::kObjectId).strings[i]);
      ras.push_back(ra->as_double(i)), decs.push_back(dec->as_double(i));
      if (y.classification) {
        truth_s.push_back(std::isnan(te.y[k]) ? "" : y.class_names[static_cast<int64_t>(te.y[k])]);
        pred_s.push_back(std::isnan(first_pred[k]) ? "" : y.class_names[static_cast<int64_t>(first_pred[k])]);
      } else {
        truth_v.push_back(te.y[k]), pred_v.push_back(first_pred[k]);
      }
    }
    Table t;
    t.add(make_string_column(mmu::kObjectId, ids));
    t.add(make_column<double>(mmu::kRa, ras));
    t.add(make_column<double>(mmu::kDec, decs));
    if (y.classification) {
      t.add(make_string_column("true", truth_s));
      t.add(make_string_column("predicted", pred_s));
    } else {
      t.add(make_column<double>("true", truth_v));
      t.add(make_column<double>("predicted", pred_v));
    }
    WriteOptions wo;
    wo.format = parse_out_format(o.out_format);
    if (wo.format == "hats") wo.hats_partitions = partitions_of(Dataset::open(split ? o.train : o.test));
    DatasetWriter w(o.out, "predictions", wo);
    w.set_attribute("probe", o.probe.kind);
    w.set_attribute("target", o.target);
    if (t.rows() > 0) w.append(t);
    w.commit();
  } else if (!o.out.empty()) {
    std::string csv = "object_id,ra,dec,true,predicted\n";
    const Column* ra = tfs.rows.find(mmu::kRa);
    const Column* dec = tfs.rows.find(mmu::kDec);
    for (size_t k = 0; k < te.rows.size(); ++k) {
      int64_t i = te.rows[k];
      auto label = [&](double v) -> std::string {
        if (std::isnan(v)) return "";
        return y.classification ? y.class_names[static_cast<int64_t>(v)] : fmt::format("{:.9g}", v);
      };
      csv += fmt::format("{},{},{},{},{}\n", tfs.rows.at(mmu::kObjectId).strings[i], ra ? fmt::format("{:.9g}", ra->as_double(i)) : "",
                         dec ? fmt::format("{:.9g}", dec->as_double(i)) : "", label(te.y[k]), label(first_pred[k]));
    }
    write_file_atomic(o.out, csv);
  }
  if (!o.report.empty()) {
    std::vector<double> p_s;
    for (size_t i = 0; i < te.y.size(); ++i)
      if (!std::isnan(te.y[i])) p_s.push_back(first_pred[i]);
    write_probe_report(o.report, result, truth_scored, p_s, first_pit);
  }
  return result;
}

}  // namespace astrofm
