// Multi-band FITS cutouts (e.g. Legacy Survey DR9 cutout service): a cube
// [bands, H, W] in the primary HDU, band names from BANDS/BANDn, position and
// pixel scale from the celestial WCS.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>

#include "astrofm/importers.h"
#include "astrofm/progress.h"
#include "io/fits.h"
#include "astrofm/columns.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

struct Cutout {
  std::vector<float> flux, ivar;  // ivar empty when the file has none
  long width = 0, height = 0, bands = 0;
  std::vector<std::string> band_names;
  double scale = NAN;
  bool has_wcs = false;
  double xr = 0, yr = 0, xpix = 0, ypix = 0, xinc = 0, yinc = 0, rot = 0;
  char ctype[FLEN_VALUE] = {0};

  // Sky position of 1-based pixel (x, y); NaN without a celestial WCS.
  void world(double x, double y, double* ra, double* dec) {
    int status = 0;
    if (!has_wcs || fits_pix_to_world(x, y, xr, yr, xpix, ypix, xinc, yinc, rot, ctype, ra, dec, &status)) {
      *ra = *dec = NAN;
      fits_clear_errmsg();
    }
  }
};

Cutout read_cutout(FitsFile& f, const FitsCutoutOptions& opt) {
  const std::string& path = f.path();
  Cutout c;
  // The image is in the primary HDU or, for compressed files, the first extension.
  int hdu = 1;
  for (; hdu <= f.hdu_count(); ++hdu) {
    f.move_to(hdu);
    if (f.is_image() && f.image_dims().size() >= 2) break;
  }
  auto dims = f.is_image() ? f.image_dims() : std::vector<long>{};
  if (dims.size() < 2 || dims.size() > 3) fail_input("{}: no 2-D or 3-D image HDU (a cutout is [bands,] H, W)", path);
  c.width = dims[0];
  c.height = dims[1];
  c.bands = dims.size() == 3 ? dims[2] : 1;
  c.flux = f.read_image_float();
  if (!opt.bands.empty()) {
    c.band_names = opt.bands;
  } else if (auto b = f.key_string("BANDS"); b && static_cast<long>(b->size()) == c.bands) {
    for (char ch : *b) c.band_names.push_back(opt.band_prefix + static_cast<char>(std::toupper(ch)));
  } else {
    for (long i = 0; i < c.bands; ++i) {
      auto b = f.key_string("BAND" + std::to_string(i));
      if (!b) fail_input("{}: no BANDS or BAND{} keyword naming the bands; pass --bands", path, i);
      std::string up = *b;
      std::transform(up.begin(), up.end(), up.begin(), ::toupper);
      c.band_names.push_back(up.size() == 1 ? opt.band_prefix + up : up);
    }
  }
  if (static_cast<long>(c.band_names.size()) != c.bands)
    fail_input("{}: {} band names for {} bands", path, c.band_names.size(), c.bands);
  int status = 0;
  if (fits_read_img_coord(f.raw(), &c.xr, &c.yr, &c.xpix, &c.ypix, &c.xinc, &c.yinc, &c.rot, c.ctype, &status) == 0) {
    c.has_wcs = true;
    c.scale = std::abs(c.yinc) * 3600.0;
  }
  fits_clear_errmsg();
  for (const char* name : {"IVAR", "INVVAR", "IMAGE_IVAR"}) {
    if (!f.has_hdu(name)) continue;
    f.move_to(name);
    auto idims = f.image_dims();
    if (idims != dims) fail_input("{}[{}]: shape differs from the image", path, name);
    c.ivar = f.read_image_float();
  }
  return c;
}

// The MMU row of one cutout, centre-cropped to `*size` (set by the first
// cutout when 0) with the first cutout's bands `*bands0`.
Table cutout_rows(Cutout c, const std::string& path, const FitsCutoutOptions& opt, long* size_io, std::vector<std::string>* bands0) {
  long s = opt.size > 0 ? opt.size : std::min(c.width, c.height);
  if (*size_io == 0) {
    *size_io = s;
    *bands0 = c.band_names;
  }
  const long size = *size_io;
  if (s != size || c.width < size || c.height < size)
    fail_input("{}: {}x{} pixels, cannot give the {}x{} of the first cutout; pass --size", path, c.width, c.height, size, size);
  if (opt.size <= 0 && c.width != c.height) fail_input("{}: not square ({}x{}); pass --size", path, c.width, c.height);
  if (c.band_names != *bands0)
    fail_input("{}: bands {} differ from the first file's {}", path, fmt::join(c.band_names, ","), fmt::join(*bands0, ","));
  ImageColumns img(1, static_cast<int>(c.bands), static_cast<int>(size), static_cast<int>(size));
  long x0 = (c.width - size) / 2, y0 = (c.height - size) / 2;
  for (long b = 0; b < c.bands; ++b)
    for (long y = 0; y < size; ++y)
      for (long x = 0; x < size; ++x) {
        size_t src = (static_cast<size_t>(b) * c.height + y0 + y) * c.width + x0 + x;
        size_t dst = (static_cast<size_t>(b) * size + y) * size + x;
        float v = c.flux[src];
        img.flux(0)[dst] = std::isfinite(v) ? v : 0.0f;
        img.masked(0)[dst] = !std::isfinite(v);
        img.inv_var(0)[dst] = c.ivar.empty() ? std::numeric_limits<float>::quiet_NaN() : c.ivar[src];
      }
  double ra, dec;  // the object is at the centre of the crop
  c.world(x0 + (size + 1) / 2.0, y0 + (size + 1) / 2.0, &ra, &dec);
  std::vector<float> psf(c.bands, opt.psf_fwhm > 0 ? opt.psf_fwhm : NAN), scale(c.bands, c.scale);
  img.set_meta(0, c.band_names, psf, scale);
  Table batch;
  batch.add(make_string_column(mmu::kObjectId, {fs::path(path).stem().string()}));
  batch.add(make_column<double>(mmu::kRa, {ra}));
  batch.add(make_column<double>(mmu::kDec, {dec}));
  img.move_into(batch);
  return batch;
}

}  // namespace

Table decode_fits_upload(std::string_view bytes, const std::string& name, const FitsCutoutOptions& opt) {
  FitsFile f(FitsFile::InMemory{}, std::string(bytes), name);
  long size = 0;
  std::vector<std::string> bands;
  return cutout_rows(read_cutout(f, opt), name, opt, &size, &bands);
}

int64_t import_fits_cutouts(const std::vector<std::string>& inputs, const ImportTarget& target,
                            const FitsCutoutOptions& opt) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    if (fs::is_directory(in)) {
      for (const auto& e : fs::directory_iterator(in)) {
        auto ext = e.path().extension().string();
        if (ext == ".fits" || ext == ".fit" || ext == ".fz") files.push_back(e.path().string());
      }
    } else {
      files.push_back(in);
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) fail_input("no FITS files in {}", fmt::join(inputs, ", "));
  ImportTarget t = target;
  if (t.config.empty()) t.config = "cutouts";
  DatasetWriter w(t.out, t.config, t.write);
  w.set_attribute("source", "FITS cutouts");
  Progress bar("import fits-cutout", static_cast<int64_t>(files.size()));
  long size = 0;
  std::vector<std::string> bands0;
  for (const auto& path : files) {
    FitsFile f(path);
    w.append(cutout_rows(read_cutout(f, opt), path, opt, &size, &bands0));
    bar.advance();
  }
  bar.finish();
  w.commit();
  return static_cast<int64_t>(files.size());
}

}  // namespace astrofm
