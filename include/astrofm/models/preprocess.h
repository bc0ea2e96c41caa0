#pragma once
// Input preprocessing as AstroCLIP does it (constants from its code; see
// docs/models.md): the Legacy Survey g, r, z -> RGB asinh stretch, its
// collator's axis order, a centre crop.
// Thread-safety: pure tensor functions.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "astrofm/bands.h"
#include "astrofm/table.h"

namespace astrofm::models {

struct RgbStretch {
  // Per-band scales for g, r, z, the additive offset and the asinh softening
  // of legacysurvey.org's `dr2_rgb`, as AstroCLIP's ToRGB.
  double scale_g = 6.0, scale_r = 3.4, scale_z = 2.2, offset = 0.03, q = 20.0;
};

// The Legacy-Survey stretch's bands, in the order legacysurvey_rgb takes them.
inline const std::vector<std::string>& kStretchBands = legacy_survey_grz();

// Which rows get the stretch: row `row` of an image_band column is flux of
// the stretch's survey when its first band belongs to that survey (by the band
// table); then the indices of `stretch_bands` in the row (InputError naming
// the missing band), else empty (an 8-bit cutout, used as it is).
std::vector<int64_t> stretch_band_order(const Column& image_band, int64_t row, const std::vector<std::string>& stretch_bands,
                                        const std::string& where);

// flux [B, 3, H, W] in g, r, z (nanomaggies) -> [B, 3, H, W] in z, r, g, in [0, 1].
torch::Tensor legacysurvey_rgb(const torch::Tensor& flux, const RgbStretch& s = {});
// Offset of a centre crop as torchvision computes it (half to even).
int64_t crop_offset(int64_t length, int64_t size);
// Centre crop of the last two axes to size x size.
torch::Tensor center_crop(const torch::Tensor& images, int64_t size);
// AstroCLIP's image input from MMU [B, 3, H, W] cutouts: RGB stretch and
// centre crop. AstroCLIP's collator permutes (0, 3, 2, 1), but its training
// set stores images transposed ([W, H, C], exported with .T), so the net
// effect on MMU-layout cutouts is no swap (docs/models.md); swap_axes is
// there for inputs in that transposed layout.
torch::Tensor astroclip_image_input(const torch::Tensor& flux, int64_t crop, const RgbStretch& s = {}, bool swap_axes = false);

}  // namespace astrofm::models
