// Rendering of one simulated galaxy into the MMU columns.
#include <algorithm>
#include <cmath>
#include <thread>

#include "astrofm/columns.h"
#include "astrofm/sky.h"
#include "galaxy.h"

namespace astrofm::sim {
namespace {

constexpr int kOversample = 4;
constexpr double kLambda0 = 3600.0, kLambda1 = 9824.0;
// Bright night-sky emission lines (A) that raise the spectral noise.
constexpr double kSkyLines[] = {5577.3, 5889.9, 6300.3, 6363.8, 6863.9, 7340.9, 7821.5, 8344.6, 8827.1, 9375.9};
constexpr double kElectronsPerNanomaggy = 300.0;

double sersic_b(double n) { return 2 * n - 1.0 / 3 + 4 / (405 * n) + 46 / (25515 * n * n); }

// Sersic profile on the oversampled grid, binned to pixels, normalised to unit sum.
std::vector<double> sersic_image(int size, double re_px, double n, double q, double pa, double dx, double dy) {
  std::vector<double> img(static_cast<size_t>(size) * size, 0.0);
  re_px = std::max(re_px, 0.05);
  double b = sersic_b(n), c = std::cos(pa), s = std::sin(pa), cx = (size - 1) / 2.0 + dx, cy = (size - 1) / 2.0 + dy;
  double inv_re2 = 1.0 / (re_px * re_px);
  double sum = 0;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      double acc = 0;
      for (int sy = 0; sy < kOversample; ++sy)
        for (int sx = 0; sx < kOversample; ++sx) {
          double px = x - 0.5 + (sx + 0.5) / kOversample - cx, py = y - 0.5 + (sy + 0.5) / kOversample - cy;
          double u = px * c + py * s, v = (-px * s + py * c) / q;
          double r2 = (u * u + v * v) * inv_re2;
          // r^(1/n) without pow for the two profiles used: n = 1 and n = 4.
          double rn = n == 1.0 ? std::sqrt(r2) : n == 4.0 ? std::sqrt(std::sqrt(std::sqrt(r2))) : std::pow(r2, 0.5 / n);
          acc += std::exp(-b * (rn - 1));
        }
      img[static_cast<size_t>(y) * size + x] = acc;
      sum += acc;
    }
  for (auto& v : img) v /= sum;
  return img;
}

// Separable Gaussian convolution (zero outside the stamp).
void convolve_gaussian(std::vector<double>& img, int size, double sigma_px) {
  int rad = std::max(1, static_cast<int>(std::ceil(4 * sigma_px)));
  std::vector<double> k(2 * rad + 1);
  double ks = 0;
  for (int i = -rad; i <= rad; ++i) ks += k[i + rad] = std::exp(-0.5 * i * i / (sigma_px * sigma_px));
  for (auto& v : k) v /= ks;
  std::vector<double> tmp(img.size(), 0.0);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      double a = 0;
      for (int i = -rad; i <= rad; ++i)
        if (x + i >= 0 && x + i < size) a += k[i + rad] * img[static_cast<size_t>(y) * size + x + i];
      tmp[static_cast<size_t>(y) * size + x] = a;
    }
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      double a = 0;
      for (int i = -rad; i <= rad; ++i)
        if (y + i >= 0 && y + i < size) a += k[i + rad] * tmp[static_cast<size_t>(y + i) * size + x];
      img[static_cast<size_t>(y) * size + x] = a;
    }
}

int64_t spectrum_length(double step) { return static_cast<int64_t>(std::floor((kLambda1 - kLambda0) / step + 1e-9)) + 1; }

// DESI's resolution rises from R ~ 2000 in the blue to ~ 5000 in the red arm.
double lsf_sigma(double lambda) { return lambda / (2.355 * (2000.0 + 3000.0 * (lambda - kLambda0) / (kLambda1 - kLambda0))); }

}  // namespace

}  // namespace astrofm::sim

