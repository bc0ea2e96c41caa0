// The architecture table: every registered architecture builds from its
// default config, round-trips through a model file bit-identically, and
// embeds a two-row table through the Encoder.
#include <gtest/gtest.h>

#include "astrofm/encoder.h"
#include "astrofm/mmu.h"
#include "astrofm/model_file.h"
#include "astrofm/models/architecture.h"
#include "astrofm/models/cnn.h"
#include "astrofm/models/registry.h"
#include "testutil.h"

namespace astrofm {
namespace {
using namespace astrofm::models;

Table two_rows() {
  Table t;
  t.add(make_string_column(mmu::kObjectId, {"a", "b"}));
  std::vector<float> img(2 * 3 * 72 * 72);
  for (size_t i = 0; i < img.size(); ++i) img[i] = 0.01f * static_cast<float>((i * 7919) % 101) - 0.2f;
  t.add(make_column(mmu::kImageArray, img, {3, 72, 72}));
  t.add(make_string_column(mmu::kImageBand, {"DES-Z", "DES-G", "DES-R", "DES-G", "DES-R", "DES-Z"}, {3}));
  std::vector<float> spec(2 * 500);
  for (size_t i = 0; i < spec.size(); ++i) spec[i] = 3.0f + static_cast<float>((i * 31) % 17) * 0.1f;
  t.add(make_column(mmu::kSpectrumFlux, spec, {500}));
  // Codec tokens for AION models (the default config's modalities): an image, a missing scalar.
  std::vector<int32_t> img_tok(2 * 256), z_tok = {17, -1};
  for (size_t i = 0; i < img_tok.size(); ++i) img_tok[i] = static_cast<int32_t>((i * 37) % 4375);
  t.add(make_column(std::string("tok_image"), img_tok, {256}));
  t.add(make_column(std::string("tok_Z"), z_tok, {1}));
  return t;
}

TEST(Architectures, EveryOneBuildsSavesReloadsAndEmbeds) {
  test::TempDir tmp;
  const auto& table = architecture_table();
  ASSERT_GE(table.names().size(), 5u);
  for (const auto& name : table.names()) {
    SCOPED_TRACE(name);
    const Architecture& a = table.at(name);
    nlohmann::json cfg = a.default_config();
    if (name == "specformer" || name == "astroclip") {  // CPU-test sizes
      auto& s = name == "astroclip" ? cfg["spectrum"] : cfg;
      s["embed_dim"] = 32, s["num_layers"] = 1, s["num_heads"] = 2;
    }
    torch::manual_seed(3);
    auto m = build_model(name, cfg);
    m->eval();
    std::string path = tmp.path(name + ".afm");
    save_model(path, *m, {{"architecture", name}, {"config", cfg}, {"name", name}, {"preprocessing", a.preprocessing(cfg)}});
    auto mf = ModelFile::read(path);
    EXPECT_EQ(mf.format(), 2);
    auto state = state_of(*m);
    ASSERT_EQ(mf.tensors.size(), state.size());
    for (const auto& t : mf.tensors) {
      auto want = state.at(t.name).contiguous();
      auto got = from_stored(t);
      ASSERT_TRUE(torch::equal(got, want.to(got.dtype()))) << t.name;
    }
    Encoder enc(path);
    Table e = enc.embed(two_rows(), /*tokens=*/true);
    for (const auto& mod : a.modalities) {
      const Column& c = e.at("embedding_" + mod);
      EXPECT_EQ(c.rows, 2);
      EXPECT_EQ(c.shape.size(), 1u);
      for (float v : c.values<float>()) ASSERT_TRUE(std::isfinite(v));
      EXPECT_EQ(e.at("tokens_" + mod).shape.size(), 2u);
    }
    // The reloaded model embeds exactly like the in-memory one.
    Encoder again(path);
    Table e2 = again.embed(two_rows());
    for (const auto& mod : a.modalities) EXPECT_EQ(e2.at("embedding_" + mod).data, e.at("embedding_" + mod).data);
  }
}

// Inference folds batch norms into the convolutions (channels-last, in place):
// the same embeddings as the modules, and the folded weights follow changes.
TEST(Cnn, FoldedInferenceMatchesTheModules) {
  torch::manual_seed(3);
  models::Cnn m(models::CnnConfig{.img_size = 32, .widths = {8, 16, 32}});
  auto x = torch::rand({6, 3, 32, 32});
  m->train();
  for (int i = 0; i < 3; ++i) m->forward(torch::rand({8, 3, 32, 32}) * 3);  // running statistics away from 0 and 1
  m->eval();
  auto plain = m->forward(x).detach();  // gradients enabled: the modules
  torch::Tensor folded;
  {
    torch::NoGradGuard ng;
    folded = m->forward(x);
  }
  EXPECT_TRUE(torch::allclose(folded, plain, 1e-4, 1e-5)) << (folded - plain).abs().max().item<float>();
  // A changed weight is seen by the next inference.
  {
    torch::NoGradGuard ng;
    m->stem->weight.mul_(2);
    auto again = m->forward(x);
    EXPECT_FALSE(torch::allclose(again, folded, 1e-3, 1e-4));
  }
  EXPECT_TRUE(torch::allclose(m->forward(x).detach(), [&] {
    torch::NoGradGuard ng;
    return m->forward(x);
  }(), 1e-4, 1e-5));
}

TEST(Architectures, UnknownNameIsNotFound) {
  try {
    build_model("resnet-9000", nlohmann::json::object());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_NE(std::string(e.what()).find("known: "), std::string::npos);
  }
}

TEST(Encoder, BandOrderComesFromImageBand) {
  // The same pixels with the bands listed in another order embed identically.
  test::TempDir tmp;
  auto m = build_model("cnn", architecture_table().at("cnn").default_config());
  std::string path = tmp.path("c.afm");
  save_model(path, *m, {{"architecture", "cnn"}, {"config", architecture_table().at("cnn").default_config()}});
  Encoder enc(path);
  Table a = two_rows();
  Table b = a.slice(0, 1);
  // row 0 is z, g, r: reorder its planes to g, r, z and say so.
  Column& img = b.at(mmu::kImageArray);
  std::vector<float> planes(img.values<float>().begin(), img.values<float>().end());
  size_t plane = 72 * 72;
  std::vector<float> re(planes.size());
  std::copy(planes.begin() + plane, planes.begin() + 2 * plane, re.begin());
  std::copy(planes.begin() + 2 * plane, planes.begin() + 3 * plane, re.begin() + plane);
  std::copy(planes.begin(), planes.begin() + plane, re.begin() + 2 * plane);
  std::memcpy(img.data.data(), re.data(), re.size() * 4);
  b.at(mmu::kImageBand).strings = {"DES-G", "DES-R", "DES-Z"};
  auto ea = enc.embed(a.slice(0, 1)).at("embedding_image").data, eb = enc.embed(b).at("embedding_image").data;
  EXPECT_EQ(ea, eb);
  // A band the stretch needs is missing: one clear error.
  b.at(mmu::kImageBand).strings = {"DES-G", "DES-R", "DES-I"};
  try {
    enc.embed(b);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("DES-Z"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace astrofm
