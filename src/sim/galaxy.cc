#include "galaxy.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "astrofm/config.h"
#include "astrofm/bands.h"
#include "astrofm/error.h"
#include "astrofm/resources.h"

namespace astrofm::sim {
namespace {

constexpr double kPc10Mpc = 1e-5;  // 10 pc in Mpc

// Emission lines: rest wavelength and flux relative to H-alpha (case B Hb = Ha/2.86;
// [OII], [OIII], [NII] in the fixed ratios of the Ilbert et al. 2009 prescription
// that EAZY v1.1 uses).
struct Line {
  double lambda, ratio;
};
constexpr Line kLines[] = {{6564.6, 1.0}, {4862.7, 1 / 2.86}, {3728.5, 0.57 * 1.0}, {5008.2, 0.36}, {4960.3, 0.12},
                           {6585.3, 0.30}, {6549.9, 0.10}};

// Comoving volume per unit redshift and solid angle, up to a constant: D_C^2 / E(z).
double dvdz(double z) {
  double dc = luminosity_distance_mpc(z) / (1 + z);
  return dc * dc / std::sqrt(0.3 * std::pow(1 + z, 3) + 0.7);
}

double uniform(std::mt19937_64& r) { return std::uniform_real_distribution<double>(0, 1)(r); }
double normal(std::mt19937_64& r) { return std::normal_distribution<double>(0, 1)(r); }

}  // namespace

std::mt19937_64 object_rng(uint64_t seed, int64_t index) {
  // SplitMix64 of (seed, index): independent streams per object, so output
  // does not depend on thread count or on where a resumed run restarts.
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(index) + 0x632BE59BD9B4E019ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  std::seed_seq seq{static_cast<uint32_t>(x), static_cast<uint32_t>(x >> 32), static_cast<uint32_t>(index)};
  return std::mt19937_64(seq);
}

Factory::Factory(const SimOptions& opt) : opt_(opt) {
  std::string dir = opt.data_dir.empty() ? data_dir().string() : opt.data_dir;
  for (const char* t : kTemplates) {
    std::string p = dir + "/sed_templates/" + t + ".sed";
    if (!std::filesystem::exists(p)) fail_input("{}: SED template missing (pass --data-dir with sed_templates/ and filters/)", p);
    seds_.push_back(Sed::load_ascii(p));
  }
  for (size_t k = 0; k < seds_.size(); ++k) norm_[k] = 1.0 / seds_[k].at(5500.0);
  // Filter curves named by the band table.
  auto curve = [&](const std::string& name) { return Filter::load_ecsv(dir + "/filters/" + band(name, "simulator").curve + ".ecsv"); };
  for (int b = 0; b < 3; ++b) filters_[kDecam + b] = curve(kImageBands[b]);
  auto sdss = survey_bands("SDSS");
  for (int b = 0; b < 5; ++b) filters_[kSdss + b] = curve(sdss[b]);
  for (int b = 0; b < 5; ++b) filters_[kHsc + b] = curve(kHscBands[b]);
  // Magnitudes are linear in the template weights: tabulate each template's
  // filter integral on a fine redshift grid once (trapezoid, as ab_magnitude).
  constexpr double kC = 2.99792458e18, kFab = 3.631e-20;
  int nz = static_cast<int>(std::ceil((std::max(opt.z_max, 0.02) + 0.01) / kDz)) + 2;
  table_.resize(nz);
  for (int f = 0; f < kFilters; ++f) {
    const Filter& fl = filters_[f];
    double den = 0;
    for (size_t j = 0; j + 1 < fl.wave.size(); ++j)
      den += 0.5 * (kC / fl.wave[j] * kFab * fl.response[j] + kC / fl.wave[j + 1] * kFab * fl.response[j + 1]) *
             (fl.wave[j + 1] - fl.wave[j]);
    ab_norm_[f] = den;
    for (int i = 0; i < nz; ++i) {
      double z = i * kDz;
      for (size_t k = 0; k < seds_.size(); ++k) {
        double num = 0;
        for (size_t j = 0; j + 1 < fl.wave.size(); ++j) {
          double l0 = fl.wave[j], l1 = fl.wave[j + 1];
          num += 0.5 * (seds_[k].at(l0 / (1 + z)) * fl.response[j] * l0 + seds_[k].at(l1 / (1 + z)) * fl.response[j + 1] * l1) * (l1 - l0);
        }
        table_[i][f][k] = num * norm_[k];
      }
    }
  }
  if (!(opt.z_max > 0.02 && opt.z_max <= 6)) fail_usage("z_max must lie in (0.02, 6], got {}", opt.z_max);
  dvdz_max_ = 0;
  for (int i = 0; i <= 400; ++i) dvdz_max_ = std::max(dvdz_max_, dvdz(0.01 + (opt.z_max - 0.01) * i / 400.0));
  dvdz_max_ *= 1.01;
  // Schechter function in absolute magnitude (M* = -21.4, alpha = -1.1, SDSS r;
  // Blanton et al. 2003) over -23.5 .. -18, tabulated as a CDF for inverse sampling.
  for (int i = 0; i <= 1100; ++i) {
    double m = -23.5 + 0.005 * i, x = std::pow(10.0, -0.4 * (m + 21.4));
    double phi = std::pow(x, -0.1) * std::exp(-x);
    lf_mag_.push_back(m);
    lf_cdf_.push_back(i == 0 ? 0.0 : lf_cdf_.back() + 0.005 * phi);
  }
  for (auto& c : lf_cdf_) c /= lf_cdf_.back();
  if (opt.region.size() != 4 || !(opt.region[0] < opt.region[1]) || !(opt.region[2] < opt.region[3]) ||
      opt.region[2] < -90 || opt.region[3] > 90)
    fail_usage("--region must be RA0,RA1,DEC0,DEC1 with RA0 < RA1 and -90 <= DEC0 < DEC1 <= 90");
}

double Factory::rest_continuum(const Galaxy& g, double l, bool bulge, bool disk) const {
  double f = 0;
  for (size_t k = 0; k < seds_.size(); ++k) {
    if (g.weights[k] == 0 || (k == 0 && !bulge) || (k > 0 && !disk)) continue;
    f += g.weights[k] * norm_[k] * seds_[k].at(l);
  }
  return f;
}

double Factory::line_continuum(const Galaxy& g) const {
  // The Kinney starburst templates carry their own emission lines; lines are
  // added to the CWW disk templates (Sbc, Scd, Im) only, never twice.
  double f = 0;
  for (size_t k = 1; k <= 3; ++k) f += g.weights[k] * norm_[k] * seds_[k].at(6564.6);
  return f;
}

double Factory::f_lambda(const Galaxy& g, double lambda_obs, bool bulge, bool disk, bool lines, double lsf) const {
  double lr = lambda_obs / (1 + g.z);
  double f = rest_continuum(g, lr, bulge, disk);
  if (lines && disk && g.ew_halpha > 0) {
    // Line flux = EW x the disk continuum at H-alpha (rest frame); Gaussian
    // profile of 100 km/s intrinsic dispersion, broadened by the instrument.
    double cont_ha = line_continuum(g);
    for (const Line& ln : kLines) {
      double flux = g.ew_halpha * ln.ratio * cont_ha;
      double sig = std::hypot(ln.lambda * 100.0 / 299792.458, lsf / (1 + g.z));
      double d = (lr - ln.lambda) / sig;
      if (std::abs(d) < 8) f += flux * std::exp(-0.5 * d * d) / (std::sqrt(2 * M_PI) * sig);
    }
  }
  // f_lambda,obs(l) = L_lambda(l / (1+z)) / (4 pi d_L^2 (1+z)); `scale` holds the rest.
  return g.scale * f / (1 + g.z);
}

double Factory::magnitude_exact(const Galaxy& g, int f, bool bulge, bool disk) const {
  return ab_magnitude(filters_[f], [&](double l) { return f_lambda(g, l, bulge, disk); });
}

double Factory::magnitude(const Galaxy& g, int f, bool bulge, bool disk) const {
  double x = g.z / kDz;
  size_t i = std::min(static_cast<size_t>(x), table_.size() - 2);
  double t = x - i, num = 0;
  for (size_t k = 0; k < seds_.size(); ++k) {
    if (g.weights[k] == 0 || (k == 0 && !bulge) || (k > 0 && !disk)) continue;
    num += g.weights[k] * ((1 - t) * table_[i][f][k] + t * table_[i + 1][f][k]);
  }
  num /= 1 + g.z;
  if (disk && g.ew_halpha > 0) {
    // A line narrower than the curve's features: its flux times R(l) l at the observed wavelength.
    const Filter& fl = filters_[f];
    double cont_ha = line_continuum(g);
    for (const Line& ln : kLines) {
      double lo = ln.lambda * (1 + g.z);
      if (lo <= fl.wave.front() || lo >= fl.wave.back()) continue;
      size_t j = static_cast<size_t>(std::upper_bound(fl.wave.begin(), fl.wave.end(), lo) - fl.wave.begin());
      double u = (lo - fl.wave[j - 1]) / (fl.wave[j] - fl.wave[j - 1]);
      double r = fl.response[j - 1] + u * (fl.response[j] - fl.response[j - 1]);
      num += g.ew_halpha * ln.ratio * cont_ha * r * lo;
    }
  }
  num *= g.scale;
  if (!(num > 0)) return INFINITY;
  return -2.5 * std::log10(num / ab_norm_[f]);
}

Galaxy Factory::draw(int64_t index) const {
  auto rng = object_rng(opt_.seed, index);
  Galaxy g{};
  const auto& reg = opt_.region;
  // Uniform on the sphere within the region.
  double s0 = std::sin(reg[2] * M_PI / 180), s1 = std::sin(reg[3] * M_PI / 180);
  g.ra = reg[0] + (reg[1] - reg[0]) * uniform(rng);
  g.dec = std::asin(s0 + (s1 - s0) * uniform(rng)) * 180 / M_PI;
  for (int attempt = 0; attempt < 100000; ++attempt) {
    // Redshift from the comoving volume element and luminosity from the
    // Schechter function; the survey's magnitude limit then decides. Only
    // luminosities that could pass (K-corrections stay above -1.5 mag) are
    // proposed, with z accepted in proportion to the luminosity function's
    // mass that could pass: the same distribution as drawing all and cutting.
    double z = 0.01 + (opt_.z_max - 0.01) * uniform(rng);
    if (uniform(rng) * dvdz_max_ > dvdz(z)) continue;
    double dl = luminosity_distance_mpc(z);
    double m_faint = std::min(-18.0, opt_.r_mag_limit - 5 * std::log10(dl * 1e5) + 1.5);
    if (m_faint <= lf_mag_.front()) continue;
    auto cdf_at = [&](double mm) {
      double x = (mm - lf_mag_.front()) / 0.005;
      size_t j = std::min(static_cast<size_t>(x), lf_cdf_.size() - 2);
      return lf_cdf_[j] + (x - j) * (lf_cdf_[j + 1] - lf_cdf_[j]);
    };
    double reach = cdf_at(m_faint);
    if (uniform(rng) > reach) continue;
    double target = uniform(rng) * reach;
    size_t j = static_cast<size_t>(std::upper_bound(lf_cdf_.begin(), lf_cdf_.end(), target) - lf_cdf_.begin());
    j = std::clamp<size_t>(j, 1, lf_cdf_.size() - 1);
    double m = lf_mag_[j - 1] + 0.005 * (target - lf_cdf_[j - 1]) / std::max(lf_cdf_[j] - lf_cdf_[j - 1], 1e-300);
    g.z = z;
    g.abs_mag_r = m;
    // Bright galaxies are mostly red (the red fraction rises with luminosity).
    double red_frac = 1.0 / (1.0 + std::exp((m + 20.8) / 0.6));
    g.type = uniform(rng) < red_frac ? 0.2 * uniform(rng) : 0.15 + 0.85 * uniform(rng);
    g.bulge_fraction = std::clamp(1.0 - 1.6 * g.type + 0.08 * normal(rng), 0.0, 1.0);
    // The disk's template: linear interpolation along Sbc, Scd, Im, SB2, SB1.
    g.weights.fill(0);
    g.weights[0] = g.bulge_fraction;
    double pos = std::clamp((g.type - 0.15) / 0.85, 0.0, 1.0) * 4.0;
    int k = std::min(3, static_cast<int>(pos));
    double t = pos - k;
    g.weights[1 + k] = (1 - g.bulge_fraction) * (1 - t);
    g.weights[2 + k] += (1 - g.bulge_fraction) * t;
    g.ew_halpha = g.bulge_fraction < 1 ? std::exp(std::log(5.0 + 120.0 * g.type * g.type) + 0.3 * normal(rng)) : 0.0;
    // Normalise so that the rest-frame SDSS r absolute magnitude is m.
    g.scale = 1.0;
    Galaxy rest = g;
    rest.z = 0;
    double m_unit = magnitude(rest, kSdss + 2);
    double d_ratio = kPc10Mpc / dl;
    g.scale = std::pow(10.0, -0.4 * (m - m_unit)) * d_ratio * d_ratio;
    double r_obs = magnitude(g, kDecam + 1);
    if (r_obs > opt_.r_mag_limit) continue;
    // Stellar mass from the colour-dependent mass-to-light ratio of Bell et
    // al. 2003 (SDSS g-r): log(M/L_r) = -0.306 + 1.097 (g-r), M_sun,r = 4.65.
    double gr = magnitude(rest, kSdss + 1) - m_unit;
    g.log_mstar = -0.4 * (m - 4.65) + (-0.306 + 1.097 * gr);
    // Sizes: disks and bulges follow mass-size relations (Shen et al. 2003), scatter 0.15 dex.
    double da = dl / std::pow(1 + z, 2) * 1e3;  // kpc
    double re_d_kpc = std::pow(10.0, 0.15 * (g.log_mstar - 10) + 0.55 + 0.15 * normal(rng));
    double re_b_kpc = std::pow(10.0, 0.56 * (g.log_mstar - 11) + 0.6 + 0.15 * normal(rng));
    if (g.bulge_fraction < 1) re_b_kpc = std::min(re_b_kpc, 0.5 * re_d_kpc);
    g.re_disk = re_d_kpc / da * 206264.806;
    g.re_bulge = re_b_kpc / da * 206264.806;
    // Disk axis ratio from a random inclination (intrinsic thickness 0.15).
    double cosi = uniform(rng);
    g.q_disk = std::sqrt(cosi * cosi * (1 - 0.0225) + 0.0225);
    g.q_bulge = 0.55 + 0.45 * uniform(rng);
    g.pa = M_PI * uniform(rng);
    g.dx = uniform(rng) - 0.5;
    g.dy = uniform(rng) - 0.5;
    // Seeing: log-normal about 1.2" in r, scaling as lambda^-0.2 across bands.
    double seeing = 1.2 * std::exp(0.15 * normal(rng));
    g.psf_fwhm = {seeing * std::pow(4800.0 / 6400.0, -0.2), seeing, seeing * std::pow(9200.0 / 6400.0, -0.2)};
    g.morphology = g.type < 0.15 ? kElliptical : g.type < 0.3 ? kLenticular : g.type < 0.75 ? kSpiral : kIrregular;
    return g;
  }
  fail_usage("no galaxy passes r < {} with z < {}: loosen the limits", opt_.r_mag_limit, opt_.z_max);
}

}  // namespace astrofm::sim
