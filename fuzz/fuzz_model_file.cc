// libFuzzer harness: the model-file reader (format 1 and 2) on arbitrary
// bytes. Any input must give a ModelFile or an astrofm::Error, never a crash.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "astrofm/error.h"
#include "astrofm/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/astrofm-fuzz-model-" + std::to_string(getpid()) + ".afm";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    auto mf = astrofm::ModelFile::read(path);
    for (const auto& t : mf.tensors) {
      auto b = t.bytes();
      volatile uint8_t sink = b.empty() ? 0 : b[b.size() - 1];
      (void)sink;
    }
    for (const auto& p : mf.parts()) (void)mf.part(p);
    (void)astrofm::model_kind(mf.meta, path);
    (void)astrofm::require_model_kind(mf.meta, {astrofm::ModelKind::Probe}, path);
  } catch (const astrofm::Error&) {
  }
  try {
    (void)astrofm::ModelFile::read_meta(path);
  } catch (const astrofm::Error&) {
  }
  return 0;
}
