#include "astrofm/columns.h"

#include "astrofm/mmu.h"

namespace astrofm {

ImageColumns::ImageColumns(int64_t n, int b, int h, int w)
    : array(mmu::kImageArray, DType::Float32, {b, h, w}, n),
      ivar(mmu::kImageIvar, DType::Float32, {b, h, w}, n),
      mask(mmu::kImageMask, DType::Bool, {b, h, w}, n),
      band(mmu::kImageBand, DType::String, {b}, n),
      psf_fwhm(mmu::kImagePsfFwhm, DType::Float32, {b}, n),
      scale(mmu::kImageScale, DType::Float32, {b}, n),
      bands(b), height(h), width(w) {}

void ImageColumns::set_meta(int64_t row, const std::vector<std::string>& names, const std::vector<float>& psf,
                            const std::vector<float>& sc) {
  for (int b = 0; b < bands; ++b) {
    band.strings[row * bands + b] = names[b];
    psf_fwhm.ptr<float>()[row * bands + b] = psf[b];
    scale.ptr<float>()[row * bands + b] = sc[b];
  }
}

void ImageColumns::move_into(Table& t) {
  for (Column* c : {&array, &ivar, &mask, &band, &psf_fwhm, &scale}) t.add(std::move(*c));
}

SpectrumColumns::SpectrumColumns(int64_t n, int64_t len)
    : flux(mmu::kSpectrumFlux, DType::Float32, {len}, n),
      ivar(mmu::kSpectrumIvar, DType::Float32, {len}, n),
      lambda(mmu::kSpectrumLambda, DType::Float32, {len}, n),
      mask(mmu::kSpectrumMask, DType::Bool, {len}, n),
      lsf_sigma(mmu::kSpectrumLsfSigma, DType::Float32, {len}, n),
      length(len) {
  std::fill(lambda.values<float>().begin(), lambda.values<float>().end(), -1.0f);
  std::fill(mask.data.begin(), mask.data.end(), 1);
}

void SpectrumColumns::move_into(Table& t) {
  for (Column* c : {&flux, &ivar, &lambda, &mask, &lsf_sigma}) t.add(std::move(*c));
}

}  // namespace astrofm
