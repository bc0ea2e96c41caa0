#include "astrofm/embed.h"

#include "astrofm/models/astroclip.h"
#include "astrofm/models/registry.h"
#include "astrofm/sim.h"
#include "testutil.h"

namespace astrofm {
namespace {

using namespace astrofm::models;

std::string tiny_clip(const test::TempDir& tmp) {
  AstroClipConfig c;
  c.image.img_size = 32;
  c.image.patch_size = 8;
  c.image.embed_dim = 16;
  c.image.depth = 1;
  c.image.num_heads = 2;
  c.spectrum.embed_dim = 16;
  c.spectrum.num_layers = 1;
  c.spectrum.num_heads = 2;
  c.embed_dim = 8;
  c.heads = 2;
  c.mlp_hidden = 16;
  AstroClip m(c);
  std::string path = tmp.path("tiny.afm");
  save_model(path, *m, {{"architecture", "astroclip"}, {"config", c.to_json()}, {"name", "tiny-clip"},
                        {"preprocessing", {{"image", {{"kind", "legacysurvey_rgb"}, {"bands", {"DES-G", "DES-R", "DES-Z"}}}}}}});
  return path;
}

std::string simulated(const test::TempDir& tmp, int n) {
  SimOptions o;
  o.objects = n;
  o.image_size = 40;
  o.region = {10, 12, 0, 2};
  simulate_survey(tmp.path("sim"), o);
  return tmp.path("sim");
}

TEST(Embed, BothTowersOnASimulatedPairedSurvey) {
  test::TempDir tmp;
  std::string model = tiny_clip(tmp), data = simulated(tmp, 50);
  EmbedOptions o{.model = model, .data = data, .out = tmp.path("emb"), .batch = 16};
  auto r = embed_dataset(o);
  EXPECT_EQ(r.objects, 50);
  EXPECT_EQ(r.columns, (std::vector<std::string>{"embedding_image", "embedding_spectrum"}));
  Dataset ds = Dataset::open(tmp.path("emb"));
  EXPECT_EQ(ds.rows(), 50);
  DatasetReader rd(ds, {.columns = {"embedding_image", "model_id", mmu::kObjectId}});
  Table t;
  ASSERT_TRUE(rd.next(t));
  EXPECT_EQ(t.at("embedding_image").shape, std::vector<int64_t>{8});
  EXPECT_EQ(t.at("model_id").strings[0], "tiny-clip");
  // Same objects, same partitions as the input.
  EXPECT_EQ(ds.partitions().size(), Dataset::open(data).partitions().size());
}

TEST(Embed, TokensForAttentiveProbes) {
  test::TempDir tmp;
  std::string model = tiny_clip(tmp), data = simulated(tmp, 20);
  embed_dataset({.model = model, .data = data, .out = tmp.path("emb"), .batch = 8, .tokens = true});
  DatasetReader rd(Dataset::open(tmp.path("emb")), {.columns = {"tokens_image", "tokens_spectrum", "embedding_image"}});
  Table t;
  ASSERT_TRUE(rd.next(t));
  // ViT on 32x32 in patches of 8: the 16 tokens of width 16 its cross-attention head sees.
  EXPECT_EQ(t.at("tokens_image").shape, (std::vector<int64_t>{16, 16}));
  EXPECT_EQ(t.at("tokens_spectrum").shape.size(), 2u);
  EXPECT_EQ(t.at("tokens_spectrum").shape[1], 16);
}

TEST(Embed, FitsOutputReadsInAstropy) {
  ASTROFM_REQUIRE_PYTHON("astropy");
  test::TempDir tmp;
  std::string model = tiny_clip(tmp), data = simulated(tmp, 20);
  EmbedOptions o{.model = model, .data = data, .out = tmp.path("emb.fits"), .format = "fits"};
  embed_dataset(o);
  std::string got = test::run_python(R"(
import sys
from astropy.table import Table
t = Table.read(sys.argv[1], hdu="EMBEDDINGS")
print(len(t), t["embedding_image"].shape, t["embedding_spectrum"].shape, t["model_id"][0])
)", tmp.path("emb.fits"));
  EXPECT_NE(got.find("20 (20, 8) (20, 8) tiny-clip"), std::string::npos) << got;
}

TEST(Embed, ClearErrorsForUnusableInputs) {
  test::TempDir tmp;
  std::string model = tiny_clip(tmp);
  SimOptions o;
  o.objects = 5;
  o.image_size = 16;  // smaller than the model's 32-pixel crop
  o.spectra = false;
  simulate_survey(tmp.path("small"), o);
  EXPECT_THROW(embed_dataset({.model = model, .data = tmp.path("small"), .out = tmp.path("e1")}), InputError);
  EXPECT_THROW(embed_dataset({.model = "no-such-model", .data = tmp.path("small"), .out = tmp.path("e2")}), InputError);
  EXPECT_FALSE(std::filesystem::exists(tmp.path("e1")));
}

}  // namespace
}  // namespace astrofm
