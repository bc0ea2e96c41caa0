// Model file v2 (layout, dtypes, alignment, parts, corruption; format 1
// still reads), strict configs, error kinds, resource lookup.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "astrofm/error.h"
#include "astrofm/model_file.h"
#include "astrofm/resources.h"
#include "astrofm/strict_json.h"
#include "testutil.h"

namespace astrofm {
namespace {

StoredTensor tensor(const std::string& name, TensorDType d, std::vector<int64_t> shape) {
  StoredTensor t;
  t.name = name, t.dtype = d, t.shape = shape;
  std::vector<uint8_t> b(t.numel() * tensor_dtype_size(d));
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 37 + name.size());
  t.set_bytes(b);
  return t;
}

std::vector<uint8_t> bytes_of(const StoredTensor& t) { return {t.bytes().begin(), t.bytes().end()}; }

TEST(ModelFileV2, EveryDtypeRoundTripsAlignedAndMapped) {
  test::TempDir tmp;
  ModelFile mf;
  mf.meta = {{"architecture", "toy"}, {"config", {{"width", 3}}}};
  mf.tensors = {tensor("a", TensorDType::F32, {3, 5}), tensor("b", TensorDType::F16, {7}), tensor("c", TensorDType::BF16, {2, 3}),
                tensor("d", TensorDType::I64, {4}), tensor("e", TensorDType::I32, {1}), tensor("f", TensorDType::U8, {13}),
                tensor("empty", TensorDType::F32, {0})};
  std::string path = tmp.path("m.afm");
  mf.write(path);
  auto back = ModelFile::read(path);
  EXPECT_EQ(back.format(), 2);
  ASSERT_EQ(back.tensors.size(), mf.tensors.size());
  // Tensor data lies at 64-byte-aligned file offsets: check against the raw file.
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), {});
  uint64_t hlen;
  std::memcpy(&hlen, file.data() + 16, 8);
  auto header = nlohmann::json::parse(file.begin() + 24, file.begin() + 24 + hlen);
  size_t data_start = (24 + hlen + 63) / 64 * 64;
  for (size_t i = 0; i < mf.tensors.size(); ++i) {
    EXPECT_EQ(back.tensors[i].name, mf.tensors[i].name);
    EXPECT_EQ(back.tensors[i].dtype, mf.tensors[i].dtype);
    EXPECT_EQ(bytes_of(back.tensors[i]), bytes_of(mf.tensors[i]));
    uint64_t off = header["tensors"][i]["offset"];
    EXPECT_EQ((data_start + off) % 64, 0u);
    EXPECT_TRUE(std::equal(mf.tensors[i].bytes().begin(), mf.tensors[i].bytes().end(), file.begin() + data_start + off));
    EXPECT_EQ(header["tensors"][i]["dtype"], tensor_dtype_name(mf.tensors[i].dtype));
  }
  EXPECT_EQ(back.meta["config"]["width"], 3);
  EXPECT_FALSE(back.meta.contains("tensors"));
}

// One "kind" key says what a file holds: written into every header, read
// off the architecture for older files, and checked by every loader with one
// message naming what the file is and what was wanted.
TEST(ModelFileV2, KindIsWrittenInferredAndChecked) {
  test::TempDir tmp;
  auto kind_after_write = [&](nlohmann::json meta) {
    ModelFile mf;
    mf.meta = meta;
    mf.write(tmp.path("k.afm"));
    return ModelFile::read_meta(tmp.path("k.afm")).at("kind").get<std::string>();
  };
  EXPECT_EQ(kind_after_write({{"architecture", "cnn"}, {"config", nlohmann::json::object()}}), "model");
  EXPECT_EQ(kind_after_write({{"architecture", "codecs"}, {"config", nlohmann::json::object()}}), "codecs");
  EXPECT_EQ(kind_after_write({{"architecture", "scalar"}, {"modality", "Z"}, {"config", nlohmann::json::object()}}), "codecs");
  EXPECT_EQ(kind_after_write({{"architecture", "probe"}, {"config", nlohmann::json::object()}}), "probe");
  EXPECT_EQ(kind_after_write({{"architecture", "photoz"}, {"config", nlohmann::json::object()}}), "photoz");
  EXPECT_EQ(kind_after_write({{"architecture", "aion"}, {"kind", "bundle"}, {"config", nlohmann::json::object()}}), "bundle");
  nlohmann::json probe = {{"architecture", "probe"}};
  EXPECT_EQ(require_model_kind(probe, {ModelKind::Probe}, "p.afm"), ModelKind::Probe);
  try {
    require_model_kind(probe, {ModelKind::Model, ModelKind::Bundle}, "p.afm");
    ADD_FAILURE() << "a probe passed as a model";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "p.afm: a probe file (a saved probe: --probe, astrofm probe predict), not a model or bundle");
  }
  try {
    model_kind({{"kind", "weights"}}, "w.afm");
    ADD_FAILURE() << "an unknown kind read";
  } catch (const InputError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Corrupt);
    EXPECT_NE(std::string(e.what()).find("w.afm: model file kind \"weights\""), std::string::npos) << e.what();
  }
}

