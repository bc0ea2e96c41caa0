// Fuzzes the CSV importer: parsing, type inference, id and position handling.
#include "astrofm/importers.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace astrofm;
  std::string path = fuzz::write_input(data, size, "in.csv");
  fuzz::expect_clean([&] { read_csv_table(path); });
  ImportTarget t;
  t.out = fuzz::scratch_dir() + "/out";
  t.write.compression = "none";
  fuzz::expect_clean([&] { import_csv(path, t); });
  return 0;
}
