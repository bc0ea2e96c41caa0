// Files astrofm writes open in h5py with the same columns, shapes and dtypes;
// files h5py writes in MMU style (LZF, gzip, vlen or fixed strings, bool) open in astrofm.
#include <sstream>

#include "astrofm/mmu.h"
#include "astrofm/validate.h"
#include "testutil.h"

namespace astrofm {
namespace {

Table small_table() {
  Table t;
  t.add(make_string_column(mmu::kObjectId, {"a", "bb", "ccc"}));
  t.add(make_column<double>(mmu::kRa, {10.5, 10.6, 200.0}));
  t.add(make_column<double>(mmu::kDec, {-5.0, -5.1, 45.0}));
  std::vector<float> img(3 * 2 * 3 * 3);
  for (size_t i = 0; i < img.size(); ++i) img[i] = 0.25f * i;
  t.add(make_column<float>(mmu::kImageArray, img, {2, 3, 3}));
  std::vector<bool> mask(img.size());
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = i % 4 == 0;
  t.add(make_column<bool>(mmu::kImageMask, mask, {2, 3, 3}));
  t.add(make_string_column(mmu::kImageBand, {"DES-G", "DES-R", "DES-G", "DES-R", "DES-G", "DES-R"}, {2}));
  t.add(make_column<int32_t>("FLAG", {1, -2, 3}));
  t.add(make_column<uint16_t>("NEXP", {7, 8, 65535}));
  return t;
}

class Interop : public ::testing::TestWithParam<std::string> {};

TEST_P(Interop, AstrofmWritesH5pyReads) {
  ASTROFM_REQUIRE_PYTHON("h5py numpy");
  test::TempDir tmp;
  WriteOptions o;
  o.compression = GetParam();
  DatasetWriter w(tmp.path("out"), "cfg", o);
  w.append(small_table());
  w.commit();
  std::string got = test::run_python(R"(
import sys, glob, h5py, numpy as np
rows = []
for f in sorted(glob.glob(sys.argv[1] + "/cfg/healpix=*/001-of-001.hdf5")):
    with h5py.File(f, "r") as h:
        for i in range(h["object_id"].shape[0]):
            rows.append((h["object_id"][i].decode(), h["ra"][i], int(h["healpix"][i]), h["image_array"][i].sum(),
                         int(h["image_mask"][i].sum()), "/".join(b.decode() for b in h["image_band"][i]), int(h["FLAG"][i]), int(h["NEXP"][i])))
        print("dtypes", h["ra"].dtype, h["image_array"].dtype, h["image_array"].shape[1:], h["image_mask"].dtype,
              h["image_band"].dtype.kind, h["FLAG"].dtype, h["NEXP"].dtype, h["healpix"].dtype, h["image_array"].compression)
for r in sorted(rows):
    print(*r)
)", tmp.path("out"));
  std::string comp = GetParam() == "none" ? "None" : GetParam();
  EXPECT_NE(got.find("dtypes float64 float32 (2, 3, 3) bool S int32 uint16 int64 " + comp), std::string::npos) << got;
  EXPECT_NE(got.find("a 10.5 1"), std::string::npos) << got;
  // image sums: row 0 = 0.25 * (0 + ... + 17) = 38.25; masks every 4th element.
  EXPECT_NE(got.find("38.25 5 DES-G/DES-R 1 7"), std::string::npos) << got;
  EXPECT_NE(got.find("ccc 200.0"), std::string::npos) << got;
  EXPECT_NE(got.find("-2 8"), std::string::npos) << got;
}

TEST_P(Interop, H5pyWritesAstrofmReads) {
  ASTROFM_REQUIRE_PYTHON("h5py healpy numpy");
  test::TempDir tmp;
  // MMU style as its own build scripts write it: vlen str ids, bytes bands, bool masks,
  // the chosen compression, healpix from healpy.
  test::run_python(R"(
import sys, os, h5py, numpy as np, healpy as hp
root, comp = sys.argv[1], sys.argv[2]
comp = None if comp == "none" else comp
rng = np.random.default_rng(0)
n = 50
ra = rng.uniform(30, 31, n); dec = rng.uniform(-2, -1, n)
pix = hp.ang2pix(16, ra, dec, lonlat=True, nest=True)
for p in np.unique(pix):
    sel = pix == p
    d = f"{root}/legacysurvey/healpix={p}"; os.makedirs(d)
    with h5py.File(d + "/001-of-001.hdf5", "w") as f:
        ids = np.array([f"LS{i}" for i in np.where(sel)[0]], dtype=object)
        f.create_dataset("object_id", data=ids, dtype=h5py.string_dtype())
        f.create_dataset("ra", data=ra[sel]); f.create_dataset("dec", data=dec[sel])
        f.create_dataset("healpix", data=pix[sel])
        img = np.stack([np.full((3, 8, 8), i, np.float32) for i in np.where(sel)[0]])
        f.create_dataset("image_array", data=img, compression=comp, chunks=True)
        f.create_dataset("image_ivar", data=np.ones_like(img), compression=comp, chunks=True)
        f.create_dataset("image_mask", data=img > 1e9, compression=comp, chunks=True)
        f.create_dataset("image_band", data=np.array([[b"DES-G", b"DES-R", b"DES-Z"]] * sel.sum()))
        f.create_dataset("image_psf_fwhm", data=np.full((sel.sum(), 3), 1.1, np.float32))
        f.create_dataset("image_scale", data=np.full((sel.sum(), 3), 0.262, np.float32))
        f.create_dataset("EBV", data=np.where(sel)[0].astype(np.float32) / 100, compression=comp)
)", tmp.path("mmu") + " " + GetParam());
  EXPECT_TRUE(validate_dataset(tmp.path("mmu")).empty());
  Dataset ds = Dataset::open(tmp.path("mmu"));
  EXPECT_EQ(ds.rows(), 50);
  DatasetReader r(ds, {.batch_rows = 7});
  Table b;
  int64_t seen = 0;
  while (r.next(b)) {
    for (int64_t i = 0; i < b.rows(); ++i) {
      int idx = std::stoi(b.at(mmu::kObjectId).strings[i].substr(2));
      EXPECT_EQ(b.at(mmu::kImageArray).values<float>()[i * 192 + 100], static_cast<float>(idx));
      EXPECT_FLOAT_EQ(b.at("EBV").values<float>()[i], idx / 100.0f);
      EXPECT_EQ(b.at(mmu::kImageMask).data[i * 192], 0);
      EXPECT_EQ(b.at(mmu::kImageBand).strings[i * 3 + 2], "DES-Z");
      ++seen;
    }
  }
  EXPECT_EQ(seen, 50);
}

INSTANTIATE_TEST_SUITE_P(Compression, Interop, ::testing::Values("none", "gzip", "lzf"));

}  // namespace
}  // namespace astrofm
