#include "raster.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <png.h>

#include "astrofm/error.h"
#include "astrofm/fsutil.h"

namespace astrofm {
namespace {

// 4096 x 4096: anything larger is a survey image, not a cutout.
constexpr int64_t kMaxPixels = int64_t{1} << 24;

struct JpegErr {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->msg);
  longjmp(e->jump, 1);
}

// Counts warnings (a truncated stream is one) without printing them.
void jpeg_quiet(j_common_ptr cinfo, int level) {
  if (level < 0) cinfo->err->num_warnings++;
}

}  // namespace

Raster decode_jpeg(const unsigned char* data, size_t size, const std::string& name) {
  jpeg_decompress_struct cinfo;
  JpegErr err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_quiet;
  Raster r;
  std::vector<unsigned char> row;
  // Everything touched after setjmp lives outside this frame's registers.
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    fail_input("{}: corrupt JPEG ({})", name, err.msg);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.num_components != 1 && cinfo.num_components != 3) cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  r.width = cinfo.output_width;
  r.height = cinfo.output_height;
  r.channels = cinfo.output_components;
  if (static_cast<int64_t>(r.width) * r.height > kMaxPixels) {
    jpeg_destroy_decompress(&cinfo);
    fail_input("{}: image of {}x{} pixels is too large for a cutout", name, r.width, r.height);
  }
  r.planes.resize(static_cast<size_t>(r.channels) * r.width * r.height);
  row.resize(static_cast<size_t>(r.width) * r.channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    unsigned char* rp = row.data();
    int y = cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &rp, 1);
    // Out of data (libjpeg warns and pads with grey): stop at once, so a few
    // hundred bytes declaring 15 million pixels cost no more than they hold.
    if (err.mgr.num_warnings > 0) {
      jpeg_destroy_decompress(&cinfo);
      fail_input("{}: corrupt or truncated JPEG data (row {} of {})", name, y, r.height);
    }
    for (int x = 0; x < r.width; ++x)
      for (int c = 0; c < r.channels; ++c)
        r.planes[(static_cast<size_t>(c) * r.height + y) * r.width + x] = row[x * r.channels + c] / 255.0f;
  }
  // A truncated file decodes to grey padding with a warning; treat it as corrupt.
  bool truncated = err.mgr.num_warnings > 0;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (truncated) fail_input("{}: corrupt or truncated JPEG data", name);
  return r;
}

Raster decode_png(const unsigned char* data, size_t size, const std::string& name) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, data, size))
    fail_input("{}: corrupt PNG ({})", name, img.message);
  bool gray = (img.format & PNG_FORMAT_FLAG_COLOR) == 0;
  img.format = gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  if (static_cast<int64_t>(img.width) * img.height > kMaxPixels) {
    png_image_free(&img);
    fail_input("{}: image of {}x{} pixels is too large for a cutout", name, img.width, img.height);
  }
  std::vector<unsigned char> buf(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, buf.data(), 0, nullptr)) {
    std::string msg = img.message;
    png_image_free(&img);
    fail_input("{}: corrupt PNG ({})", name, msg);
  }
  Raster r;
  r.width = img.width;
  r.height = img.height;
  r.channels = gray ? 1 : 3;
  r.planes.resize(static_cast<size_t>(r.channels) * r.width * r.height);
  for (int y = 0; y < r.height; ++y)
    for (int x = 0; x < r.width; ++x)
      for (int c = 0; c < r.channels; ++c)
        r.planes[(static_cast<size_t>(c) * r.height + y) * r.width + x] =
            buf[(static_cast<size_t>(y) * r.width + x) * r.channels + c] / 255.0f;
  return r;
}

Raster decode_image_file(const std::string& path) { return decode_image_bytes(read_file(path), path); }

Raster decode_image_bytes(std::string_view bytes, const std::string& name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return decode_jpeg(p, bytes.size(), name);
  if (bytes.size() >= 8 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return decode_png(p, bytes.size(), name);
  fail_input("{}: neither a JPEG nor a PNG file", name);
}

Raster resample_square(const Raster& in, int size, int crop) {
  int side = std::min(in.width, in.height);
  if (crop > 0) side = std::min(side, crop);
  int x0 = (in.width - side) / 2, y0 = (in.height - side) / 2;
  Raster out;
  out.width = out.height = size;
  out.channels = in.channels;
  out.planes.assign(static_cast<size_t>(in.channels) * size * size, 0.0f);
  double scale = static_cast<double>(side) / size;
  for (int c = 0; c < in.channels; ++c) {
    const float* src = in.planes.data() + static_cast<size_t>(c) * in.width * in.height;
    for (int oy = 0; oy < size; ++oy) {
      double sy0 = oy * scale, sy1 = (oy + 1) * scale;
      for (int ox = 0; ox < size; ++ox) {
        double sx0 = ox * scale, sx1 = (ox + 1) * scale, acc = 0, wsum = 0;
        // Exact box filter: each source pixel weighted by its overlap with the output pixel.
        for (int sy = static_cast<int>(sy0); sy < std::min<double>(sy1, side); ++sy) {
          double wy = std::min<double>(sy + 1, sy1) - std::max<double>(sy, sy0);
          for (int sx = static_cast<int>(sx0); sx < std::min<double>(sx1, side); ++sx) {
            double wx = std::min<double>(sx + 1, sx1) - std::max<double>(sx, sx0);
            acc += wx * wy * src[static_cast<size_t>(y0 + sy) * in.width + x0 + sx];
            wsum += wx * wy;
          }
        }
        out.planes[(static_cast<size_t>(c) * size + oy) * size + ox] = static_cast<float>(acc / wsum);
      }
    }
  }
  return out;
}

}  // namespace astrofm
