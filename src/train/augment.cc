#include "augment.h"

#include <algorithm>
#include <cmath>

namespace astrofm::train {

torch::Tensor augment(const torch::Tensor& images, const AugmentOptions& o) {
  int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
  TORCH_CHECK(o.scale_min < 1.0 || (H >= o.crop && W >= o.crop), "images of ", H, "x", W, " are smaller than the crop ", o.crop);
  std::vector<torch::Tensor> out;
  out.reserve(B);
  auto u = torch::rand({B, 8});
  auto ua = u.accessor<float, 2>();
  for (int64_t i = 0; i < B; ++i) {
    // Random resized crop: area fraction and aspect ratio (3/4 to 4/3, log-uniform) as torchvision.
    double area = (o.scale_min + (o.scale_max - o.scale_min) * ua[i][6]) * H * W;
    double aspect = std::exp(std::log(0.75) + (std::log(4.0 / 3.0) - std::log(0.75)) * ua[i][7]);
    int64_t h = std::clamp<int64_t>(std::lround(std::sqrt(area / aspect)), 1, H);
    int64_t w = std::clamp<int64_t>(std::lround(std::sqrt(area * aspect)), 1, W);
    if (o.scale_min >= 1.0 && o.scale_max >= 1.0) h = w = o.crop;  // plain translation
    int64_t top = std::min<int64_t>(static_cast<int64_t>(ua[i][0] * (H - h + 1)), H - h);
    int64_t left = std::min<int64_t>(static_cast<int64_t>(ua[i][1] * (W - w + 1)), W - w);
    auto x = images[i].slice(1, top, top + h).slice(2, left, left + w);
    if (h != o.crop || w != o.crop)
      x = torch::nn::functional::interpolate(
              x.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{o.crop, o.crop})
                                  .mode(torch::kBilinear).align_corners(false)).squeeze(0);
    if (o.flips) {
      int64_t k = static_cast<int64_t>(ua[i][2] * 4) % 4;
      if (k) x = torch::rot90(x, k, {1, 2});
      if (ua[i][3] < 0.5) x = x.flip({2});
    }
    out.push_back(x);
  }
  auto x = torch::stack(out).contiguous();
  if (o.gain_jitter > 0) x = x * (1.0 + o.gain_jitter * (2 * torch::rand({B, C, 1, 1}) - 1));
  // Gaussian PSF blur (depthwise), for a random subset.
  if (o.blur_prob > 0) {
    for (int64_t i = 0; i < B; ++i) {
      if (ua[i][4] >= o.blur_prob) continue;
      double sigma = 0.3 + (o.blur_sigma_max - 0.3) * (ua[i][5]);
      int64_t r = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma)));
      auto t = torch::arange(-r, r + 1, torch::kFloat32);
      auto k1 = torch::exp(-0.5 * t * t / (sigma * sigma));
      k1 = k1 / k1.sum();
      auto k2 = torch::outer(k1, k1).expand({C, 1, 2 * r + 1, 2 * r + 1}).contiguous();
      auto xi = x.slice(0, i, i + 1);
      auto padded = torch::nn::functional::pad(xi, torch::nn::functional::PadFuncOptions({r, r, r, r}).mode(torch::kReflect));
      x.slice(0, i, i + 1).copy_(torch::nn::functional::conv2d(padded, k2, torch::nn::functional::Conv2dFuncOptions().groups(C)));
    }
  }
  if (o.noise_max > 0) {
    // Robust scale per image: the median absolute deviation of its pixels.
    auto flat = x.flatten(1);
    auto med = std::get<0>(flat.median(1, true));
    auto mad = std::get<0>((flat - med).abs().median(1, true)) * 1.4826 + 1e-6;
    auto level = torch::rand({B, 1}) * o.noise_max;
    x = x + (torch::randn_like(flat) * mad * level).view_as(x);
  }
  return x;
}

}  // namespace astrofm::train
