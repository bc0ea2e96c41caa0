// Fuzzes the PyTorch checkpoint reader (`astrofm convert`): the zip container
// (libtorch's reader) and astrofm's own pickle interpreter on untrusted bytes.
#include "fuzz_util.h"
#include "astrofm/models/torch_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace astrofm;
  std::string path = fuzz::write_input(data, size, "in.pt");
  fuzz::expect_clean([&] {
    try {
      models::read_checkpoint(path);
    } catch (const c10::Error&) {  // libtorch's zip reader rejects a malformed archive this way
    }
  });
  return 0;
}
