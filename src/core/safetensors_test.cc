// The safetensors reader: dtypes, shared-tensor aliases, views into the map,
// and one clear error for each way a header can lie about its data.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "astrofm/error.h"
#include "astrofm/safetensors.h"
#include "testutil.h"

namespace astrofm {
namespace {

// A safetensors file from a header (written as given) and a data block.
std::string write_file(const std::string& path, const std::string& header, const std::vector<uint8_t>& data) {
  std::ofstream o(path, std::ios::binary);
  uint64_t n = header.size();
  o.write(reinterpret_cast<const char*>(&n), 8);
  o << header;
  o.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return path;
}

template <class T> void append(std::vector<uint8_t>& d, std::initializer_list<T> v) {
  for (T x : v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &x, sizeof(T));
    d.insert(d.end(), b, b + sizeof(T));
  }
}

std::string error_of(const std::string& path) {
  try {
    read_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Safetensors, ReadsEveryDtypeAsViewsAndExpandsSharedTensorAliases) {
  test::TempDir tmp;
  std::vector<uint8_t> d;
  append<float>(d, {1.5f, -2.f, 3.f, 4.f, 5.f, 6.f});      // w  F32 [2,3]   0..24
  append<uint16_t>(d, {0x3c00, 0xc000});                  // h  F16 [2]    24..28 (1, -2)
  append<uint16_t>(d, {0x3f80});                          // b  BF16 [1]   28..30 (1)
  append<uint8_t>(d, {1, 0});                             // m  BOOL [2]   30..32
  append<int64_t>(d, {7, -9});                            // i  I64 [2]    32..48
  append<double>(d, {0.25, -1e3});                        // f  F64 [2]    48..64
  std::string header = R"({"__metadata__":{"format":"pt","decoder.emb":"encoder.emb"},)"
                       R"("encoder.emb":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                       R"("h":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},)"
                       R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[28,30]},)"
                       R"("m":{"dtype":"BOOL","shape":[2],"data_offsets":[30,32]},)"
                       R"("i":{"dtype":"I64","shape":[2],"data_offsets":[32,48]},)"
                       R"("f":{"dtype":"F64","shape":[2],"data_offsets":[48,64]},)"
                       R"("scalar":{"dtype":"F32","shape":[],"data_offsets":[64,68]}})";
  append<float>(d, {42.f});
  auto path = write_file(tmp.path("m.safetensors"), header, d);
  EXPECT_TRUE(looks_like_safetensors(path));
  ModelFile mf = read_safetensors(path);
  ASSERT_EQ(mf.tensors.size(), 8u);  // seven stored + one alias
  const StoredTensor* w = mf.find("encoder.emb");
  const StoredTensor* alias = mf.find("decoder.emb");
  ASSERT_TRUE(w && alias);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(alias->bytes().data(), w->bytes().data());  // one copy of the data, in the map
  float f0;
  std::memcpy(&f0, w->bytes().data(), 4);
  EXPECT_EQ(f0, 1.5f);
  EXPECT_EQ(mf.find("h")->dtype, TensorDType::F16);
  EXPECT_EQ(mf.find("b")->dtype, TensorDType::BF16);
  EXPECT_EQ(mf.find("m")->dtype, TensorDType::U8);
  EXPECT_EQ(mf.find("i")->dtype, TensorDType::I64);
  const StoredTensor* f = mf.find("f");
  ASSERT_EQ(f->dtype, TensorDType::F32);
  float narrowed[2];
  std::memcpy(narrowed, f->bytes().data(), 8);
  EXPECT_EQ(narrowed[0], 0.25f);
  EXPECT_EQ(narrowed[1], -1000.f);
  EXPECT_TRUE(mf.find("scalar")->shape.empty());
  EXPECT_EQ(mf.meta["metadata"]["format"], "pt");
  EXPECT_EQ(mf.meta["aliases"]["decoder.emb"], "encoder.emb");
}

TEST(Safetensors, EveryLyingHeaderIsOneErrorNamingTheFileAndTensor) {
  test::TempDir tmp;
  std::vector<uint8_t> d(16, 0);
  auto bad = [&](const std::string& name, const std::string& header, const std::vector<uint8_t>& data = {}) {
    return error_of(write_file(tmp.path(name), header, data.empty() ? d : data));
  };
  {
    std::ofstream o(tmp.path("short.safetensors"), std::ios::binary);
    o << "abc";
  }
  EXPECT_NE(error_of(tmp.path("short.safetensors")).find("truncated safetensors file (3 bytes"), std::string::npos);
  {  // header length beyond the file: a truncated download
    std::ofstream o(tmp.path("cut.safetensors"), std::ios::binary);
    uint64_t n = 5000;
    o.write(reinterpret_cast<const char*>(&n), 8);
    o << "{\"a\":";
  }
  EXPECT_NE(error_of(tmp.path("cut.safetensors")).find("the header claims 5000 bytes"), std::string::npos);
  EXPECT_NE(bad("json.safetensors", "{not json").find("corrupt safetensors header"), std::string::npos);
  EXPECT_NE(bad("arr.safetensors", "[1,2]").find("not a JSON object"), std::string::npos);
  auto e = bad("dtype.safetensors", R"({"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})");
  EXPECT_NE(e.find("dtype.safetensors: tensor 'w': dtype 'F8_E4M3'"), std::string::npos) << e;
  e = bad("past.safetensors", R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})");
  EXPECT_NE(e.find("tensor 'w': data_offsets [0, 32] run past the 16 data bytes"), std::string::npos) << e;
  e = bad("span.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})");
  EXPECT_NE(e.find("tensor 'w': data_offsets span 8 bytes, but F32 of shape [3] needs 12"), std::string::npos) << e;
  e = bad("overlap.safetensors", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})");
  EXPECT_NE(e.find("tensors 'a' (bytes 0..8) and 'b' (bytes 4..12) overlap"), std::string::npos) << e;
  e = bad("reversed.safetensors", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})");
  EXPECT_NE(e.find("tensor 'a': data_offsets [8, 4]"), std::string::npos) << e;
  e = bad("shape.safetensors", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})");
  EXPECT_NE(e.find("tensor 'a': impossible shape"), std::string::npos) << e;
  e = bad("huge.safetensors", R"({"a":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}})");
  EXPECT_NE(e.find("tensor 'a': shape"), std::string::npos) << e;
  e = bad("missing.safetensors", R"({"a":{"dtype":"F32","shape":[1]}})");
  EXPECT_NE(e.find("tensor 'a': no 'data_offsets' field"), std::string::npos) << e;
  e = bad("meta.safetensors", R"({"__metadata__":{"x":1}})");
  EXPECT_NE(e.find("__metadata__ 'x' is not a string"), std::string::npos) << e;
  EXPECT_FALSE(looks_like_safetensors(tmp.path("short.safetensors")));
}

}  // namespace
}  // namespace astrofm
