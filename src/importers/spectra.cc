// Spectrum importers: DESI coadds (+ Redrock redshifts) and SDSS/BOSS spPlate files.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include <spdlog/spdlog.h>

#include "astrofm/importers.h"
#include "astrofm/progress.h"
#include "io/fits.h"
#include "astrofm/columns.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// DESI's coadded b, r, z arms share one linear grid: 3600 to 9824 A in 0.8 A steps.
constexpr double kDesiLambda0 = 3600.0, kDesiStep = 0.8;
constexpr int64_t kDesiPixels = 7781;

// Fibermap columns kept as catalogue scalars (Legacy Survey photometry in nanomaggies).
const char* kDesiScalars[] = {"FLUX_G", "FLUX_R", "FLUX_Z", "FLUX_W1", "FLUX_W2", "FLUX_IVAR_G", "FLUX_IVAR_R",
                              "FLUX_IVAR_Z", "EBV", "SHAPE_R", "SERSIC"};

struct Redshifts {
  std::map<int64_t, size_t> row;
  std::vector<double> z, zerr, deltachi2;
  std::vector<int64_t> zwarn;
  std::vector<std::string> spectype;
};

Redshifts read_redrock(const std::string& path) {
  FitsFile f(path);
  f.move_to("REDSHIFTS");
  Redshifts r;
  auto ids = f.column_int64("TARGETID");
  r.z = f.column_double("Z");
  r.zerr = f.column_double("ZERR");
  r.zwarn = f.column_int64("ZWARN");
  r.spectype = f.column_string("SPECTYPE");
  r.deltachi2 = f.column_double("DELTACHI2");
  for (size_t i = 0; i < ids.size(); ++i) r.row[ids[i]] = i;
  return r;
}

std::string default_redrock(const std::string& coadd) {
  fs::path p(coadd);
  std::string name = p.filename().string();
  auto pos = name.find("coadd");
  if (pos == std::string::npos) return "";
  name.replace(pos, 5, "redrock");
  fs::path rr = p.parent_path() / name;
  return fs::exists(rr) ? rr.string() : "";
}

// Second moment of each pixel's resolution-matrix row, in pixels.
std::vector<float> resolution_sigma(const std::vector<float>& res, long ndiag, long npix, long spec) {
  std::vector<float> out(npix, kNaN);
  const float* r = res.data() + static_cast<size_t>(spec) * ndiag * npix;
  for (long j = 0; j < npix; ++j) {
    double s0 = 0, s2 = 0;
    for (long d = 0; d < ndiag; ++d) {
      double off = ndiag / 2 - d, w = r[d * npix + j];
      s0 += w;
      s2 += w * off * off;
    }
    if (s0 > 0 && s2 > 0) out[j] = static_cast<float>(std::sqrt(s2 / s0));
  }
  return out;
}

