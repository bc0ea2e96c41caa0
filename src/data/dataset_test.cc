#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>

#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/sky.h"
#include "testutil.h"

namespace astrofm {
namespace {

namespace fs = std::filesystem;

// A batch of n objects spread over the sky with image-like, bool, string and scalar columns.
Table make_batch(int n, int offset, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::string> ids, bands;
  std::vector<double> ra, dec, z;
  std::vector<float> img;
  std::vector<bool> mask;
  std::vector<int64_t> cls;
  for (int i = 0; i < n; ++i) {
    ids.push_back("obj" + std::to_string(offset + i));
    ra.push_back(360 * u(rng));
    dec.push_back(std::asin(2 * u(rng) - 1) * 180 / M_PI);
    z.push_back(u(rng));
    cls.push_back(offset + i);
    for (int k = 0; k < 2 * 4 * 4; ++k) img.push_back(static_cast<float>(offset + i + k * 0.5));
    for (int k = 0; k < 2 * 4 * 4; ++k) mask.push_back((i + k) % 3 == 0);
    bands.push_back("DES-G");
    bands.push_back("DES-R");
  }
  Table t;
  t.add(make_string_column(mmu::kObjectId, ids));
  t.add(make_column<double>(mmu::kRa, ra));
  t.add(make_column<double>(mmu::kDec, dec));
  t.add(make_column<double>("Z", z));
  t.add(make_column<int64_t>("CLASS", cls));
  t.add(make_column<float>(mmu::kImageArray, img, {2, 4, 4}));
  t.add(make_column<bool>(mmu::kImageMask, mask, {2, 4, 4}));
  t.add(make_string_column(mmu::kImageBand, bands, {2}));
  return t;
}

std::map<std::string, int64_t> read_all_by_id(const std::string& path, const Table& ref) {
  Dataset ds = Dataset::open(path);
  DatasetReader r(ds, {.batch_rows = 97});
  Table b;
  std::map<std::string, int64_t> seen;
  std::map<std::string, int64_t> ref_row;
  for (int64_t i = 0; i < ref.rows(); ++i) ref_row[ref.at(mmu::kObjectId).strings[i]] = i;
  while (r.next(b)) {
    EXPECT_LE(b.rows(), 97);
    for (int64_t i = 0; i < b.rows(); ++i) {
      const std::string& id = b.at(mmu::kObjectId).strings[i];
      int64_t j = ref_row.at(id);
      EXPECT_EQ(b.at(mmu::kRa).values<double>()[i], ref.at(mmu::kRa).values<double>()[j]);
      EXPECT_EQ(b.at("CLASS").values<int64_t>()[i], ref.at("CLASS").values<int64_t>()[j]);
      EXPECT_EQ(b.at(mmu::kImageArray).values<float>()[i * 32 + 31], ref.at(mmu::kImageArray).values<float>()[j * 32 + 31]);
      EXPECT_EQ(b.at(mmu::kImageMask).data[i * 32 + 5], ref.at(mmu::kImageMask).data[j * 32 + 5]);
      EXPECT_EQ(b.at(mmu::kImageBand).strings[i * 2 + 1], "DES-R");
      int64_t hp = b.at(mmu::kHealpix).values<int64_t>()[i];
      EXPECT_EQ(hp, sky::partition_of(b.at(mmu::kRa).values<double>()[i], b.at(mmu::kDec).values<double>()[i]));
      EXPECT_TRUE(partition_overlaps(r.current_partition(), hp)) << hp;
      seen[id]++;
    }
  }
  return seen;
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, WriteThenStreamBackEveryObjectOnce) {
  test::TempDir tmp;
  Table all = make_batch(3000, 0, 1);
  {
    WriteOptions o;
    o.compression = GetParam();
    o.max_open_files = 5;        // forces reopening partition files
    o.buffer_bytes = 64 << 10;   // forces flushing in several appends
    DatasetWriter w(tmp.path("out"), "cfg", o);
    for (int s = 0; s < 3000; s += 700) w.append(all.slice(s, std::min(700, 3000 - s)));
    w.commit();
  }
  Dataset ds = Dataset::open(tmp.path("out"));
  EXPECT_EQ(ds.config(), "cfg");
  EXPECT_EQ(ds.rows(), 3000);
  EXPECT_GT(ds.partitions().size(), 1000u);
  for (const auto& p : ds.partitions())
    EXPECT_EQ(fs::path(p.path).parent_path().filename().string(), mmu::partition_dirname(p.healpix));
  auto seen = read_all_by_id(tmp.path("out"), all);
  EXPECT_EQ(seen.size(), 3000u);
  for (auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  for (const auto& c : ds.schema())
    if (GetParam() != "none") EXPECT_EQ(c.filters, std::vector<std::string>{GetParam()}) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Compression, RoundTrip, ::testing::Values("none", "gzip", "lzf"));

TEST(Dataset, ColumnSelectionAndPartitionFilter) {
  test::TempDir tmp;
  Table all = make_batch(500, 0, 2);
  DatasetWriter w(tmp.path("out"), "cfg");
  w.append(all);
  w.commit();
  Dataset ds = Dataset::open(tmp.path("out/cfg"));
  int64_t pix = ds.partitions()[3].healpix;
  DatasetReader r(ds, {.columns = {"Z", mmu::kObjectId}, .batch_rows = 1000, .healpix = {pix}});
  Table b;
  ASSERT_TRUE(r.next(b));
  EXPECT_EQ(b.names(), (std::vector<std::string>{"Z", mmu::kObjectId}));
  EXPECT_EQ(b.rows(), ds.partitions()[3].rows);
  EXPECT_FALSE(r.next(b));
  DatasetReader bad(ds, {.columns = {"nope"}});
  EXPECT_THROW(bad.next(b), InputError);
}

TEST(Dataset, ReadTableLoadsEverythingInPartitionOrder) {
  test::TempDir tmp;
  DatasetWriter w(tmp.path("out"), "cat");
  Table b;
  b.add(make_string_column(mmu::kObjectId, {"a", "b", "c"}));
  b.add(make_column<double>(mmu::kRa, {10.0, 200.0, 10.1}));
  b.add(make_column<double>(mmu::kDec, {5.0, -30.0, 5.0}));
  b.add(make_column<float>("mag_r", {20.f, 21.f, 22.f}));
  w.append(b);
  w.commit();
  Table t = read_table(tmp.path("out"), {mmu::kObjectId, "mag_r"});
  EXPECT_EQ(t.rows(), 3);
  EXPECT_EQ(t.names(), (std::vector<std::string>{mmu::kObjectId, "mag_r"}));
  auto pixels = Dataset::open(tmp.path("out")).partitions();
  Table one = read_table(tmp.path("out"), {}, {pixels[0].healpix});
  EXPECT_EQ(one.rows(), pixels[0].rows);
}

TEST(Dataset, APartitionFileReadFromMemoryEqualsItReadFromDisk) {
  test::TempDir tmp;
  DatasetWriter w(tmp.path("out"), "cat");
  Table b;
  b.add(make_string_column(mmu::kObjectId, {"a", "b"}));
  b.add(make_column<double>(mmu::kRa, {10.0, 10.1}));
  b.add(make_column<double>(mmu::kDec, {5.0, 5.0}));
  b.add(make_column<float>("flux", {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {3}));
  w.append(b);
  w.commit();
  const auto part = Dataset::open(tmp.path("out")).partitions().at(0).path;
  std::ifstream f(part, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  Table disk = read_table(part), mem = read_table_image(bytes, "upload.hdf5");
  ASSERT_EQ(mem.names(), disk.names());
  for (const auto& n : disk.names()) {
    EXPECT_EQ(mem.at(n).data, disk.at(n).data) << n;
    EXPECT_EQ(mem.at(n).strings, disk.at(n).strings) << n;
    EXPECT_EQ(mem.at(n).shape, disk.at(n).shape) << n;
  }
  EXPECT_THROW(read_table_image(bytes.substr(0, bytes.size() / 3), "upload.hdf5"), InputError);
  EXPECT_THROW(read_table_image("not an hdf5 file at all", "upload.hdf5"), InputError);
}

TEST(Dataset, LookupByObjectId) {
  test::TempDir tmp;
  Table all = make_batch(400, 0, 3);
  DatasetWriter w(tmp.path("out"), "cfg");
  w.append(all);
  w.commit();
  ObjectLookup look(Dataset::open(tmp.path("out")));
  Table t = look.get({"obj123", "obj7"}, {"CLASS", mmu::kObjectId});
  ASSERT_EQ(t.rows(), 2);
  EXPECT_EQ(t.at("CLASS").values<int64_t>()[0], 123);
  EXPECT_EQ(t.at(mmu::kObjectId).strings[1], "obj7");
  EXPECT_THROW(look.get({"missing"}), InputError);
}

TEST(Dataset, NoOutputWithoutCommitAndRefusesToOverwrite) {
  test::TempDir tmp;
  {
    DatasetWriter w(tmp.path("out"), "cfg");
    w.append(make_batch(50, 0, 4));
  }  // destroyed after an "error": nothing may remain
  EXPECT_FALSE(fs::exists(tmp.path("out")));
  EXPECT_FALSE(fs::exists(tmp.path("out.partial")));
  {
    DatasetWriter w(tmp.path("out"), "cfg");
    w.append(make_batch(50, 0, 4));
    w.commit();
  }
  EXPECT_THROW(DatasetWriter(tmp.path("out"), "cfg"), InputError);
  WriteOptions o;
  o.overwrite = true;
  DatasetWriter w(tmp.path("out"), "cfg", o);
  w.append(make_batch(10, 0, 5));
  w.commit();
  EXPECT_EQ(Dataset::open(tmp.path("out")).rows(), 10);
}

TEST(Dataset, ResumeAfterInterruptionNeitherLosesNorDuplicates) {
  test::TempDir tmp;
  Table all = make_batch(900, 0, 6);
  {
    DatasetWriter w(tmp.path("out"), "cfg");
    w.append(all.slice(0, 300));
    w.append(all.slice(300, 300));
    w.checkpoint("{\"next\": 600}");
    w.append(all.slice(600, 150));  // written after the checkpoint, then "killed"
    w.keep_partial();
  }
  EXPECT_TRUE(fs::exists(tmp.path("out.partial")));
  WriteOptions o;
  o.resume = true;
  DatasetWriter w(tmp.path("out"), "cfg", o);
  ASSERT_TRUE(w.resume_state().has_value());
  EXPECT_EQ(*w.resume_state(), "{\"next\": 600}");
  EXPECT_EQ(w.rows(), 600);
  w.append(all.slice(600, 300));
  w.commit();
  auto seen = read_all_by_id(tmp.path("out"), all);
  EXPECT_EQ(seen.size(), 900u);
  for (auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
}

TEST(Dataset, RejectsInconsistentBatches) {
  test::TempDir tmp;
  DatasetWriter w(tmp.path("out"), "cfg");
  Table a = make_batch(10, 0, 7);
  w.append(a);
  Table b = make_batch(10, 10, 8);
  b.remove("Z");
  EXPECT_THROW(w.append(b), InputError);
  Table c = make_batch(10, 20, 9);
  c.at(mmu::kRa).dtype = DType::Float32;
  c.at(mmu::kRa).resize(10);
  EXPECT_THROW(w.append(c), InputError);
  Table d = make_batch(3, 30, 10);
  d.add(make_column<int64_t>(mmu::kHealpix, {1, 2, 3}));
  EXPECT_THROW(w.append(d), InputError);
  Table e = make_batch(2, 40, 11);
  e.at(mmu::kDec).values<double>()[0] = 95;
  EXPECT_THROW(w.append(e), InputError);
}

TEST(Dataset, ObjectsWithoutPositionGoToPartitionMinusOne) {
  test::TempDir tmp;
  Table t = make_batch(5, 0, 12);
  t.at(mmu::kRa).values<double>()[1] = NAN;
  t.at(mmu::kDec).values<double>()[1] = NAN;
  DatasetWriter w(tmp.path("out"), "cfg");
  w.append(t);
  w.commit();
  Dataset ds = Dataset::open(tmp.path("out"));
  EXPECT_EQ(ds.partitions().front().healpix, -1);
  EXPECT_EQ(ds.partitions().front().rows, 1);
  EXPECT_TRUE(fs::exists(tmp.path("out/cfg/healpix=-1/001-of-001.hdf5")));
}

TEST(Dataset, OpenErrorsNameThePath) {
  test::TempDir tmp;
  try {
    Dataset::open(tmp.path());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not an MMU dataset"), std::string::npos);
  }
  EXPECT_THROW(Dataset::open(tmp.path("missing")), InputError);
}

}  // namespace
}  // namespace astrofm

namespace astrofm {
namespace {

// A HATS catalogue whose partitions mix orders: some NSIDE-16 pixels split into
// order-6 pixels, a whole order-1 pixel, the rest at order 4.
std::vector<std::pair<int, int64_t>> mixed_orders(const Table& t) {
  std::set<int64_t> p4;
  for (int64_t i = 0; i < t.rows(); ++i) p4.insert(sky::partition_of(t.at(mmu::kRa).as_double(i), t.at(mmu::kDec).as_double(i)));
  std::vector<std::pair<int, int64_t>> out{{1, 5}};
  int k = 0;
  for (int64_t q : p4) {
    if ((q >> 6) == 5) continue;  // inside order-1 pixel 5
    if (k++ % 3 == 0)
      for (int64_t c = 0; c < 8; ++c) out.emplace_back(6, q * 16 + c);  // half: the rest of q gets leaves of its own
    else
      out.emplace_back(4, q);
  }
  return out;
}

// Writes `all` as a HATS catalogue at `path` partitioned by mixed_orders, in batches of `batch`.
void write_mixed(const std::string& path, const Table& all, int64_t batch) {
  WriteOptions o;
  o.format = "hats";
  o.hats_partitions = mixed_orders(all);
  DatasetWriter w(path, "mixed", o);
  for (int64_t s = 0; s < all.rows(); s += batch) w.append(all.slice(s, std::min(batch, all.rows() - s)));
  w.commit();
}

TEST(Hats, WritesMixedOrdersAndReadsEveryObjectBack) {
  test::TempDir tmp;
  Table all = make_batch(900, 0, 5);
  write_mixed(tmp.path("cat"), all, 300);
  EXPECT_FALSE(fs::exists(tmp.path("cat.partial")));
  Dataset ds = Dataset::open(tmp.path("cat"));
  EXPECT_EQ(ds.format(), DatasetFormat::Hats);
  EXPECT_EQ(ds.rows(), 900);
  std::set<int> orders;
  for (const auto& p : ds.partitions()) orders.insert(p.order);
  EXPECT_EQ(orders, (std::set<int>{1, 4, 6}));
  auto seen = read_all_by_id(tmp.path("cat"), all);
  EXPECT_EQ(seen.size(), 900u);
  for (auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  // Every object lies in its partition's pixel.
  for (size_t i = 0; i < ds.partitions().size(); ++i) {
    const auto& p = ds.partitions()[i];
    Table t = read_rows(ds, i, 0, p.rows, {mmu::kRa, mmu::kDec});
    for (int64_t r = 0; r < t.rows(); ++r)
      EXPECT_EQ(sky::ang2pix(1 << p.order, t.at(mmu::kRa).as_double(r), t.at(mmu::kDec).as_double(r)), p.healpix) << p.path;
  }
}

TEST(Hats, ConeReadsOnlyTouchedPartitionsAndMissesNoObject) {
  test::TempDir tmp;
  Table all = make_batch(1500, 0, 6);
  write_mixed(tmp.path("cat"), all, all.rows());
  Dataset ds = Dataset::open(tmp.path("cat"));
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 30; ++trial) {
    double ra = 360 * u(rng), dec = std::asin(2 * u(rng) - 1) * 180 / M_PI, rad = 0.5 + 15 * u(rng);
    std::set<std::string> want;
    for (int64_t i = 0; i < all.rows(); ++i)
      if (sky::separation_deg(ra, dec, all.at(mmu::kRa).as_double(i), all.at(mmu::kDec).as_double(i)) <= rad)
        want.insert(all.at(mmu::kObjectId).strings[i]);
    DatasetReader r(ds, {.columns = {mmu::kObjectId}, .batch_rows = 500, .cone = ReadOptions::Cone{ra, dec, rad}});
    std::set<std::string> got, parts;
    Table b;
    while (r.next(b)) {
      parts.insert(r.current_partition().path);
      for (const auto& id : b.at(mmu::kObjectId).strings) got.insert(id);
    }
    for (const auto& id : want) EXPECT_TRUE(got.count(id)) << "cone (" << ra << ", " << dec << ", " << rad << ") missed " << id;
    if (rad < 5) EXPECT_LT(parts.size(), ds.partitions().size() / 4) << rad;
  }
}

}  // namespace
}  // namespace astrofm
