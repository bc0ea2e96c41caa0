// Fuzzes what a request body reaching `astrofm serve` is parsed by: JSON
// arrays of images and spectra, and .npy arrays (the first byte picks which).
#include "astrofm/upload.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace astrofm;
  if (size < 1) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  UploadOptions o;
  o.bands = {"G", "R", "Z"};
  o.max_objects = 64;
  o.modality = data[0] & 1 ? "spectrum" : "image";
  const char* type = data[0] & 2 ? "application/x-npy" : "application/json";
  fuzz::scratch_dir();
  fuzz::expect_clean([&] { parse_upload(body, type, o); });
  return 0;
}