int64_t import_one_desi(const std::string& coadd, const std::string& redrock, DatasetWriter& w) {
  FitsFile f(coadd);
  f.move_to("FIBERMAP");
  auto ids = f.column_int64("TARGETID");
  auto ra = f.column_double("TARGET_RA");
  auto dec = f.column_double("TARGET_DEC");
  int64_t n = static_cast<int64_t>(ids.size());
  Table batch;
  std::vector<std::string> sid;
  for (auto id : ids) sid.push_back(std::to_string(id));
  batch.add(make_string_column(mmu::kObjectId, sid));
  batch.add(make_column<double>(mmu::kRa, ra));
  batch.add(make_column<double>(mmu::kDec, dec));
  batch.add(make_column<int64_t>("TARGETID", ids));
  for (const char* col : kDesiScalars)
    batch.add(make_column<double>(col, f.has_column(col) ? f.column_double(col) : std::vector<double>(n, NAN)));

  SpectrumColumns spec(n, kDesiPixels);
  std::vector<double> wsum(n * kDesiPixels, 0.0), fsum(n * kDesiPixels, 0.0), lsum(n * kDesiPixels, 0.0);
  for (const char* arm : {"B", "R", "Z"}) {
    std::string a = arm;
    f.move_to(a + "_WAVELENGTH");
    auto wave = f.read_image_float();
    long npix = static_cast<long>(wave.size());
    f.move_to(a + "_FLUX");
    auto flux = f.read_image_float();
    f.move_to(a + "_IVAR");
    auto ivar = f.read_image_float();
    std::vector<int32_t> mask(flux.size(), 0);
    if (f.has_hdu(a + "_MASK")) {
      f.move_to(a + "_MASK");
      mask = f.read_image_int();
    }
    std::vector<float> res;
    long ndiag = 0;
    if (f.has_hdu(a + "_RESOLUTION")) {
      f.move_to(a + "_RESOLUTION");
      auto d = f.image_dims();
      ndiag = d.size() == 3 ? d[1] : 0;
      res = f.read_image_float();
    }
    if (static_cast<int64_t>(flux.size()) != n * npix || ivar.size() != flux.size() || mask.size() != flux.size())
      fail_input("{}[{}_FLUX]: {} values, expected {} spectra x {} pixels", coadd, a, flux.size(), n, npix);
    for (long j = 0; j < npix; ++j) {
      double k = (wave[j] - kDesiLambda0) / kDesiStep;
      if (std::abs(k - std::round(k)) > 1e-2 || k < -0.5 || k > kDesiPixels - 0.5)
        fail_input("{}[{}_WAVELENGTH]: {} A is not on DESI's 3600-9824 A, 0.8 A coadd grid", coadd, a, wave[j]);
    }
    for (int64_t s = 0; s < n; ++s) {
      auto sig = ndiag > 0 ? resolution_sigma(res, ndiag, npix, s) : std::vector<float>(npix, kNaN);
      for (long j = 0; j < npix; ++j) {
        int64_t k = std::lround((wave[j] - kDesiLambda0) / kDesiStep);
        size_t src = s * npix + j;
        size_t dst = s * kDesiPixels + k;
        // Arms overlap near 5800 and 7600 A: combine by inverse variance, as DESI's coadd_cameras does.
        double iv = mask[src] == 0 && std::isfinite(ivar[src]) && ivar[src] > 0 ? ivar[src] : 0.0;
        wsum[dst] += iv;
        fsum[dst] += iv * flux[src];
        if (iv > 0 && std::isfinite(sig[j])) lsum[dst] += iv * sig[j] * kDesiStep;
      }
    }
  }
  for (int64_t s = 0; s < n; ++s) {
    for (int64_t k = 0; k < kDesiPixels; ++k) {
      size_t i = s * kDesiPixels + k;
      spec.lam(s)[k] = static_cast<float>(kDesiLambda0 + kDesiStep * k);
      bool good = wsum[i] > 0;
      spec.f(s)[k] = good ? static_cast<float>(fsum[i] / wsum[i]) : 0.0f;
      spec.iv(s)[k] = static_cast<float>(wsum[i]);
      spec.m(s)[k] = !good;
      spec.lsf(s)[k] = good ? static_cast<float>(lsum[i] / wsum[i]) : kNaN;
    }
  }
  spec.move_into(batch);

  std::vector<double> z(n, NAN), zerr(n, NAN), dchi2(n, NAN);
  std::vector<int64_t> zwarn(n, -1);
  std::vector<std::string> stype(n, "");
  if (!redrock.empty()) {
    Redshifts rr = read_redrock(redrock);
    for (int64_t i = 0; i < n; ++i) {
      auto it = rr.row.find(ids[i]);
      if (it == rr.row.end()) fail_input("{}: TARGETID {} from {} has no redshift", redrock, ids[i], coadd);
      z[i] = rr.z[it->second];
      zerr[i] = rr.zerr[it->second];
      zwarn[i] = rr.zwarn[it->second];
      stype[i] = rr.spectype[it->second];
      dchi2[i] = rr.deltachi2[it->second];
    }
  } else {
    spdlog::warn("{}: no Redrock file found next to it; Z columns will be NaN", coadd);
  }
  batch.add(make_column<double>("Z", z));
  batch.add(make_column<double>("ZERR", zerr));
  batch.add(make_column<int64_t>("ZWARN", zwarn));
  batch.add(make_string_column("SPECTYPE", stype));
  batch.add(make_column<double>("DELTACHI2", dchi2));
  w.append(batch);
  return n;
}

}  // namespace

int64_t import_desi(const std::vector<std::string>& coadds, const std::vector<std::string>& redrocks,
                    const ImportTarget& target) {
  if (coadds.empty()) fail_usage("no DESI coadd files given");
  if (!redrocks.empty() && redrocks.size() != coadds.size())
    fail_usage("{} coadd files but {} Redrock files; give one per coadd or none", coadds.size(), redrocks.size());
  ImportTarget t = target;
  if (t.config.empty()) t.config = "desi";
  DatasetWriter w(t.out, t.config, t.write);
  w.set_attribute("source", "DESI coadd + Redrock");
  Progress bar("import desi", static_cast<int64_t>(coadds.size()));
  int64_t n = 0;
  for (size_t i = 0; i < coadds.size(); ++i) {
    n += import_one_desi(coadds[i], redrocks.empty() ? default_redrock(coadds[i]) : redrocks[i], w);
    bar.advance();
  }
  bar.finish();
  w.commit();
  return n;
}

