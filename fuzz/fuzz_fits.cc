// Fuzzes the FITS importers: cutouts (WCS), DESI coadds, SDSS spPlates.
#include "astrofm/importers.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace astrofm;
  std::string path = fuzz::write_input(data, size, "in.fits");
  ImportTarget t;
  t.out = fuzz::scratch_dir() + "/out";
  t.write.compression = "none";
  fuzz::expect_clean([&] { import_fits_cutouts({path}, t, {}); });
  fuzz::expect_clean([&] { import_sdss_spplate({path}, t); });
  fuzz::expect_clean([&] { import_desi({path}, {"/nonexistent-redrock.fits"}, t); });
  return 0;
}
