#include <algorithm>
#include <cmath>

#include "astrofm/bands.h"
#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/mmu.h"
#include "astrofm/png.h"
#include "astrofm/search.h"

namespace astrofm {

std::vector<float> display_rgb(const Column& img, const Column* band, int64_t row, int64_t& h, int64_t& w) {
  if (img.shape.size() < 2 || row < 0 || row >= img.rows) fail_input("{}: no image at row {}", img.name, row);
  int64_t c = img.shape.size() == 3 ? img.shape[0] : 1;
  h = img.shape[img.shape.size() - 2], w = img.shape.back();
  std::vector<float> out(3 * h * w, 0.f);
  auto at = [&](int64_t ch, int64_t y, int64_t x) { return static_cast<float>(img.as_double(((row * c + ch) * h + y) * w + x)); };
  std::vector<std::string> b;
  if (band) b.assign(band->strings.begin() + row * c, band->strings.begin() + (row + 1) * c);
  // Legacy-Survey flux (DECam g, r, z by the band table) gets the stretch;
  // anything else (8-bit cutouts) is shown as it is.
  const Band* first = b.empty() ? nullptr : find_band(b[0]);
  std::vector<int64_t> grz;
  if (first && first->survey == "DECam" && c >= 3) {
    try {
      grz = select_bands(b, legacy_survey_grz(), "neighbour grid");
    } catch (const InputError&) {
      grz.clear();  // not g, r, z: shown as it is
    }
  }
  if (!grz.empty()) {
    // Lupton-style asinh on the mean intensity, z r g as R G B.
    int64_t g = grz[0], r = grz[1], z = grz[2];
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        float vz = std::max(0.f, at(z, y, x)) * 2.2f, vr = std::max(0.f, at(r, y, x)) * 3.4f, vg = std::max(0.f, at(g, y, x)) * 6.0f;
        float I = (vz + vr + vg) / 3 + 1e-6f, k = std::asinh(20 * I) / std::sqrt(20.f) / I;
        out[(0 * h + y) * w + x] = vz * k, out[(1 * h + y) * w + x] = vr * k, out[(2 * h + y) * w + x] = vg * k;
      }
  } else {
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) out[(ch * h + y) * w + x] = at(std::min(ch, c - 1), y, x);
  }
  for (auto& v : out) v = std::isfinite(v) ? std::clamp(v, 0.f, 1.f) : 0.f;
  return out;
}

std::string cutout_png(const Column& image_array, const Column* image_band, int64_t row, int cell) {
  if (image_array.shape.size() < 2 || row < 0 || row >= image_array.rows) fail_input("cutout: no image at row {}", row);
  int64_t h, w;
  auto img = display_rgb(image_array, image_band, row, h, w);
  std::vector<unsigned char> rgb(static_cast<size_t>(cell) * cell * 3);
  for (int y = 0; y < cell; ++y)
    for (int x = 0; x < cell; ++x) {
      int64_t sy = y * h / cell, sx = x * w / cell;
      for (int c = 0; c < 3; ++c) rgb[(y * cell + x) * 3 + c] = static_cast<unsigned char>(std::lround(255 * img[(c * h + sy) * w + sx]));
    }
  return encode_png(rgb, cell, cell);
}

std::string cutout_grid_png(const std::string& images, const std::vector<std::string>& ids, const CutoutGridOptions& o) {
  Dataset ds = Dataset::open(images);
  if (!ds.has_column(mmu::kImageArray)) fail_input("{}: no image_array column to draw cutouts from", images);
  ObjectLookup lookup(ds);
  const int cell = o.cell, pad = 4, n = static_cast<int>(ids.size());
  const int cols = o.columns > 0 ? std::min(o.columns, std::max(n, 1)) : std::max(n, 1), rows = (n + cols - 1) / cols;
  const int W = cols * (cell + pad) + pad, H = std::max(rows, 1) * (cell + pad) + pad;
  std::vector<unsigned char> rgb(static_cast<size_t>(W) * H * 3, 255);
  for (int k = 0; k < n; ++k) {
    int x0 = pad + (k % cols) * (cell + pad), y0 = pad + (k / cols) * (cell + pad);
    if (k == 0 && o.frame_first)  // red frame around the query
      for (int y = y0 - 3; y < y0 + cell + 3; ++y)
        for (int x = x0 - 3; x < x0 + cell + 3; ++x)
          if (y >= 0 && y < H && x >= 0 && x < W) rgb[(y * W + x) * 3] = 220, rgb[(y * W + x) * 3 + 1] = 30, rgb[(y * W + x) * 3 + 2] = 30;
    if (!lookup.contains(ids[k])) {
      for (int y = 0; y < cell; ++y)
        for (int x = 0; x < cell; ++x)
          for (int c = 0; c < 3; ++c) rgb[((y0 + y) * W + x0 + x) * 3 + c] = 160;
      continue;
    }
    Table t = lookup.get({ids[k]}, ds.has_column(mmu::kImageBand) ? std::vector<std::string>{mmu::kImageArray, mmu::kImageBand}
                                                                   : std::vector<std::string>{mmu::kImageArray});
    int64_t h, w;
    auto img = display_rgb(t.at(mmu::kImageArray), t.find(mmu::kImageBand), 0, h, w);
    for (int y = 0; y < cell; ++y)
      for (int x = 0; x < cell; ++x) {
        int64_t sy = y * h / cell, sx = x * w / cell;  // nearest neighbour: keeps pixels honest
        for (int c = 0; c < 3; ++c)
          rgb[((y0 + y) * W + x0 + x) * 3 + c] = static_cast<unsigned char>(std::lround(255 * img[(c * h + sy) * w + sx]));
      }
  }
  return encode_png(rgb, W, H);
}

void write_neighbour_grid(const std::string& path, const std::string& images, const std::vector<std::string>& ids, int cell) {
  write_file_atomic(path, cutout_grid_png(images, ids, {.cell = cell, .columns = 0, .frame_first = true}));
}

}  // namespace astrofm
