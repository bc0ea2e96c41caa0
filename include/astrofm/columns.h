#pragma once
// Builders for the MMU image and spectrum columns shared by the importers
// and the simulator.
#include <string>
#include <vector>

#include "astrofm/table.h"

namespace astrofm {

// image_array/ivar/mask [n, bands, h, w], image_band, image_psf_fwhm, image_scale [n, bands].
struct ImageColumns {
  ImageColumns(int64_t n, int bands, int height, int width);
  Column array, ivar, mask, band, psf_fwhm, scale;
  int bands, height, width;
  float* flux(int64_t row) { return array.ptr<float>() + row * bands * height * width; }
  float* inv_var(int64_t row) { return ivar.ptr<float>() + row * bands * height * width; }
  uint8_t* masked(int64_t row) { return mask.data.data() + row * bands * height * width; }
  void set_meta(int64_t row, const std::vector<std::string>& names, const std::vector<float>& psf,
                const std::vector<float>& scale_arcsec);
  void move_into(Table& t);
};

// spectrum_flux/ivar/lambda/mask/lsf_sigma [n, length]; rows start padded
// (lambda = -1, mask = true, flux = ivar = 0).
struct SpectrumColumns {
  SpectrumColumns(int64_t n, int64_t length);
  Column flux, ivar, lambda, mask, lsf_sigma;
  int64_t length;
  float* f(int64_t row) { return flux.ptr<float>() + row * length; }
  float* iv(int64_t row) { return ivar.ptr<float>() + row * length; }
  float* lam(int64_t row) { return lambda.ptr<float>() + row * length; }
  uint8_t* m(int64_t row) { return mask.data.data() + row * length; }
  float* lsf(int64_t row) { return lsf_sigma.ptr<float>() + row * length; }
  void move_into(Table& t);
};

}  // namespace astrofm
