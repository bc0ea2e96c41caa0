#pragma once
// `astrofm photoz fit|predict`: the photo-z core (photoz.h) on datasets. fit
// trains on the labelled objects of a dataset (by default its fixed 80%
// training split, the one `astrofm probe` uses) and saves the model; predict
// writes, per object, z_mode, z_median, z_mean, z_p16, z_p84 and the density
// z_pdf on the model's grid (as a dataset, HDF5 or HATS), optionally the
// same PDFs as a qp file for RAIL, and scores them when the truth is there.
// Thread-safety: one job at a time per output.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/photoz.h"

namespace astrofm {

struct PhotozFitOptions {
  std::string data;
  std::string split = "train";            // train | test | all (the fixed 80/20 split by a hash of object_id)
  std::string target = "z";
  std::vector<std::string> extra_columns;  // further features (embeddings), concatenated
  int64_t labels = 0;                      // > 0: this many labelled objects, drawn at random (seed)
  PhotozOptions model;                     // bands, errors, network settings (extra is set from the columns)
  std::string save;                        // the model file
};
// Returns {"objects", "info" (what fitting chose), "model"}.
nlohmann::json photoz_fit(const PhotozFitOptions& o);

struct PhotozPredictOptions {
  std::string model;                 // a photoz model file
  std::string data;
  std::string split = "all";         // all | test | train
  std::string out;                   // output dataset; empty: none
  std::string out_format = "hdf5";   // hdf5 | hats
  std::string qp;                    // qp file (interp ensemble with zmode, zmedian, zmean and object ids); empty: none
  std::string target;                // truth column for metrics; empty: "z" when the data has it
  std::string report;                // HTML report folder (metrics, predicted vs true, PIT); needs the truth
  std::vector<std::string> extra_columns;
  int64_t batch = 4096;
  bool overwrite = false;
};
// Returns {"objects", "metrics" (when the truth is there): grid_pdf_metrics plus
// the point metrics (sigma_nmad, eta_0.15, bias, ...) of the mode, median and mean}.
nlohmann::json photoz_predict(const PhotozPredictOptions& o);

}  // namespace astrofm
