#pragma once
// The per-galaxy model of the simulator (internal): draws physical parameters
// for object i from a counter-based seed and renders image, spectrum and photometry.
#include <array>
#include <random>

#include "astrofm/sim.h"

namespace astrofm::sim {

// Template order in TEMPLATE_WEIGHTS: the bulge (E) and the disk sequence.
inline constexpr std::array<const char*, 6> kTemplates = {"CWW_E_ext", "CWW_Sbc_ext", "CWW_Scd_ext",
                                                          "CWW_Im_ext", "KIN_SB2_ext", "KIN_SB1_ext"};
// Legacy-Survey-like imaging: DECam g, r, z (names and curves from the band table).
inline constexpr std::array<const char*, 3> kImageBands = {"DES-G", "DES-R", "DES-Z"};
// 5-sigma point-source depths (AB) of the Legacy Surveys DR9 (Dey et al. 2019): g, r, z.
inline constexpr std::array<double, 3> kDepth = {24.0, 23.4, 22.5};
// HSC-like imaging: HSC g r i z y; Wide-layer 5-sigma point-source depths
// (Aihara et al. 2018, PDR1): g 26.5, r 26.1, i 25.9, z 25.1, y 24.4; median
// i-band seeing 0.6"; coadd fluxes at zero point 27.
inline constexpr std::array<const char*, 5> kHscBands = {"HSC-G", "HSC-R", "HSC-I", "HSC-Z", "HSC-Y"};
inline constexpr std::array<double, 5> kHscDepth = {26.5, 26.1, 25.9, 25.1, 24.4};
inline constexpr std::array<double, 5> kHscWave = {4754, 6175, 7711, 8898, 9762};  // pivots (A), for the seeing's lambda^-0.2

enum Morphology : int64_t { kElliptical = 0, kLenticular = 1, kSpiral = 2, kIrregular = 3 };

struct Galaxy {
  double ra, dec, z, abs_mag_r, log_mstar;
  double type;                     // 0 (elliptical) .. 1 (starburst)
  std::array<double, 6> weights;   // light fractions at 5500 A rest, per template
  double bulge_fraction;
  double re_bulge, re_disk;        // arcsec
  double q_bulge, q_disk, pa;      // axis ratios, position angle (rad)
  double dx, dy;                   // centroid offset (pixels)
  double ew_halpha;                // rest-frame equivalent width of the disk (A)
  std::array<double, 3> psf_fwhm;  // arcsec, g r z
  int64_t morphology;
  double scale;                    // SED normalisation: erg/s/cm^2/A observed per template unit
};

class Factory {
 public:
  explicit Factory(const SimOptions& opt);
  // Draws galaxy `index` (deterministic in seed and index only).
  Galaxy draw(int64_t index) const;
  // Observed-frame f_lambda (erg/s/cm^2/A) of the continuum + lines; `bulge`/`disk` select components.
  double f_lambda(const Galaxy& g, double lambda_obs, bool bulge = true, bool disk = true, bool lines = true,
                  double lsf_sigma = 0.0) const;
  // Filters by index: 0-2 DECam g r z, 3-7 SDSS u g r i z, 8-12 HSC g r i z y.
  static constexpr int kDecam = 0, kSdss = 3, kHsc = 8, kFilters = 13;
  // AB magnitude from per-template filter integrals tabulated in redshift (fast).
  double magnitude(const Galaxy& g, int filter, bool bulge = true, bool disk = true) const;
  // The same by direct integration of f_lambda over the curve (the reference).
  double magnitude_exact(const Galaxy& g, int filter, bool bulge = true, bool disk = true) const;
  const Filter& filter(int i) const { return filters_[i]; }
  const SimOptions& options() const { return opt_; }

 private:
  double rest_continuum(const Galaxy& g, double lambda_rest, bool bulge, bool disk) const;
  double line_continuum(const Galaxy& g) const;  // the continuum emission-line EWs refer to
  SimOptions opt_;
  std::vector<Sed> seds_;
  std::array<double, 6> norm_{};  // 1 / template value at 5500 A
  std::array<Filter, kFilters> filters_;
  // table_[i][f][k]: int T_k(l / (1+z_i)) norm_k R_f(l) l dl on the z grid z_i = i * kDz.
  static constexpr double kDz = 0.002;
  std::vector<std::array<std::array<double, 6>, kFilters>> table_;
  std::array<double, kFilters> ab_norm_{};  // int (c / l) f_AB R_f dl
  std::vector<double> lf_mag_, lf_cdf_;  // Schechter luminosity function, cumulative from the bright end
  double dvdz_max_;     // envelope of the comoving volume element over [0.01, z_max]
};

std::mt19937_64 object_rng(uint64_t seed, int64_t index);

// simulate_objects with a prepared factory (building one tabulates photometry).
Table simulate_with(const Factory& fac, int64_t first, int64_t count);

}  // namespace astrofm::sim
