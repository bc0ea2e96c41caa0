// Fuzzes MMU HDF5 uploads (POST /v1/embeddings with application/x-hdf5):
// libhdf5 opening untrusted bytes from memory in the reader child process, then astrofm's
// column checks. libhdf5's own crashes stay in the child (and its ASan
// reports land in libFuzzer's artifact folder); the harness checks that none
// reaches the caller.
#include "astrofm/upload.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace astrofm;
  UploadOptions o;
  o.max_objects = 64;
  o.reader_seconds = 5;
  fuzz::expect_clean([&] { parse_upload({reinterpret_cast<const char*>(data), size}, "application/x-hdf5", o); });
  return 0;
}