int64_t import_sdss_spplate(const std::vector<std::string>& files, const ImportTarget& target) {
  if (files.empty()) fail_usage("no spPlate files given");
  // Plates differ in length and start wavelength: pad all to the longest.
  int64_t length = 0;
  for (const auto& path : files) {
    FitsFile f(path);
    auto d = f.image_dims();
    if (d.size() != 2) fail_input("{}: primary HDU is not a 2-D [fibres, pixels] image", path);
    length = std::max<int64_t>(length, d[0]);
  }
  ImportTarget t = target;
  if (t.config.empty()) t.config = "sdss";
  DatasetWriter w(t.out, t.config, t.write);
  w.set_attribute("source", "SDSS/BOSS spPlate");
  Progress bar("import sdss", static_cast<int64_t>(files.size()));
  int64_t total = 0;
  for (const auto& path : files) {
    FitsFile f(path);
    auto d = f.image_dims();
    long npix = d[0], nfib = d[1];
    auto c0 = f.key_double("COEFF0"), c1 = f.key_double("COEFF1");
    if (!c0 || !c1) fail_input("{}: missing COEFF0/COEFF1 keywords (the log10-lambda grid)", path);
    int64_t plate = static_cast<int64_t>(f.key_double("PLATEID").value_or(0));
    int64_t mjd = static_cast<int64_t>(f.key_double("MJD").value_or(0));
    auto flux = f.read_image_float();
    // Optional HDUs of a full spPlate: 1 invvar, 2 andmask, 4 wdisp, 5 plugmap.
    auto hdu_image = [&](int hdu) -> std::vector<float> {
      if (f.hdu_count() < hdu + 1) return {};
      f.move_to(hdu + 1);
      auto dd = f.image_dims();
      if (dd.size() != 2 || dd[0] != npix || dd[1] != nfib) return {};
      return f.read_image_float();
    };
    auto ivar = hdu_image(1), andmask = hdu_image(2), wdisp = hdu_image(4);
    std::vector<double> ra(nfib, NAN), dec(nfib, NAN);
    std::vector<int64_t> fiber(nfib);
    for (long i = 0; i < nfib; ++i) fiber[i] = i + 1;
    if (f.hdu_count() >= 6) {
      f.move_to(6);
      if (f.has_column("RA") && f.rows() == nfib) {
        ra = f.column_double("RA");
        dec = f.column_double("DEC");
        if (f.has_column("FIBERID")) fiber = f.column_int64("FIBERID");
      }
    }
    if (ivar.empty()) spdlog::warn("{}: no inverse-variance HDU; spectrum_ivar is NaN (unknown)", path);
    SpectrumColumns spec(nfib, length);
    std::vector<std::string> ids;
    for (long s = 0; s < nfib; ++s) {
      ids.push_back(fmt::format("{}-{}-{:04d}", plate, mjd, fiber[s]));
      for (long j = 0; j < npix; ++j) {
        size_t i = static_cast<size_t>(s) * npix + j;
        double lam = std::pow(10.0, *c0 + *c1 * j);
        spec.lam(s)[j] = static_cast<float>(lam);
        spec.f(s)[j] = std::isfinite(flux[i]) ? flux[i] : 0.0f;
        spec.iv(s)[j] = ivar.empty() ? kNaN : ivar[i];
        spec.m(s)[j] = !std::isfinite(flux[i]) || (!ivar.empty() && ivar[i] <= 0) ||
                       (!andmask.empty() && andmask[i] != 0);
        // wdisp is the Gaussian sigma of the line spread in units of the log-lambda pixel.
        spec.lsf(s)[j] = wdisp.empty() ? kNaN : static_cast<float>(wdisp[i] * *c1 * std::log(10.0) * lam);
      }
    }
    Table batch;
    batch.add(make_string_column(mmu::kObjectId, ids));
    batch.add(make_column<double>(mmu::kRa, ra));
    batch.add(make_column<double>(mmu::kDec, dec));
    batch.add(make_column<int64_t>("PLATE", std::vector<int64_t>(nfib, plate)));
    batch.add(make_column<int64_t>("MJD", std::vector<int64_t>(nfib, mjd)));
    batch.add(make_column<int64_t>("FIBERID", fiber));
    spec.move_into(batch);
    w.append(batch);
    total += nfib;
    bar.advance();
  }
  bar.finish();
  w.commit();
  return total;
}

}  // namespace astrofm
