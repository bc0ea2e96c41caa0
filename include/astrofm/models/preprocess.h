#pragma once
// Input preprocessing as AstroCLIP does it (constants from its code; see
// docs/models.md): the Legacy Survey g, r, z -> RGB asinh stretch, its
// collator's axis order, a centre crop.
#include <torch/torch.h>

namespace astrofm::models {

struct RgbStretch {
  // Per-band scales for g, r, z, the additive offset and the asinh softening
  // of legacysurvey.org's `dr2_rgb`, as AstroCLIP's ToRGB.
  double scale_g = 6.0, scale_r = 3.4, scale_z = 2.2, offset = 0.03, q = 20.0;
};

// flux [B, 3, H, W] in g, r, z (nanomaggies) -> [B, 3, H, W] in z, r, g, in [0, 1].
torch::Tensor legacysurvey_rgb(const torch::Tensor& flux, const RgbStretch& s = {});
// Centre crop of the last two axes to size x size.
torch::Tensor center_crop(const torch::Tensor& images, int64_t size);
// AstroCLIP's image input: RGB stretch, its collator's permute (which swaps the
// two spatial axes), centre crop.
torch::Tensor astroclip_image_input(const torch::Tensor& flux, int64_t crop, const RgbStretch& s = {});

}  // namespace astrofm::models