namespace astrofm {

Table simulate_objects(const SimOptions& opt, int64_t first, int64_t count) {
  return sim::simulate_with(sim::Factory(opt), first, count);
}

Table sim::simulate_with(const sim::Factory& fac, int64_t first, int64_t count) {
  using namespace sim;
  const SimOptions& opt = fac.options();
  const int size = opt.image_size;
  if (opt.images && (size < 8 || size > 1024)) fail_usage("image size must be 8..1024 pixels, got {}", size);
  if (opt.spectra && !(opt.spectrum_step >= 0.1 && opt.spectrum_step <= 50))
    fail_usage("spectrum step must be 0.1..50 A, got {}", opt.spectrum_step);
  const int64_t nspec = opt.spectra ? spectrum_length(opt.spectrum_step) : 1;
  const bool hsc = opt.imaging == "hsc";
  if (!hsc && opt.imaging != "legacy") fail_usage("imaging must be legacy or hsc, got '{}'", opt.imaging);
  const int nb = hsc ? 5 : 3;
  ImageColumns img(opt.images ? count : 0, nb, size, size);
  SpectrumColumns spec(opt.spectra ? count : 0, nspec);
  std::vector<std::string> ids(count);
  std::vector<double> ra(count), dec(count), z(count), logm(count), absr(count), bt(count), hlr(count), ell(count),
      pa(count), ew(count), fib(count);
  std::vector<int64_t> morph(count);
  std::vector<double> weights(count * 6);
  std::vector<double> flux(count * 3), flux_ivar(count * 3), mag(count * 3), mag_sdss(count * 5);

  auto one = [&](int64_t i) {
    int64_t index = first + i;
    Galaxy g = fac.draw(index);
    auto rng = object_rng(opt.seed ^ 0x5DEECE66Dull, index);  // noise stream, separate from the parameters
    std::normal_distribution<double> gauss(0, 1);
    ids[i] = fmt::format("sim{}-{:09d}", opt.seed, index);
    ra[i] = g.ra;
    dec[i] = g.dec;
    if (opt.position_jitter > 0) {
      auto jr = object_rng(opt.seed ^ std::hash<std::string>{}(opt.config), index);
      std::normal_distribution<double> j(0, opt.position_jitter / 3600);
      dec[i] = std::clamp(g.dec + j(jr), -90.0, 90.0);
      ra[i] = std::fmod(g.ra + j(jr) / std::max(std::cos(g.dec * M_PI / 180), 1e-6) + 360.0, 360.0);
    }
    z[i] = g.z;
    logm[i] = g.log_mstar;
    absr[i] = g.abs_mag_r;
    bt[i] = g.bulge_fraction;
    hlr[i] = g.bulge_fraction * g.re_bulge + (1 - g.bulge_fraction) * g.re_disk;
    ell[i] = 1 - (g.bulge_fraction >= 0.5 ? g.q_bulge : g.q_disk);
    pa[i] = g.pa * 180 / M_PI;
    ew[i] = g.ew_halpha;
    morph[i] = g.morphology;
    for (int k = 0; k < 6; ++k) weights[i * 6 + k] = g.weights[k];
    for (int b = 0; b < 5; ++b) mag_sdss[i * 5 + b] = fac.magnitude(g, Factory::kSdss + b);
    double bulge_flux[3], disk_flux[3];
    for (int b = 0; b < 3; ++b) {
      // Component fluxes through the same filter: colour gradients follow the SEDs.
      double mb = g.bulge_fraction > 0 ? fac.magnitude(g, Factory::kDecam + b, true, false) : INFINITY;
      double md = g.bulge_fraction < 1 ? fac.magnitude(g, Factory::kDecam + b, false, true) : INFINITY;
      bulge_flux[b] = std::isfinite(mb) ? std::pow(10.0, -0.4 * (mb - 22.5)) : 0.0;
      disk_flux[b] = std::isfinite(md) ? std::pow(10.0, -0.4 * (md - 22.5)) : 0.0;
      double total = bulge_flux[b] + disk_flux[b];
      mag[i * 3 + b] = 22.5 - 2.5 * std::log10(total);
      double sigma = std::pow(10.0, -0.4 * (kDepth[b] - 22.5)) / 5.0;
      flux[i * 3 + b] = total + sigma * gauss(rng);
      flux_ivar[i * 3 + b] = 1.0 / (sigma * sigma);
    }
    double fiber_fraction = 1.0;
    if (opt.images) {
      double px = opt.pixel_scale > 0 ? opt.pixel_scale : hsc ? 0.168 : 0.262;
      auto bulge = sersic_image(size, g.re_bulge / px, 4.0, g.q_bulge, g.pa, g.dx, g.dy);
      auto disk = sersic_image(size, g.re_disk / px, 1.0, g.q_disk, g.pa, g.dx, g.dy);
      std::vector<float> psf(nb), scale(nb, static_cast<float>(px));
      std::vector<std::string> names;
      // Image units: nanomaggies (zero point 22.5), or HSC's zero point 27.
      const double zp = hsc ? std::pow(10.0, (27.0 - 22.5) / 2.5) : 1.0;
      for (int b = 0; b < nb; ++b) {
        double bf = bulge_flux[b < 3 ? b : 0], df = disk_flux[b < 3 ? b : 0], fwhm = g.psf_fwhm[b < 3 ? b : 0], depth = kDepth[b < 3 ? b : 0];
        if (hsc) {
          double mb = g.bulge_fraction > 0 ? fac.magnitude(g, Factory::kHsc + b, true, false) : INFINITY;
          double md = g.bulge_fraction < 1 ? fac.magnitude(g, Factory::kHsc + b, false, true) : INFINITY;
          bf = std::isfinite(mb) ? std::pow(10.0, -0.4 * (mb - 22.5)) : 0.0;
          df = std::isfinite(md) ? std::pow(10.0, -0.4 * (md - 22.5)) : 0.0;
          fwhm = g.psf_fwhm[1] * 0.5 * std::pow(kHscWave[b] / 6400.0, -0.2);  // Mauna Kea: half the seeing
          depth = kHscDepth[b];
        }
        names.push_back(hsc ? kHscBands[b] : kImageBands[b]);
        std::vector<double> model(bulge.size());
        for (size_t p = 0; p < model.size(); ++p) model[p] = bf * bulge[p] + df * disk[p];
        double sig_px = fwhm / 2.3548 / px;
        convolve_gaussian(model, size, sig_px);
        psf[b] = static_cast<float>(fwhm);
        // Sky noise from the band's 5-sigma point-source depth over the PSF's noise-equivalent area.
        double sky = std::pow(10.0, -0.4 * (depth - 22.5)) / 5.0 / std::sqrt(4 * M_PI * sig_px * sig_px);
        float* f = img.flux(i) + static_cast<size_t>(b) * size * size;
        float* iv = img.inv_var(i) + static_cast<size_t>(b) * size * size;
        double in_fiber = 0, all = 0;
        for (int y = 0; y < size; ++y)
          for (int x = 0; x < size; ++x) {
            size_t p = static_cast<size_t>(y) * size + x;
            double var = sky * sky + std::max(model[p], 0.0) / kElectronsPerNanomaggy;
            f[p] = static_cast<float>(zp * (model[p] + std::sqrt(var) * gauss(rng)));
            iv[p] = static_cast<float>(1.0 / (var * zp * zp));
            if (b == 1) {
              double rx = (x - (size - 1) / 2.0) * px, ry = (y - (size - 1) / 2.0) * px;
              all += model[p];
              if (rx * rx + ry * ry <= 0.75 * 0.75) in_fiber += model[p];  // DESI fibres: 1.5" diameter
            }
          }
        if (b == 1 && all > 0) fiber_fraction = in_fiber / all;
      }
      img.set_meta(i, names, psf, scale);
    }
    fib[i] = fiber_fraction;
    if (opt.spectra) {
      double noise_scale = 0.3 / std::sqrt(opt.spectrum_step / 0.8);
      for (int64_t k = 0; k < nspec; ++k) {
        double l = kLambda0 + opt.spectrum_step * k, sig = lsf_sigma(l);
        double model = 1e17 * fiber_fraction * fac.f_lambda(g, l, true, true, true, sig);
        double shape = 1 + 2 * std::exp(-(l - kLambda0) / 300) + 1.5 * std::exp((l - kLambda1) / 500);
        for (double sl : kSkyLines) shape += 3 * std::exp(-0.5 * (l - sl) * (l - sl) / 1.5);
        double s = noise_scale * shape;
        spec.f(i)[k] = static_cast<float>(model + s * gauss(rng));
        spec.iv(i)[k] = static_cast<float>(1 / (s * s));
        spec.lam(i)[k] = static_cast<float>(l);
        spec.m(i)[k] = 0;
        spec.lsf(i)[k] = static_cast<float>(sig);
      }
    }
  };

  unsigned nt = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  nt = static_cast<unsigned>(std::min<int64_t>(nt, std::max<int64_t>(count, 1)));
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(nt);
  for (unsigned t = 0; t < nt; ++t)
    pool.emplace_back([&, t] {
      try {
        for (int64_t i = t; i < count; i += nt) one(i);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);

  Table t;
  t.add(make_string_column(mmu::kObjectId, ids));
  t.add(make_column<double>(mmu::kRa, ra));
  t.add(make_column<double>(mmu::kDec, dec));
  if (opt.images) img.move_into(t);
  if (opt.spectra) spec.move_into(t);
  const char* bands[] = {"G", "R", "Z"};
  for (int b = 0; b < 3; ++b) {
    std::vector<double> f(count), iv(count), m(count);
    for (int64_t i = 0; i < count; ++i) {
      f[i] = flux[i * 3 + b];
      iv[i] = flux_ivar[i * 3 + b];
      m[i] = mag[i * 3 + b];
    }
    t.add(make_column<double>(std::string("FLUX_") + bands[b], f));
    t.add(make_column<double>(std::string("FLUX_IVAR_") + bands[b], iv));
    t.add(make_column<double>(std::string("MAG_") + bands[b], m));
  }
  const char* sdss[] = {"U", "G", "R", "I", "Z"};
  for (int b = 0; b < 5; ++b) {
    std::vector<double> m(count);
    for (int64_t i = 0; i < count; ++i) m[i] = mag_sdss[i * 5 + b];
    t.add(make_column<double>(std::string("MAG_SDSS_") + sdss[b], m));
  }
  t.add(make_column<double>("Z", z));
  t.add(make_column<double>("TEMPLATE_WEIGHTS", weights, {6}));
  t.add(make_column<double>("LOG_MSTAR", logm));
  t.add(make_column<double>("ABS_MAG_R", absr));
  t.add(make_column<double>("BULGE_FRACTION", bt));
  t.add(make_column<double>("HALF_LIGHT_RADIUS", hlr));
  t.add(make_column<double>("ELLIPTICITY", ell));
  t.add(make_column<double>("POSITION_ANGLE", pa));
  // Tractor's shape parameters, as the Legacy Survey catalogue has them:
  // SHAPE_R the half-light radius (arcsec), e = (1 - q) / (1 + q) rotated by 2 PA.
  std::vector<double> sr(count), e1(count), e2(count);
  for (int64_t i = 0; i < count; ++i) {
    double q = 1 - ell[i], e = (1 - q) / (1 + q), phi = pa[i] * M_PI / 180;
    sr[i] = hlr[i], e1[i] = e * std::cos(2 * phi), e2[i] = e * std::sin(2 * phi);
  }
  t.add(make_column<double>("SHAPE_R", sr));
  t.add(make_column<double>("SHAPE_E1", e1));
  t.add(make_column<double>("SHAPE_E2", e2));
  t.add(make_column<int64_t>("MORPHOLOGY", morph));
  t.add(make_column<double>("EW_HALPHA", ew));
  t.add(make_column<double>("FIBER_FRACTION", fib));
  return t;
}

}  // namespace astrofm
