// libFuzzer harness: the Parquet reader behind HATS catalogues (downloaded
// catalogues are untrusted) on arbitrary bytes. Any input must give a table
// or an astrofm::Error, never a crash or another exception.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "astrofm/error.h"
#include "astrofm/hats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/astrofm-fuzz-parquet-" + std::to_string(getpid()) + ".parquet";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    auto schema = astrofm::hats::leaf_schema(path);
    astrofm::hats::FileReader r(path, {}, 7);
    astrofm::Table t;
    int64_t rows = 0;
    while (r.next(t)) rows += t.rows();
    (void)astrofm::hats::read_file(path, {}, 0, -1);
    (void)astrofm::hats::read_spatial_index(path);
    (void)schema;
  } catch (const astrofm::Error&) {
  }
  return 0;
}
