#pragma once
// Astronomy-aware image augmentations, applied to flux before the stretch:
// random resized crops (zoom and sub-stamp translation), 90-degree rotations
// and flips (the sky has no up; Galaxy Zoo's clockwise and anticlockwise
// spirals are mirror images), per-band gain jitter (calibration), Gaussian
// noise scaled to the image, Gaussian PSF blur.
#include <torch/torch.h>

namespace astrofm::train {

struct AugmentOptions {
  int64_t crop = 64;                     // output size
  double scale_min = 0.35, scale_max = 1.0;  // crop area as a fraction of the stamp (1, 1: plain random position)
  double gain_jitter = 0.1;              // each band's flux scaled by 1 +- this (uniform)
  double noise_max = 0.3;                // noise sigma up to this fraction of the image's robust std
  double blur_prob = 0.5, blur_sigma_max = 1.0;  // pixels
  bool flips = true;
};

torch::Tensor augment(const torch::Tensor& images, const AugmentOptions& o);

}  // namespace astrofm::train
