#pragma once
// Writing 8-bit RGB PNG files (libpng), atomically: for report plots and
// image grids.
// Thread-safety: safe to call concurrently on distinct paths.
#include <string>
#include <vector>

namespace astrofm {

// rgb: height rows of width * 3 bytes.
// The same image as PNG bytes in memory.
std::string encode_png(const std::vector<unsigned char>& rgb, int width, int height);
void write_png(const std::string& path, const std::vector<unsigned char>& rgb, int width, int height);

}  // namespace astrofm
