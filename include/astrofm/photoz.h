#pragma once
// Photometric redshifts with calibrated PDFs, the in-memory core behind
// `astrofm photoz`, Python's astrofm.PhotoZ and the RAIL stages
// (rail.estimation.algos.astrofm).
//
// The estimator is an ensemble of mixture-density networks: each member maps
// a galaxy's magnitudes, adjacent colours and log magnitude errors (plus any
// extra features, such as frozen embeddings) to a mixture of Gaussians in z,
// trained by maximum likelihood with early stopping on a validation split.
// The members' mixtures are averaged, then calibrated on a split that no
// member trained on: the PDF's width by a temperature (p^(1/T), T by the
// likelihood of that split), then, only if its PITs still fail a KS test,
// the CDF through the empirical CDF of those PITs.
//
// Missing magnitudes (NaN, +-inf, |m| >= 90 as surveys write 99 and -99, or
// a non-positive or non-finite error) are not zeros: each band carries a
// "missing" flag, and training drops bands at random so that the networks
// learn what a galaxy without that band looks like; such galaxies get wider
// PDFs. Torch-free header.
// Thread-safety: fit() mutates; pdf() is const and safe to call concurrently.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm {

struct PhotozOptions {
  std::vector<std::string> bands;   // magnitude columns, blue to red (colours are of neighbours)
  std::vector<std::string> errors;  // their errors, one per band; empty: no errors
  int64_t extra = 0;                // extra feature values per object (embeddings), appended as given
  double zmin = 0, zmax = 3;        // the output grid (RAIL's defaults)
  int64_t nzbins = 301;
  int64_t members = 5;              // networks in the ensemble, each with its own seed and validation split
  int64_t components = 6;           // Gaussians per network
  std::vector<int64_t> hidden = {128, 128, 128};
  int64_t epochs = 150, batch = 256, patience = 30;
  double lr = 2e-3, weight_decay = 1e-4;
  double val_fraction = 0.125;      // of each member's training rows, for early stopping
  double calibration_fraction = 0.1;  // held out from every member (from 1,000 labelled objects on); 0: no recalibration
  double band_dropout = 0.05;       // training rows that lose one band at random
  // Objects without a finite redshift are unlabelled: when there are at least
  // 100 of them, one network body is first pre-trained on every object's
  // magnitudes (rebuilding bands hidden at random) and each member starts
  // from it. 0: no pre-training.
  int64_t pretrain_epochs = 30;
  // Training magnitudes are redrawn within error_noise x their errors each
  // epoch (needs errors); 0: as measured.
  double error_noise = 0;
  uint64_t seed = 0;
  int threads = 0;                  // torch threads while fitting; 0: leave as set
};

// Rows of magnitudes (and errors, extras) for n objects, row-major.
struct PhotozInputs {
  int64_t n = 0;
  std::vector<float> mags;    // [n, bands]
  std::vector<float> errors;  // [n, bands] or empty
  std::vector<float> extra;   // [n, extra] or empty
};

class PhotozEstimator {
 public:
  explicit PhotozEstimator(PhotozOptions o = {});
  ~PhotozEstimator();
  PhotozEstimator(PhotozEstimator&&) noexcept;
  PhotozEstimator& operator=(PhotozEstimator&&) noexcept;

  // Trains on objects with a finite z (InputError when fewer than 20 have one,
  // or when inputs do not match the options' bands); the others are
  // unlabelled (see pretrain_epochs). `progress` gets (member, epoch,
  // validation loss) after each epoch; member -1 is pre-training.
  void fit(const PhotozInputs& x, const std::vector<double>& z,
           const std::function<void(int64_t, int64_t, double)>& progress = {});
  bool fitted() const;
  const PhotozOptions& options() const;
  std::vector<double> grid() const;  // nzbins values from zmin to zmax
  // Densities on the grid, [n, nzbins] row-major, each row integrating to 1
  // by the trapezoid rule (qp's interp ensemble).
  std::vector<double> pdf(const PhotozInputs& x) const;
  // What fitting chose and measured: epochs per member, validation loss,
  // calibration PIT quantiles, objects used.
  nlohmann::json info() const;

  // An astrofm model file (architecture "photoz"); bytes for pickling.
  void save(const std::string& path) const;
  std::string to_bytes() const;
  static PhotozEstimator load(const std::string& path);
  static PhotozEstimator from_bytes(std::string bytes, const std::string& name = "(in memory)");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether a magnitude / error pair is a measurement (see above).
bool photoz_measured(float mag, float err, bool have_err);

}  // namespace astrofm
