#include <cstdio>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/probe_run.h"
#include "commands.h"

namespace astrofm::cli {

void add_probe_command(CLI::App& app) {
  auto* c = app.add_subcommand("probe", "Fit a probe on frozen features (or a CNN from scratch on pixels) and score it on a test set");
  static ProbeRunOptions o;
  static std::string json_out, curve;
  static bool classify = false, regress = false;
  c->add_option("KIND", o.probe.kind,
                "knn, ridge, logistic, mlp, attentive, cnn (supervised from scratch on the images) or finetune (a pre-trained encoder "
                "with a head, on the images)")
      ->required()->check(CLI::IsMember({"knn", "ridge", "logistic", "mlp", "attentive", "cnn", "finetune"}));
  c->add_option("--model", o.finetune_model, "finetune: the pre-trained image encoder (a shipped name such as galaxy-cnn-ssl, or a file)");
  c->add_option("--train", o.train, "dataset to fit on (an embedding catalogue or any MMU dataset)")->required();
  c->add_option("--test", o.test, "dataset to score on; default: 20% of --train chosen by a hash of object_id");
  c->add_option("--target", o.target, "the column to predict (in --labels-csv when given)")->required();
  c->add_option("--labels-csv", o.labels_csv, "CSV of labels joined on object_id (id column: object_id, objid or id; else the first)");
  c->add_option("--features", o.features, "feature columns (default: the embedding column); catalogue columns work too")->delimiter(',');
  c->add_option("--pca", o.pca, "project the features on their first N principal components first (e.g. raw pixels)");
  c->add_flag("--classify", classify, "treat the target as classes (default: integer or text targets are classes)");
  c->add_flag("--regress", regress, "treat the target as a continuous value");
  c->add_option("--labels", o.labels, "use this many labelled training objects (random; default all)");
  c->add_option("--labels-per-class", o.labels_per_class, "use this many labelled objects per class");
  c->add_option("--curve", curve, "label-efficiency curve: comma-separated budgets (per class for classes), 'all' for every label");
  c->add_option("--repeats", o.repeats, "seeds per label budget (mean and spread)")->capture_default_str();
  c->add_option("--seed", o.probe.seed, "random seed (label draws, splits, network initialisation)")->capture_default_str();
  c->add_option("--k", o.probe.knn.k, "knn: neighbours")->capture_default_str();
  c->add_option("--weights", o.probe.knn.weights, "knn: uniform or distance")->check(CLI::IsMember({"uniform", "distance"}))->capture_default_str();
  c->add_flag("--standardize", o.probe.knn.standardize, "knn: z-score features with the training mean and std");
  c->add_option("--alphas", o.probe.alphas, "ridge: regularisation grid searched by CV")->delimiter(',');
  c->add_option("--C", o.probe.Cs, "logistic: inverse regularisation grid searched by CV")->delimiter(',');
  c->add_flag("--balanced", o.probe.balanced, "logistic, mlp, attentive: weight classes by n / (classes * count)");
  c->add_option("--hidden", o.probe.hidden, "mlp: hidden layer widths")->delimiter(',');
  c->add_option("--max-epochs", o.probe.max_epochs, "mlp, attentive: epoch limit (early stopping usually ends sooner)")->capture_default_str();
  c->add_option("--cnn-config", o.cnn_config,
                "cnn, finetune: `astrofm train supervised` settings (JSON; finetune: over lr 3e-4, layer_decay 0.7, early_stopping 3)");
  c->add_option("--cnn-steps", o.cnn_steps, "cnn, finetune: training steps (overrides the config)");
  c->add_option("--out", o.out, "predictions (object_id, ra, dec, true, predicted) of the first run");
  c->add_option("--out-format", o.out_format, "csv, hdf5 (MMU layout) or hats (a HATS catalogue partitioned like the test data)")
      ->capture_default_str();
  c->add_option("--save", o.save, "save the fitted probe (first run) to this file, for `astrofm serve --probe` and Python");
  c->add_option("--report", o.report, "folder for an HTML report with PNG plots");
  c->add_option("--json", json_out, "write the results as JSON to this file ('-' for stdout)");
  c->callback([] {
    if (classify && regress) fail_usage("--classify and --regress exclude each other");
    if (o.labels > 0 && o.labels_per_class > 0) fail_usage("give --labels or --labels-per-class, not both");
    o.mode = classify ? "classification" : regress ? "regression" : "auto";
    o.curve.clear();
    if (!curve.empty()) {
      size_t s = 0;
      while (s <= curve.size()) {
        size_t e = curve.find(',', s);
        std::string tok = curve.substr(s, e == std::string::npos ? std::string::npos : e - s);
        if (tok == "all") o.curve.push_back(0);
        else {
          try {
            size_t used = 0;
            long v = std::stol(tok, &used);
            if (used != tok.size() || v <= 0) throw std::invalid_argument(tok);
            o.curve.push_back(v);
          } catch (const std::exception&) {
            fail_usage("--curve: '{}' is not a positive number or 'all'", tok);
          }
        }
        if (e == std::string::npos) break;
        s = e + 1;
      }
    }
    auto r = run_probe(o);
    if (json_out == "-") std::printf("%s\n", r.dump(1).c_str());
    else if (!json_out.empty()) write_file_atomic(json_out, r.dump(1));
    if (!o.report.empty()) spdlog::info("report: {}/index.html", o.report);
  });
}

}  // namespace astrofm::cli
