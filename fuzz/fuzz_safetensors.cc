// libFuzzer harness: the safetensors reader (downloaded model weights) on
// arbitrary bytes. Any input must give a ModelFile or an astrofm::Error, never
// a crash, and every tensor view must lie inside the file.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "astrofm/error.h"
#include "astrofm/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/astrofm-fuzz-safetensors-" + std::to_string(getpid()) + ".safetensors";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  (void)astrofm::looks_like_safetensors(path);
  try {
    auto mf = astrofm::read_safetensors(path);
    for (const auto& t : mf.tensors) {
      auto b = t.bytes();
      volatile uint8_t sink = b.empty() ? 0 : static_cast<uint8_t>(b[0] ^ b[b.size() - 1]);
      (void)sink;
    }
  } catch (const astrofm::Error&) {
  }
  return 0;
}
