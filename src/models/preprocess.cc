#include "astrofm/models/preprocess.h"

#include <cmath>

#include "astrofm/bands.h"

namespace astrofm::models {

std::vector<int64_t> stretch_band_order(const Column& image_band, int64_t row, const std::vector<std::string>& stretch_bands,
                                        const std::string& where) {
  const std::string& survey = band(stretch_bands.at(0), where).survey;
  auto have = row_bands(image_band, row);
  const Band* first = have.empty() ? nullptr : find_band(have[0]);
  if (!first || first->survey != survey) return {};
  return select_bands(have, stretch_bands, fmt::format("{}: row {}", where, row));
}

torch::Tensor legacysurvey_rgb(const torch::Tensor& flux, const RgbStretch& s) {
  TORCH_CHECK(flux.dim() == 4 && flux.size(1) == 3, "expected [B, 3 (g, r, z), H, W] flux, got ", flux.sizes());
  auto x = flux.to(torch::kFloat32);
  auto g = x.select(1, 0) * s.scale_g + s.offset;
  auto r = x.select(1, 1) * s.scale_r + s.offset;
  auto z = x.select(1, 2) * s.scale_z + s.offset;
  auto I = (g.clamp_min(0) + r.clamp_min(0) + z.clamp_min(0)) / 3.0;
  auto fI = torch::asinh(s.q * I) / std::sqrt(s.q);
  I = I + (I == 0).to(torch::kFloat32) * 1e-6;
  auto k = fI / I;
  return torch::stack({z * k, r * k, g * k}, 1).clamp(0.0, 1.0);
}

int64_t crop_offset(int64_t length, int64_t size) {
  double half = (length - size) / 2.0;
  double fl = std::floor(half);
  if (half - fl != 0.5) return static_cast<int64_t>(std::llround(half));
  int64_t f = static_cast<int64_t>(fl);
  return f % 2 == 0 ? f : f + 1;
}

torch::Tensor center_crop(const torch::Tensor& images, int64_t size) {
  int64_t H = images.size(-2), W = images.size(-1);
  TORCH_CHECK(H >= size && W >= size, "cannot crop ", H, "x", W, " images to ", size);
  // torchvision's CenterCrop: int(round((H - size) / 2.0)) with Python's
  // round-half-to-even (an offset of 0.5 -> 0, 1.5 -> 2, 2.5 -> 2).
  int64_t top = crop_offset(H, size), left = crop_offset(W, size);
  return images.slice(-2, top, top + size).slice(-1, left, left + size);
}

torch::Tensor astroclip_image_input(const torch::Tensor& flux, int64_t crop, const RgbStretch& s, bool swap_axes) {
  auto x = legacysurvey_rgb(flux, s);
  return center_crop(swap_axes ? x.transpose(-2, -1) : x, crop).contiguous();
}

}  // namespace astrofm::models
