// libFuzzer harness: the released-snapshot settings readers (config.json of
// the transformer and of a codec) on arbitrary bytes. Any input must give a
// Snapshot or an astrofm::Error, never a crash.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "astrofm/aion_release.h"
#include "astrofm/error.h"

namespace fs = std::filesystem;

namespace {
void write(const fs::path& p, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) return;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("astrofm-fuzz-snapshot-" + std::to_string(getpid()));
    fs::create_directories(d / "codecs" / "Z");
    const uint8_t none[] = {0};
    write(d / "model.safetensors", none, 1);
    write(d / "codecs" / "Z" / "model.safetensors", none, 1);
    return d;
  }();
  // The same bytes as the transformer's settings and as the Z codec's (behind a valid transformer config).
  write(dir / "config.json", data, size);
  try {
    (void)astrofm::aion::read_snapshot(dir.string());
  } catch (const astrofm::Error&) {
  }
  static const std::string good =
      R"({"domains_in":["tok_z"],"domains_out":["tok_z"],"dim":8,"encoder_depth":1,"decoder_depth":1,"num_heads":2})";
  write(dir / "config.json", reinterpret_cast<const uint8_t*>(good.data()), good.size());
  write(dir / "codecs" / "Z" / "config.json", data, size);
  try {
    auto s = astrofm::aion::read_snapshot(dir.string());
    (void)astrofm::aion::codec_for(s, "tok_z");
  } catch (const astrofm::Error&) {
  }
  return 0;
}
