#pragma once
// Input preprocessing as AstroCLIP does it (constants from its code; see
// docs/models.md): the Legacy Survey g, r, z -> RGB asinh stretch, its
// collator's axis order, a centre crop.
// Thread-safety: pure tensor functions.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
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
// The scales, offset and Q a model file's image preprocessing records (the
// defaults where it records none); CorruptError naming `where` otherwise.
RgbStretch rgb_stretch(const nlohmann::json& pre, const std::string& where);

// Images reach every model in three steps, shared by inference
// (prepare_images) and training (which augments between steps 2 and 3):
//  1. image_bands: which rows are flux of the stretch's survey, in which band order;
//  2. image_pixels: the chosen rows' pixels, centre-cropped first when crop > 0,
//     float32 with NaN -> 0 and flux rows in the stretch's band order (the one copy);
//  3. stretch_flux_rows: the RGB stretch of the flux rows; other rows (8-bit
//     cutouts in [0, 1]) pass as they are.
struct ImageBands {
  std::vector<std::vector<int64_t>> order;  // per row: the stretch bands' indices; empty: a cutout used as it is
  bool is_flux(int64_t row) const { return !order[row].empty(); }
  std::vector<std::string> kinds() const;  // of "legacysurvey_rgb", "unit": what the rows hold
};
// Rows without image_band names are taken as the stretch's bands in its order.
// InputError naming `where` and the row for a cutout whose band count is not
// the model's `channels`, or flux missing one of the stretch's bands.
// InputError naming `where` unless image_array is float32/float64 [N, bands, H, W].
void check_image_array(const Column& image_array, const std::string& where);
ImageBands image_bands(const Table& batch, const std::vector<std::string>& stretch_bands, int64_t channels, const std::string& where);
// `swap_axes`: the spatial axes are swapped first (inputs stored transposed).
torch::Tensor image_pixels(const Column& image_array, const ImageBands& bands, const std::vector<int64_t>& rows, int64_t crop,
                           const std::string& where, bool swap_axes = false);
torch::Tensor stretch_flux_rows(const torch::Tensor& pixels, const ImageBands& bands, const std::vector<int64_t>& rows,
                                const RgbStretch& s = {});

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
