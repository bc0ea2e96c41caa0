// What the image tasks share: image tensors from MMU columns (bands through
// the band table), the stretch applied after augmentation, augmentation options.
#include <numeric>
#include <set>

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

torch::Tensor ImageData::prepare(const torch::Tensor& x, const std::vector<int64_t>& rows) const {
  auto flux = index(is_flux, rows);
  if (!flux.any().item<bool>()) return x;
  return torch::where(flux.view({-1, 1, 1, 1}), legacysurvey_rgb(x), x);
}

ImageData load_images(const Table& t, const std::string& where) {
  ImageData d;
  d.images = batch_tensor(t.at(mmu::kImageArray), where);
  d.images.nan_to_num_(0.0);  // in place: no second copy of the training set
  if (d.images.size(1) != 3) fail_input("{}: training needs 3-band images, got {}", where, d.images.size(1));
  const Column& band = t.at(mmu::kImageBand);
  d.is_flux = torch::zeros({t.rows()}, torch::kBool);
  std::set<std::string> kinds;
  for (int64_t i = 0; i < t.rows(); ++i) {
    auto order = stretch_band_order(band, i, kStretchBands, where);
    if (order.empty()) {
      kinds.insert("unit");
      continue;
    }
    kinds.insert("legacysurvey_rgb");
    d.is_flux[i] = true;
    d.images[i] = d.images[i].index_select(0, torch::tensor(order, torch::kLong));
  }
  d.kinds.assign(kinds.begin(), kinds.end());
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
