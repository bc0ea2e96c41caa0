// The AION network's training paths: the selected-target decoder agrees with
// the full decoder, and scalar embeddings start ordered; a sequence input
// (AION's catalog) embeds by the entries present, wherever its gaps are.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "astrofm/error.h"
#include "astrofm/models/aion.h"
#include "astrofm/models/architecture.h"
#include "astrofm/models/registry.h"
#include "testutil.h"

namespace astrofm::models {
namespace {

AionConfig tiny() {
  AionConfig c;
  c.dim = 32, c.encoder_depth = 2, c.decoder_depth = 2, c.num_heads = 4, c.mlp_hidden = 48;
  c.modalities = {{"tok_image", "tok_image", 50, 16, 4, 4, 1}, {"tok_Z", "tok_Z", 64, 1, 1, 1, 2}, {"tok_FLUX_G", "tok_FLUX_G", 64, 1, 1, 1, 3}};
  return c;
}

TEST(AionNet, SelectedTargetDecoderMatchesTheFullDecoder) {
  torch::manual_seed(1);
  Aion net(tiny());
  net->eval();
  torch::NoGradGuard ng;
  const int64_t B = 3;
  AionInputs in;
  in.tokens = {{"tok_FLUX_G", torch::randint(0, 64, {B, 1}, torch::kLong)}, {"tok_Z", torch::randint(0, 64, {B, 1}, torch::kLong)}};
  auto enc = net->encode(in, 8);
  // Every image token selected, a decoder budget that holds them all: the same logits.
  auto full = net->decode(enc, {"tok_image"})[0];
  auto sel = net->decode_selected(enc, {"tok_image"}, {torch::ones({B, 16}, torch::kBool)}, 16);
  ASSERT_EQ(sel[0].second.numel(), B * 16);
  EXPECT_TRUE(torch::allclose(sel[0].first, full.reshape({B * 16, -1}).index_select(0, sel[0].second), 1e-5, 1e-5));
  // Few selected tokens of two modalities: each scalar target's logits are the
  // full decoder's (within-modality self-attention: a lone token attends to itself).
  auto pick = torch::zeros({B, 16}, torch::kBool);
  pick[0][3] = true, pick[2][7] = true, pick[2][9] = true;
  auto two = net->decode_selected(enc, {"tok_image", "tok_Z"}, {pick, torch::ones({B, 1}, torch::kBool)}, 4);
  EXPECT_EQ(two[0].second.numel(), 3);
  EXPECT_EQ(two[0].second[1].item<int64_t>(), 2 * 16 + 7);
  auto z = net->decode(enc, {"tok_Z"})[0].reshape({B, -1});
  EXPECT_TRUE(torch::allclose(two[1].first, z, 1e-5, 1e-5));
  // A budget of one token per object: only the first selected of each is decoded.
  auto one = net->decode_selected(enc, {"tok_image"}, {pick}, 1);
  EXPECT_EQ(one[0].second.numel(), 2);
}

TEST(AionNet, ScalarEmbeddingsStartOrderedAndConvertedModelsCanOptOut) {
  torch::manual_seed(2);
  Aion net(tiny());
  torch::Tensor w;
  for (const auto& p : net->named_parameters())
    if (p.key() == "encoder_embeddings.tok_Z.token_emb.weight") w = p.value().detach();
  ASSERT_TRUE(w.defined());
  auto cos = [&](int64_t a, int64_t b) { return torch::cosine_similarity(w[a], w[b], 0).item<double>(); };
  EXPECT_GT(cos(20, 21), 0.7);  // neighbouring bins alike
  EXPECT_LT(cos(20, 52), 0.3);  // distant ones not
  auto c = tiny();
  c.ordinal_scalar_init = false;
  Aion plain(c);
  for (const auto& p : plain->named_parameters()) {
    if (p.key() == "encoder_embeddings.tok_Z.token_emb.weight") {
      EXPECT_LT(torch::cosine_similarity(p.value()[20], p.value()[21], 0).item<double>(), 0.7);
    }
  }
  EXPECT_EQ(AionConfig::from_json(c.to_json()).ordinal_scalar_init, false);
}

TEST(AionNet, Float16StorageHalvesTheFileAndKeepsTheOutputs) {
  test::TempDir tmp;
  torch::manual_seed(3);
  Aion net(tiny());
  net->eval();
  const std::string f32 = tmp.path() + "/a.afm", f16 = tmp.path() + "/a16.afm";
  save_model(f32, *net, {{"architecture", "aion"}, {"config", net->config().to_json()}});
  store_float16(f32, f16);
  EXPECT_LT(std::filesystem::file_size(f16), 0.6 * std::filesystem::file_size(f32));
  auto lm = load_model(f16);
  auto& back = dynamic_cast<AionImpl&>(*lm.module);
  back.eval();
  torch::NoGradGuard ng;
  AionInputs in;
  in.tokens = {{"tok_image", torch::randint(0, 50, {2, 16}, torch::kLong)}};
  auto a = net->decode(net->encode(in, 16), {"tok_Z"})[0], b = back.decode(back.encode(in, 16), {"tok_Z"})[0];
  EXPECT_EQ(b.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(a, b, 2e-2, 2e-2)) << (a - b).abs().max().item<double>();
  EXPECT_THROW(store_float16(f16, tmp.path() + "/again.afm"), InputError);  // already half
}

// AION's catalog as 4M reads it: positions count the entries present, so a
// list with gaps embeds as the same list closed up; the joint embedding is
// the mean over the tokens given, so the empty slots change nothing either;
// codec token k is k + vocab_offset; the catalog cannot be a target.
TEST(AionNet, SequenceInputsCountPositionsOverTheEntriesPresent) {
  torch::manual_seed(2);
  AionConfig c = tiny();
  AionModality cat{"catalog", "tok_catalog", 40, 8, 12, 1, 4};
  cat.sequence = true, cat.vocab_offset = 4;
  c.modalities.push_back(cat);
  ASSERT_TRUE(AionConfig::from_json(c.to_json()).modality("catalog").sequence);
  Aion net(c);
  net->eval();
  torch::NoGradGuard ng;
  Table b;
  b.add(make_column<int32_t>("tok_catalog", {5, 9, -1, -1, 30, -1, 2, -1,    // gaps between entries
                                             5, 9, 30, 2, -1, -1, -1, -1},  // the same entries, closed up
                             {8}));
  b.add(make_column<int32_t>("tok_Z", {7, 7}, {1}));
  const auto& arch = architecture_table().at("aion");
  auto e = arch.embed_joint(*net, b, /*tokens=*/false, "test").embedding;
  EXPECT_TRUE(torch::allclose(e[0], e[1], 1e-5, 1e-5)) << (e[0] - e[1]).abs().max().item<float>();
  // Token 36 + offset 4 is past the 40-value vocabulary: refused by name.
  AionInputs bad;
  bad.tokens = {{"catalog", torch::full({1, 8}, 36, torch::kLong)}};
  EXPECT_THROW(net->encode(bad, 8), InputError);
  AionInputs in;
  in.tokens = {{"tok_Z", torch::zeros({1, 1}, torch::kLong)}};
  try {
    net->decode(net->encode(in, 1), {"catalog"});
    ADD_FAILURE() << "the catalog decoded";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("input only"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace astrofm::models