TEST(ModelFileV2, PartsShareOneFile) {
  test::TempDir tmp;
  ModelFile a, b, all;
  a.meta = {{"architecture", "codec"}, {"config", {{"levels", {7, 5}}}}};
  a.tensors = {tensor("w", TensorDType::F32, {4})};
  b.meta = {{"architecture", "transformer"}, {"config", {{"depth", 2}}}};
  b.tensors = {tensor("w", TensorDType::BF16, {6}), tensor("emb", TensorDType::F16, {3, 2})};
  all.meta = {{"architecture", "bundle"}, {"config", nlohmann::json::object()}};
  all.add_part("codec_image", a);
  all.add_part("model", b);
  EXPECT_THROW(all.add_part("model", b), UsageError);
  all.write(tmp.path("all.afm"));
  auto back = ModelFile::read(tmp.path("all.afm"));
  EXPECT_EQ(back.parts(), (std::vector<std::string>{"codec_image", "model"}));
  auto pb = back.part("model");
  EXPECT_EQ(pb.meta["config"]["depth"], 2);
  ASSERT_EQ(pb.tensors.size(), 2u);
  EXPECT_EQ(bytes_of(*pb.find("emb")), bytes_of(b.tensors[1]));
  EXPECT_EQ(back.part("codec_image").tensors.size(), 1u);
  try {
    back.part("codec_spectrum");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
}

TEST(ModelFileV2, CorruptionIsNamedAndTyped) {
  test::TempDir tmp;
  ModelFile mf;
  mf.meta = {{"architecture", "toy"}, {"config", nlohmann::json::object()}};
  mf.tensors = {tensor("a", TensorDType::F32, {100})};
  std::string good = tmp.path("g.afm");
  mf.write(good);
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  auto expect_corrupt = [&](const std::string& content, const char* what) {
    std::string p = tmp.path("bad.afm");
    std::ofstream(p, std::ios::binary) << content;
    try {
      ModelFile::read(p);
      ADD_FAILURE() << what;
    } catch (const InputError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Corrupt) << what << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  };
  expect_corrupt(bytes.substr(0, bytes.size() - 100), "truncated data");
  expect_corrupt(bytes.substr(0, 30), "truncated header");
  expect_corrupt("NOTAFILE" + bytes.substr(8), "bad magic");
  std::string flipped = bytes;
  flipped[flipped.size() - 100] ^= 1;
  expect_corrupt(flipped, "checksum");
  std::string future = bytes;
  future[8] = 9;
  expect_corrupt(future, "newer format");
  std::string shifted = bytes;
  auto pos = shifted.find("\"offset\":0");
  ASSERT_NE(pos, std::string::npos);
  shifted.replace(pos, 10, "\"offset\":8");
  expect_corrupt(shifted, "misaligned offset");
  // Valid JSON that is not an object (found by fuzz_model_file): corrupt, not a crash.
  std::string not_object = std::string("ASTROFM\0", 8) + std::string("\x02\0\0\0\0\0\0\0", 8) + std::string("\x04\0\0\0\0\0\0\0", 8) + "\"ab\"";
  expect_corrupt(not_object, "header not an object");
  {
    std::string p = tmp.path("bad.afm");
    std::ofstream(p, std::ios::binary) << not_object;
    try {
      ModelFile::read_meta(p);
      ADD_FAILURE() << "read_meta accepted a non-object header";
    } catch (const InputError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Corrupt);
    }
  }
  try {
    ModelFile::read(tmp.path("nothing.afm"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::IO);
  }
}

// Format 1 (astrofm 0.1's shipped models): the JSON header's tensors without
// offsets, then the tensors back to back. Written here from a shipped model.
TEST(ModelFileV2, FormatOneFilesStillRead) {
  const std::string path = resolve_model_path("galaxy-cnn-ssl");
  auto v2 = ModelFile::read(path);
  nlohmann::json h = v2.meta;
  h["format"] = 1;
  {  // the checksum (FNV-1a over the tensors' bytes) is format-independent: take it from the file's header
    std::string raw = test::read_source_abs(path);
    uint64_t n;
    std::memcpy(&n, raw.data() + 16, 8);
    h["checksum"] = nlohmann::json::parse(raw.substr(24, n))["checksum"];
  }
  h["tensors"] = nlohmann::json::array();
  std::string data;
  for (const auto& t : v2.tensors) {
    ASSERT_TRUE(t.dtype == TensorDType::F32 || t.dtype == TensorDType::I64) << t.name;  // format 1's dtypes
    h["tensors"].push_back({{"name", t.name}, {"dtype", t.dtype == TensorDType::F32 ? "float32" : "int64"}, {"shape", t.shape}});
    data.append(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size());
  }
  std::string header = h.dump();
  uint32_t version = 1;
  uint64_t hlen = header.size();
  test::TempDir tmp;
  {
    std::ofstream f(tmp.path("v1.afm"), std::ios::binary);
    f.write("ASTROFM\0", 8);
    f.write(reinterpret_cast<const char*>(&version), 4);
    f.write(reinterpret_cast<const char*>(&hlen), 8);
    f << header << data;
  }
  auto v1 = ModelFile::read(tmp.path("v1.afm"));
  EXPECT_EQ(v1.format(), 1);
  EXPECT_EQ(v1.meta["architecture"], v2.meta["architecture"]);
  ASSERT_EQ(v1.tensors.size(), v2.tensors.size());
  for (size_t i = 0; i < v1.tensors.size(); ++i) {
    EXPECT_EQ(v1.tensors[i].name, v2.tensors[i].name);
    EXPECT_EQ(v1.tensors[i].shape, v2.tensors[i].shape);
    EXPECT_EQ(0, std::memcmp(v1.tensors[i].bytes().data(), v2.tensors[i].bytes().data(), v2.tensors[i].bytes().size())) << v1.tensors[i].name;
  }
  // A damaged format-1 file is an error naming it, as in format 2.
  std::string bytes = test::read_source_abs(tmp.path("v1.afm"));
  bytes.back() ^= 1;
  { std::ofstream(tmp.path("bad.afm"), std::ios::binary) << bytes; }
  try {
    ModelFile::read(tmp.path("bad.afm"));
    FAIL() << "a flipped bit was not noticed";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.afm"), std::string::npos) << e.what();
  }
}

TEST(StrictConfig, UnknownKeysAtAnyDepthNameTheirPath) {
  nlohmann::json d = {{"lr", 1e-3}, {"augment", {{"scale_min", 0.35}, {"flips", true}}}};
  auto m = merge_strict(d, {{"augment", {{"scale_min", 0.5}}}}, "cfg.json");
  EXPECT_EQ(m["augment"]["scale_min"], 0.5);
  EXPECT_EQ(m["augment"]["flips"], true);
  try {
    merge_strict(d, {{"augment", {{"scale_mn", 0.5}}}}, "cfg.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json: augment.scale_mn: unknown key"), std::string::npos) << e.what();
  }
  EXPECT_THROW(merge_strict(d, {{"lr", {{"x", 1}}}}, "c"), InputError);
  EXPECT_THROW(merge_strict(d, {{"steps", 5}}, "c"), InputError);
}

