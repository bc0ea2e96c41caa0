#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/npy.h"
#include "astrofm/upload.h"
#include "serve/votable.h"

namespace astrofm {
namespace {

std::string npy_header(const std::string& dict) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h;
}

TEST(Npy, RoundTripsFloat32AndReadsOtherDtypes) {
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  std::string b = npy_bytes(v.data(), {2, 3});
  EXPECT_EQ(b.size() % 64, 24u);  // data starts at a multiple of 64, 24 bytes of data
  Column c = parse_npy(b, "x", "t.npy");
  EXPECT_EQ(c.rows, 2);
  EXPECT_EQ(c.shape, std::vector<int64_t>({3}));
  EXPECT_EQ(c.ptr<float>()[5], 6.f);
  std::string i8 = npy_header("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }");
  int64_t vals[2] = {-7, 1LL << 40};
  i8.append(reinterpret_cast<const char*>(vals), 16);
  Column d = parse_npy(i8, "y", "t.npy");
  EXPECT_EQ(d.dtype, DType::Int64);
  EXPECT_EQ(d.as_int64(1), 1LL << 40);
}

TEST(Npy, MalformedArraysNameTheField) {
  auto err = [](const std::string& b) {
    try {
      parse_npy(b, "x", "up.npy");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(err("not numpy at all").find("bad magic"), std::string::npos);
  EXPECT_NE(err(npy_header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }") + "abcd").find("big-endian"), std::string::npos);
  EXPECT_NE(err(npy_header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }") + "abcd").find("fortran_order"), std::string::npos);
  EXPECT_NE(err(npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") + "abcd").find("needs 12 bytes"), std::string::npos);
  EXPECT_NE(err(npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }")).find("0-d"), std::string::npos);
  EXPECT_NE(err(npy_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }") + "abcdefgh").find("is not supported"),
            std::string::npos);
  EXPECT_NE(err(npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999,99999999), }")).find("too large"),
            std::string::npos);
}

TEST(Upload, JsonImagesGetBandsAndNamePathsOfBadValues) {
  UploadOptions o;
  auto j = nlohmann::json::parse(R"({"images": [[[[1, 2], [3, null]]]], "bands": ["G"], "ids": ["a"]})");
  Table t = table_from_json(j, o);
  ASSERT_EQ(t.rows(), 1);
  EXPECT_EQ(t.at(mmu::kImageArray).shape, std::vector<int64_t>({1, 2, 2}));
  EXPECT_TRUE(std::isnan(t.at(mmu::kImageArray).ptr<float>()[3]));  // null: a missing pixel
  EXPECT_EQ(t.at(mmu::kImageBand).strings[0], "G");
  EXPECT_EQ(t.at(mmu::kObjectId).strings[0], "a");
  auto bad = nlohmann::json::parse(R"({"images": [[[[1, 2], [3]]]], "bands": ["G"]})");
  try {
    table_from_json(bad, o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("images[0][0][1]"), std::string::npos) << e.what();
  }
  auto nobands = nlohmann::json::parse(R"({"images": [[[[1]]]]})");
  EXPECT_FALSE(table_from_json(nobands, o).has(mmu::kImageBand));  // the model decides what unnamed bands are
  auto badbands = nlohmann::json::parse(R"({"images": [[[[1]]]], "bands": ["G", "R"]})");
  EXPECT_THROW(table_from_json(badbands, o), InputError);
  o.max_objects = 1;
  auto many = nlohmann::json::parse(R"({"spectra": [[1, 2], [3, 4]]})");
  EXPECT_THROW(table_from_json(many, o), InputError);
}

TEST(Upload, NpyImagesAndSpectraAndUnknownTypes) {
  UploadOptions o;
  o.bands = {"G", "R"};
  std::vector<float> img(2 * 4 * 4, 0.5f);
  Table t = parse_upload(npy_bytes(img.data(), {2, 4, 4}), "application/x-npy", o);  // one image [B, H, W]
  EXPECT_EQ(t.rows(), 1);
  EXPECT_EQ(t.at(mmu::kImageBand).strings, std::vector<std::string>({"G", "R"}));
  o.modality = "spectrum";
  Table s = parse_upload(npy_bytes(img.data(), {4, 8}), "application/x-npy", o);
  EXPECT_EQ(s.at(mmu::kSpectrumFlux).rows, 4);
  EXPECT_THROW(parse_upload("x", "text/plain", o), InputError);
  EXPECT_THROW(parse_upload("", "application/json", o), InputError);
}

TEST(VoTable, EscapesAndTypesFieldsForConeSearch) {
  Table t;
  t.add(make_string_column("object_id", {"a<&>\"b"}));
  t.add(make_column<double>("ra", {1.5}));
  t.add(make_column<int64_t>("n", {-3}));
  std::vector<serve::VoField> f = {{"object_id", "char", "*", "ID_MAIN", "", ""}, {"ra", "double", "", "POS_EQ_RA_MAIN", "deg", ""}};
  serve::VoField n;
  ASSERT_TRUE(serve::vo_field_of(t.at("n"), &n));
  EXPECT_EQ(n.datatype, "long");
  f.push_back(n);
  std::string x = serve::votable_results("d", f, &t, false);
  EXPECT_NE(x.find("<TD>a&lt;&amp;&gt;&quot;b</TD><TD>1.5</TD><TD>-3</TD>"), std::string::npos) << x;
  EXPECT_NE(x.find("ucd=\"ID_MAIN\""), std::string::npos);
  EXPECT_NE(serve::votable_error("bad <RA>").find("name=\"Error\" value=\"bad &lt;RA&gt;\""), std::string::npos);
}

}  // namespace
}  // namespace astrofm

namespace astrofm {
namespace {

// The SAX reader of request bodies gives what the DOM reader gives, and
// names the same places in its errors.
TEST(Upload, JsonRequestsReadInOnePassMatchTheDom) {
  UploadOptions o;
  const std::string body =
      R"({"model": "m", "images": [[[[1, 2.5], [3, null]]], [[[-4, 5], [6e3, 7]]]], "bands": ["G"], "ids": ["a", "b"], "k": 3})";
  Table dom = table_from_json(nlohmann::json::parse(body), o);
  JsonRequest r = parse_json_request(body, o);
  EXPECT_EQ(r.rest["model"], "m");
  EXPECT_EQ(r.rest["k"], 3);
  EXPECT_FALSE(r.rest.contains("images"));  // streamed, not in the DOM
  Table sax = table_from_json(std::move(r), o);
  ASSERT_EQ(sax.names(), dom.names());
  const auto& a = sax.at(mmu::kImageArray);
  const auto& b = dom.at(mmu::kImageArray);
  EXPECT_EQ(a.shape, b.shape);
  ASSERT_EQ(a.rows, 2);
  for (int64_t i = 0; i < 8; ++i) {
    float x = a.ptr<float>()[i], y = b.ptr<float>()[i];
    EXPECT_TRUE(x == y || (std::isnan(x) && std::isnan(y))) << i;
  }
  EXPECT_EQ(sax.at(mmu::kObjectId).strings, dom.at(mmu::kObjectId).strings);
  auto err = [&](const std::string& s) {
    try {
      table_from_json(parse_json_request(s, o), o);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(err(R"({"images": [[[[1, 2], [3]]]]})").find("images[0][0][1]"), std::string::npos) << err(R"({"images": [[[[1, 2], [3]]]]})");
  EXPECT_NE(err(R"({"images": [[[[1, "x"]]]]})").find("images[0][0][0][1]"), std::string::npos);
  EXPECT_NE(err(R"({"images": [[[[1], [[2]]]]]})").find("images[0][0][1]"), std::string::npos);
  EXPECT_NE(err(R"({"images": []})").find("empty array"), std::string::npos);
  EXPECT_NE(err(R"({"images": 5})").find("nested arrays"), std::string::npos);
  EXPECT_NE(err(R"({"spectra": [[1, 2]], "images": [[1]]})").find("4 nested arrays"), std::string::npos);
  EXPECT_NE(err(R"({"images": [[[[1]]]])").find("not valid JSON"), std::string::npos);
  EXPECT_NE(err(R"([1, 2])").find("JSON object"), std::string::npos);
  o.max_objects = 1;
  EXPECT_NE(err(R"({"spectra": [[1, 2], [3, 4]]})").find("limit is 1"), std::string::npos);
}

}  // namespace
}  // namespace astrofm
