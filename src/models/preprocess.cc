#include "astrofm/models/preprocess.h"

#include <algorithm>
#include <cmath>

#include <numeric>

#include "astrofm/bands.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"

namespace astrofm::models {

std::vector<int64_t> stretch_band_order(const Column& image_band, int64_t row, const std::vector<std::string>& stretch_bands,
                                        const std::string& where) {
  const std::string& survey = band(stretch_bands.at(0), where).survey;
  auto have = row_bands(image_band, row);
  const Band* first = have.empty() ? nullptr : find_band(have[0]);
  if (!first || first->survey != survey) return {};
  return select_bands(have, stretch_bands, fmt::format("{}: row {}", where, row));
}

RgbStretch rgb_stretch(const nlohmann::json& pre, const std::string& where) {
  RgbStretch s;
  if (pre.contains("scales")) {
    auto sc = pre["scales"].get<std::vector<double>>();
    if (sc.size() != 3) fail_corrupt("{}: preprocessing.image.scales needs 3 values", where);
    s.scale_g = sc[0], s.scale_r = sc[1], s.scale_z = sc[2];
  }
  s.offset = pre.value("offset", s.offset);
  s.q = pre.value("Q", s.q);
  return s;
}

std::vector<std::string> ImageBands::kinds() const {
  std::vector<std::string> k;
  if (std::any_of(order.begin(), order.end(), [](const auto& o) { return !o.empty(); })) k.push_back("legacysurvey_rgb");
  if (std::any_of(order.begin(), order.end(), [](const auto& o) { return o.empty(); })) k.push_back("unit");
  return k;
}

void check_image_array(const Column& col, const std::string& where) {
  if (col.dtype != DType::Float32 && col.dtype != DType::Float64)
    fail_input("{}: column '{}' is {}, expected float32 or float64", where, col.name, dtype_name(col.dtype));
  if (col.shape.size() != 3) fail_input("{}: image_array must be [N, bands, H, W], got {}-d", where, col.shape.size() + 1);
}

ImageBands image_bands(const Table& b, const std::vector<std::string>& stretch_bands, int64_t channels, const std::string& where) {
  const Column& col = b.at(mmu::kImageArray);
  check_image_array(col, where);
  const int64_t nb = col.shape[0];
  const Column* band = b.find(mmu::kImageBand);
  ImageBands out;
  out.order.resize(b.rows());
  for (int64_t i = 0; i < b.rows(); ++i) {
    if (!band) {  // unnamed bands: taken as the stretch's, in its order
      if (nb != 3) fail_input("{}: {} bands without image_band names; the stretch needs {}", where, nb, fmt::join(stretch_bands, ", "));
      out.order[i] = {0, 1, 2};
    } else if (auto order = stretch_band_order(*band, i, stretch_bands, where); !order.empty()) {
      out.order[i] = std::move(order);
    } else if (nb != channels) {
      fail_input("{}: row {}: {} bands ({}) but the model takes {}", where, i, nb, fmt::join(row_bands(*band, i), ", "), channels);
    }
  }
  return out;
}

torch::Tensor image_pixels(const Column& col, const ImageBands& bands, const std::vector<int64_t>& rows, int64_t crop,
                           const std::string& where, bool swap_axes) {
  check_image_array(col, where);
  std::vector<int64_t> sizes = col.shape;
  sizes.insert(sizes.begin(), col.rows);
  auto view = torch::from_blob(const_cast<uint8_t*>(col.data.data()), sizes, col.dtype == DType::Float32 ? torch::kFloat32 : torch::kFloat64);
  if (swap_axes) view = view.transpose(-2, -1);
  if (crop > 0) {
    if (view.size(-1) < crop || view.size(-2) < crop)
      fail_input("{}: images are {}x{}, smaller than the model's input {}", where, view.size(-2), view.size(-1), crop);
    view = center_crop(view, crop);  // before the copy: only the pixels the model sees are copied
  }
  // The one copy (index_select makes new storage); float64 columns convert once more.
  auto x = view.index_select(0, torch::tensor(rows, torch::kLong)).to(torch::kFloat32).nan_to_num_(0.0);
  if (rows.empty()) return x;
  const auto& first = bands.order[rows.front()];
  const bool same = std::all_of(rows.begin(), rows.end(), [&](int64_t r) { return bands.order[r] == first; });
  std::vector<int64_t> identity(x.size(1));
  std::iota(identity.begin(), identity.end(), 0);
  if (same) return first.empty() || first == identity ? x : x.index_select(1, torch::tensor(first, torch::kLong));
  // Rows of several band layouts in one batch: each in its own order.
  std::vector<torch::Tensor> out;
  for (size_t k = 0; k < rows.size(); ++k) {
    const auto& o = bands.order[rows[k]];
    out.push_back(o.empty() ? x[k] : x[k].index_select(0, torch::tensor(o, torch::kLong)));
  }
  return torch::stack(out);
}

torch::Tensor stretch_flux_rows(const torch::Tensor& x, const ImageBands& bands, const std::vector<int64_t>& rows, const RgbStretch& s) {
  std::vector<int64_t> flux;
  for (size_t k = 0; k < rows.size(); ++k)
    if (bands.is_flux(rows[k])) flux.push_back(static_cast<int64_t>(k));
  if (flux.empty()) return x;
  if (flux.size() == rows.size()) return legacysurvey_rgb(x, s).contiguous();
  auto idx = torch::tensor(flux, torch::kLong);
  return x.index_copy(0, idx, legacysurvey_rgb(x.index_select(0, idx), s)).contiguous();
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
