#include "astrofm/validate.h"

#include <fstream>

#include "astrofm/mmu.h"
#include "astrofm/sky.h"
#include "testutil.h"

namespace astrofm {
namespace {

namespace fs = std::filesystem;

void write_valid(const std::string& root) {
  Table t;
  t.add(make_string_column(mmu::kObjectId, {"a", "b", "c", "d"}));
  t.add(make_column<double>(mmu::kRa, {10, 10.1, 250, NAN}));
  t.add(make_column<double>(mmu::kDec, {0, 0.1, 60, NAN}));
  t.add(make_column<float>(mmu::kSpectrumFlux, std::vector<float>(4 * 5, 1.0f), {5}));
  t.add(make_column<float>(mmu::kSpectrumIvar, std::vector<float>(4 * 5, 1.0f), {5}));
  std::vector<float> lam = {4000, 4001, 4002, -1, -1, 4000, 4001, 4002, 4003, 4004,
                            4000, 4001, 4002, 4003, 4004, 4000, 4001, -1, -1, -1};
  std::vector<bool> mask = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
  t.add(make_column<float>(mmu::kSpectrumLambda, lam, {5}));
  t.add(make_column<bool>(mmu::kSpectrumMask, mask, {5}));
  DatasetWriter w(root, "cfg");
  w.append(t);
  w.commit();
}

// The partition file holding write_valid's objects "a" and "b" (rows 0 and 1).
std::string positioned_partition(const std::string& root) {
  return root + "/cfg/" + mmu::partition_dirname(sky::partition_of(10, 0)) + "/" + mmu::kPartitionFile;
}

bool has(const std::vector<Violation>& v, const std::string& column, const std::string& words) {
  for (const auto& x : v)
    if (x.column == column && x.reason.find(words) != std::string::npos) return true;
  return false;
}

std::string dump(const std::vector<Violation>& v) {
  std::string s;
  for (const auto& x : v) s += x.file + " | " + x.column + " | " + x.reason + "\n";
  return s;
}

TEST(Validate, ValidDatasetHasNoViolations) {
  test::TempDir tmp;
  write_valid(tmp.path("d"));
  auto v = validate_dataset(tmp.path("d"));
  EXPECT_TRUE(v.empty()) << dump(v);
}

TEST(Validate, ListsEveryViolationWithFileAndColumn) {
  ASTROFM_REQUIRE_PYTHON("h5py numpy");
  test::TempDir tmp;
  write_valid(tmp.path("d"));
  // Break one file several ways at once with h5py.
  std::string file = positioned_partition(tmp.path("d"));
  test::run_python(R"(
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    n = f["object_id"].shape[0]
    del f["ra"]; f.create_dataset("ra", data=np.full(n, 10.0, np.float32))   # wrong dtype
    del f["dec"]                                                            # missing
    f.create_dataset("EXTRA", data=np.zeros(n + 1))                         # wrong length
    lam = f["spectrum_lambda"][:]; lam[1, 4] = -1; del f["spectrum_lambda"]
    f.create_dataset("spectrum_lambda", data=lam)                           # padding not masked
    f["healpix"][0] = 3                                                     # wrong pixel
)", file);
  auto v = validate_dataset(tmp.path("d"));
  EXPECT_TRUE(has(v, "ra", "dtype float32")) << dump(v);
  EXPECT_TRUE(has(v, "dec", "missing")) << dump(v);
  EXPECT_TRUE(has(v, "EXTRA", "rows, object_id has")) << dump(v);
  EXPECT_TRUE(has(v, "spectrum_mask", "not masked")) << dump(v);
  for (const auto& x : v) EXPECT_EQ(x.file, file);
}

TEST(Validate, HealpixMismatchAndDuplicateIds) {
  ASTROFM_REQUIRE_PYTHON("h5py numpy");
  test::TempDir tmp;
  write_valid(tmp.path("d"));
  std::string file = positioned_partition(tmp.path("d"));
  test::run_python(R"(
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    f["healpix"][0] = 3
    f["object_id"][0] = b"d"
)", file);
  auto v = validate_dataset(tmp.path("d"));
  EXPECT_TRUE(has(v, "healpix", "lies in")) << dump(v);
  EXPECT_TRUE(has(v, "object_id", "duplicate object_id 'd'")) << dump(v);
}

TEST(Validate, TruncatedFileIsReportedNotFatal) {
  test::TempDir tmp;
  write_valid(tmp.path("d"));
  std::string file;
  for (const auto& e : fs::recursive_directory_iterator(tmp.path("d")))
    if (e.path().extension() == ".hdf5") file = e.path().string();
  auto size = fs::file_size(file);
  fs::resize_file(file, size / 2);
  auto v = validate_dataset(tmp.path("d"));
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v.front().file, file);
  EXPECT_NE(v.front().reason.find("truncated"), std::string::npos) << dump(v);
  // Readers fail with a message naming the file.
  try {
    Dataset ds = Dataset::open(tmp.path("d"));
    DatasetReader r(ds, {});
    Table t;
    while (r.next(t)) {
    }
    FAIL() << "a truncated file must not read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
}

TEST(Validate, NotADataset) {
  test::TempDir tmp;
  std::ofstream(tmp.path("x.hdf5")) << "garbage";
  auto v = validate_dataset(tmp.path("x.hdf5"));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].reason.find("not an HDF5 file"), std::string::npos) << dump(v);
}

}  // namespace
}  // namespace astrofm
