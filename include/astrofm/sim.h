#pragma once
// A physically consistent simulated survey: every galaxy's image colours,
// spectrum and catalogue fluxes come from one redshifted spectral energy
// distribution (CWW + Kinney templates, emission lines by a Kennicutt-style
// prescription) integrated through real filter curves (DECam g r z, SDSS
// ugriz, HSC grizy). See docs/simulator.md for every modelling choice and its source.
#include <cstdint>
#include <string>
#include <vector>

#include "astrofm/mmu.h"

namespace astrofm {

// A total-throughput curve; wavelengths in Angstrom.
struct Filter {
  std::string name;
  std::vector<double> wave, response;
  static Filter load_ecsv(const std::string& path);  // speclite ECSV (nm or Angstrom, per its header)
  double min_wave() const { return wave.front(); }
  double max_wave() const { return wave.back(); }
};

// A rest-frame template; wavelength in Angstrom, f_lambda in arbitrary units.
struct Sed {
  std::string name;
  std::vector<double> wave, flux;
  static Sed load_ascii(const std::string& path);
  double at(double lambda) const;  // linear interpolation, 0 outside
};

// AB magnitude of an observed-frame f_lambda (erg/s/cm^2/A) through a photon-counting filter.
template <class F> double ab_magnitude(const Filter& f, F&& f_lambda);

// Flat LambdaCDM, H0 = 70 km/s/Mpc, Omega_m = 0.3.
double luminosity_distance_mpc(double z);

struct SimOptions {
  int64_t objects = 1000;
  uint64_t seed = 1;
  std::string data_dir;         // folder with sed_templates/ and filters/ (default: the shipped sample)
  int image_size = 64;          // pixels
  double pixel_scale = 0;       // arcsec/pixel; 0: the imaging survey's (0.262 Legacy Survey, 0.168 HSC)
  // Whose images: "legacy" (DECam g r z, nanomaggies, Legacy Surveys DR9
  // depths and seeing) or "hsc" (HSC g r i z y at zero point 27, Wide-layer
  // depths, 0.6" seeing). Catalogue columns are the same for both.
  std::string imaging = "legacy";
  double spectrum_step = 0.8;   // Angstrom; DESI's coadd grid 3600-9824 A
  double r_mag_limit = 21.0;    // DECam r, AB: the selection of the survey
  double z_max = 1.0;
  std::vector<double> region = {150, 190, 0, 30};  // ra0, ra1, dec0, dec1 (deg)
  // Astrometric scatter (arcsec, per coordinate) added to the true position,
  // drawn per config name: two surveys of the same seed see the same galaxies
  // at slightly different positions, as real surveys do.
  double position_jitter = 0.0;
  bool images = true;
  bool spectra = true;
  std::string config = "sim_paired";
  // LZF by default, as MMU's own files: noisy float pixels barely compress,
  // and gzip would cost more time than the whole simulation.
  WriteOptions write = {.compression = "lzf"};
  int threads = 0;              // 0: all cores
  int64_t checkpoint_every = 4096;
};

// Writes `opt.objects` galaxies to `<out>/<config>/healpix=N/...`, streaming
// (bounded memory), deterministic for a seed whatever the thread count, and
// resumable (opt.write.resume) after an interruption (SIGINT/SIGTERM stop it
// cleanly at the next checkpoint). Returns the number of objects written.
int64_t simulate_survey(const std::string& out, const SimOptions& opt);

// One galaxy's rows (for tests and the Python cross-checks): the same code path.
Table simulate_objects(const SimOptions& opt, int64_t first, int64_t count);

}  // namespace astrofm

#include "astrofm/sim_inl.h"
