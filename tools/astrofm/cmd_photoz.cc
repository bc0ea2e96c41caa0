#include <cstdio>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/photoz_run.h"
#include "commands.h"

namespace astrofm::cli {

void add_photoz_commands(CLI::App& app) {
  auto* pz = app.add_subcommand("photoz", "Photometric redshifts with calibrated PDFs (docs/photoz.md)");
  pz->require_subcommand(1);

  auto* fit = pz->add_subcommand("fit", "Train the photo-z estimator on a dataset's magnitudes and redshifts");
  static PhotozFitOptions f;
  static std::string fit_json;
  fit->add_option("--data", f.data, "dataset with magnitudes and redshifts")->required();
  fit->add_option("--bands", f.model.bands, "magnitude columns, blue to red")->delimiter(',')->required();
  fit->add_option("--errors", f.model.errors, "their error columns (recommended)")->delimiter(',');
  fit->add_option("--extra", f.extra_columns, "further feature columns, e.g. embedding")->delimiter(',');
  fit->add_option("--target", f.target, "the redshift column")->capture_default_str();
  fit->add_option("--split", f.split, "train (the fixed 80% by a hash of object_id), test or all")->capture_default_str();
  fit->add_option("--labels", f.labels, "train on this many labelled objects, drawn at random");
  fit->add_option("--save", f.save, "the model file to write")->required();
  fit->add_option("--members", f.model.members, "networks in the ensemble")->capture_default_str();
  fit->add_option("--components", f.model.components, "Gaussians per network")->capture_default_str();
  fit->add_option("--hidden", f.model.hidden, "hidden layer widths")->delimiter(',');
  fit->add_option("--epochs", f.model.epochs, "epochs per network")->capture_default_str();
  fit->add_option("--zmin", f.model.zmin, "the output grid's first value")->capture_default_str();
  fit->add_option("--zmax", f.model.zmax, "the output grid's last value")->capture_default_str();
  fit->add_option("--nzbins", f.model.nzbins, "grid points")->capture_default_str();
  fit->add_option("--calibration-fraction", f.model.calibration_fraction, "held out to check (and if needed correct) the PIT calibration")
      ->capture_default_str();
  fit->add_option("--seed", f.model.seed, "random seed")->capture_default_str();
  fit->add_option("--json", fit_json, "write what fitting chose as JSON ('-' for stdout)");
  fit->callback([] {
    auto r = photoz_fit(f);
    if (fit_json == "-") std::printf("%s\n", r.dump(1).c_str());
    else if (!fit_json.empty()) write_file_atomic(fit_json, r.dump(1));
    spdlog::info("photoz model: {} ({} objects)", f.save, r["objects"].get<int64_t>());
  });

  auto* pred = pz->add_subcommand("predict", "Redshift PDFs and point estimates for a dataset, as a dataset and/or a qp file");
  static PhotozPredictOptions p;
  static std::string pred_json;
  pred->add_option("MODEL", p.model, "a model from `astrofm photoz fit`")->required();
  pred->add_option("--data", p.data, "dataset with the model's magnitude columns")->required();
  pred->add_option("--split", p.split, "all, test (the fixed 20% by a hash of object_id) or train")->capture_default_str();
  pred->add_option("--out", p.out, "output dataset: object_id, ra, dec, z_mode, z_median, z_mean, z_p16, z_p84, z_pdf");
  pred->add_option("--out-format", p.out_format, "hdf5 or hats")->capture_default_str();
  pred->add_option("--qp", p.qp, "also write the PDFs as a qp file (qp.read, RAIL's evaluation)");
  pred->add_option("--target", p.target, "true redshift column for metrics (default: z when present)");
  pred->add_option("--report", p.report, "HTML report folder: metrics, predicted vs true, PIT histogram (needs the truth)");
  pred->add_option("--extra", p.extra_columns, "the extra feature columns the model was fitted with")->delimiter(',');
  pred->add_flag("--overwrite", p.overwrite, "replace existing outputs");
  pred->add_option("--json", pred_json, "write the metrics as JSON ('-' for stdout)");
  pred->callback([] {
    auto r = photoz_predict(p);
    if (pred_json == "-") std::printf("%s\n", r.dump(1).c_str());
    else if (!pred_json.empty()) write_file_atomic(pred_json, r.dump(1));
    if (!p.report.empty()) spdlog::info("report: {}/index.html", p.report);
    if (r.contains("metrics")) {
      const auto& m = r["metrics"];
      spdlog::info("{} objects: sigma_NMAD {:.4f}, eta(0.15) {:.4f}, PIT KS {:.4f}, CRPS {:.4f}, 68% coverage {:.3f}", r["objects"].get<int64_t>(),
                   m["mode"].value("sigma_nmad", NAN), m["mode"].value("eta_0.15", NAN), m.value("pit_ks", NAN), m.value("crps", NAN),
                   m.value("coverage_68", NAN));
    }
  });
}

}  // namespace astrofm::cli
