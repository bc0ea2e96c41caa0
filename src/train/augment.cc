#include "augment.h"

namespace astrofm::train {

torch::Tensor augment(const torch::Tensor& images, const AugmentOptions& o) {
  int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
  TORCH_CHECK(H >= o.crop && W >= o.crop, "images of ", H, "x", W, " are smaller than the crop ", o.crop);
  std::vector<torch::Tensor> out;
  out.reserve(B);
  auto u = torch::rand({B, 6});
  auto ua = u.accessor<float, 2>();
  for (int64_t i = 0; i < B; ++i) {
    int64_t top = static_cast<int64_t>(ua[i][0] * (H - o.crop + 1)), left = static_cast<int64_t>(ua[i][1] * (W - o.crop + 1));
    top = std::min(top, H - o.crop);
    left = std::min(left, W - o.crop);
    auto x = images[i].slice(1, top, top + o.crop).slice(2, left, left + o.crop);
    if (o.flips) {
      int64_t k = static_cast<int64_t>(ua[i][2] * 4) % 4;
      if (k) x = torch::rot90(x, k, {1, 2});
      if (ua[i][3] < 0.5) x = x.flip({2});
    }
    out.push_back(x);
  }
  auto x = torch::stack(out).contiguous();
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
