#pragma once
// Decoding of 8-bit JPEG / PNG cutouts (libjpeg, libpng) to planar float
// [channels, H, W] in [0, 1], and an area-average resampler.
#include <string>
#include <string_view>
#include <vector>

namespace astrofm {

struct Raster {
  int width = 0, height = 0, channels = 0;
  std::vector<float> planes;  // [channels][height][width]
};

// Throws InputError naming the file on a corrupt or unsupported image.
Raster decode_image_file(const std::string& path);
// The same from bytes in memory (JPEG or PNG by their magic), `name` in errors.
Raster decode_image_bytes(std::string_view bytes, const std::string& name);
Raster decode_jpeg(const unsigned char* data, size_t size, const std::string& name);
Raster decode_png(const unsigned char* data, size_t size, const std::string& name);

// Centre-crops to a square, then box-averages to size x size.
// The central min(width, height) square (or the central crop x crop when
// crop > 0) resampled to size x size.
Raster resample_square(const Raster& in, int size, int crop = 0);

}  // namespace astrofm
