// What the image tasks share: batches of image tensors from MMU columns
// through the inference path's steps (preprocess.h), augmentation options.
#include <algorithm>
#include <numeric>

#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/architecture.h"
#include "astrofm/models/cnn.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "tasks.h"

namespace astrofm::train {
using namespace astrofm::models;
namespace F = torch::nn::functional;

torch::Tensor index(const torch::Tensor& t, const std::vector<int64_t>& rows) {
  return t.index_select(0, torch::tensor(rows, torch::kLong));
}

torch::Tensor ImageData::pixels(const std::vector<int64_t>& rows, int64_t crop) const {
  return image_pixels(columns.at(mmu::kImageArray), bands, rows, crop, "training data");
}

torch::Tensor ImageData::prepare(const torch::Tensor& x, const std::vector<int64_t>& rows) const {
  return stretch_flux_rows(x, bands, rows);
}

ImageData load_images(Table& t, const std::string& where) {
  ImageData d;
  const Column& a = t.at(mmu::kImageArray);
  if (a.shape.size() != 3 || a.shape[0] != 3)
    fail_input("{}: training needs 3-band images, got {}", where, a.shape.empty() ? std::string("no bands") : std::to_string(a.shape[0]));
  d.bands = image_bands(t, kStretchBands, 3, where);  // checks the column's type too
  d.kinds = d.bands.kinds();
  auto& cols = t.columns();
  for (const char* c : {mmu::kImageArray, mmu::kImageBand}) {
    auto it = std::find_if(cols.begin(), cols.end(), [&](const Column& col) { return col.name == c; });
    if (it == cols.end()) continue;
    d.columns.add(std::move(*it));
    cols.erase(it);
  }
  return d;
}

AugmentOptions augment_options(const nlohmann::json& a, int64_t crop) {
  AugmentOptions o;
  o.crop = crop;
  o.scale_min = a.value("scale_min", o.scale_min);
  o.scale_max = a.value("scale_max", o.scale_max);
  o.gain_jitter = a.value("gain_jitter", o.gain_jitter);
  o.noise_max = a.value("noise_max", o.noise_max);
  o.blur_prob = a.value("blur_prob", o.blur_prob);
  o.blur_sigma_max = a.value("blur_sigma_max", o.blur_sigma_max);
  o.flips = a.value("flips", o.flips);
  return o;
}

torch::Tensor l2n(const torch::Tensor& x) { return F::normalize(x, F::NormalizeFuncOptions().dim(1)); }

}  // namespace astrofm::train
