// Fuzzes the image importer's decoders (libjpeg, libpng) and the resampler.
#include "fuzz_util.h"
#include "importers/raster.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace astrofm;
  std::string path = fuzz::write_input(data, size, "in.img");
  fuzz::expect_clean([&] {
    Raster r = decode_image_file(path);
    if (r.width > 0 && r.height > 0) resample_square(r, 16);
  });
  return 0;
}
