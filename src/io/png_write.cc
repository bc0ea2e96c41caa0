#include <png.h>

#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/png.h"

namespace astrofm {

void write_png(const std::string& path, const std::vector<unsigned char>& rgb, int w, int h) {
  write_file_atomic(path, encode_png(rgb, w, h));
}

std::string encode_png(const std::vector<unsigned char>& rgb, int w, int h) {
  const char* path = "PNG";
  if (w <= 0 || h <= 0 || rgb.size() != static_cast<size_t>(w) * h * 3) fail_usage("write_png: {} bytes for {}x{} RGB", rgb.size(), w, h);
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(w);
  img.height = static_cast<png_uint_32>(h);
  img.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&img, nullptr, &size, 0, rgb.data(), 0, nullptr)) fail_input("{}: PNG encoding failed ({})", path, img.message);
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&img, bytes.data(), &size, 0, rgb.data(), 0, nullptr)) fail_input("{}: PNG encoding failed ({})", path, img.message);
  bytes.resize(size);
  return bytes;
}

}  // namespace astrofm