TEST(StrictConfig, IntegersAreRangeCheckedNotCast) {
  EXPECT_EQ(json_integer<int>(nlohmann::json(7), "k"), 7);
  EXPECT_EQ(json_integer<int64_t>(nlohmann::json(3.0), "k"), 3);
  EXPECT_EQ(json_integer<uint64_t>(nlohmann::json(18446744073709551615ull), "k"), 18446744073709551615ull);
  // Each of these was undefined behaviour through get<T>() (fuzz_model_file).
  for (auto bad : {nlohmann::json(1e30), nlohmann::json(-1), nlohmann::json(2.5), nlohmann::json("3"),
                   nlohmann::json(std::nan(""))}) {
    try {
      json_integer<uint32_t>(bad, "f.afm: tensor 'w': offset");
      FAIL() << bad.dump();
    } catch (const InputError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Corrupt);
      EXPECT_NE(std::string(e.what()).find("f.afm: tensor 'w': offset"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(json_integer<int8_t>(nlohmann::json(300), "k", ErrorKind::InvalidInput), InputError);
  EXPECT_EQ(json_integers<int64_t>(nlohmann::json::parse("[2, 3]"), "shape"), (std::vector<int64_t>{2, 3}));
  EXPECT_THROW(json_integers<int64_t>(nlohmann::json::parse("[2, 1e30]"), "shape"), InputError);
}

TEST(Errors, KindsAndAsserts) {
  EXPECT_EQ(std::string(error_kind_name(ErrorKind::NotFound)), "not_found");
  try {
    resolve_model_path("no-such-model");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
  EXPECT_THROW(ASTROFM_ASSERT(1 + 1 == 3, "arithmetic"), InternalError);
}

TEST(Resources, ModelsDirFirstThenTheShippedOnes) {
  test::TempDir tmp;
  std::filesystem::create_directories(tmp.path("m"));
  std::filesystem::copy_file(shipped_models().at(0).second, tmp.path("m/mine.afm"));
  set_models_dir(tmp.path("m"));
  auto dirs = models_dirs();
  set_models_dir("");
  ASSERT_GE(dirs.size(), 2u);
  EXPECT_EQ(dirs[0], std::filesystem::weakly_canonical(tmp.path("m")));
  set_models_dir(tmp.path("m"));
  EXPECT_EQ(resolve_model_path("mine"), (std::filesystem::weakly_canonical(tmp.path("m")) / "mine.afm").string());
  set_models_dir("");
  EXPECT_TRUE(std::filesystem::exists(data_dir() / "sed_templates"));
}

}  // namespace
}  // namespace astrofm
