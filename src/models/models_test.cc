// Parity with an independent PyTorch reference (Debian's python3-torch) of the
// same architectures, random weights, AstroCLIP parameter names; and the
// model file's guards.
#include <fstream>
#include <sstream>

#include "astrofm/encoder.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/architecture.h"
#include "astrofm/models/astroclip.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "testutil.h"

namespace astrofm::models {
namespace {

torch::Tensor load_bin(const std::string& path, const std::vector<int64_t>& shape) {
  std::ifstream in(path, std::ios::binary);
  auto t = torch::empty(shape, torch::kFloat32);
  in.read(reinterpret_cast<char*>(t.data_ptr<float>()), t.numel() * 4);
  EXPECT_TRUE(in.good()) << path;
  return t;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

class Parity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::python_has("torch")) return;
    dir_ = new test::TempDir();
    test::run_python(test::read_source("tests/python/astroclip_reference.py"), dir_->path());
    manifest_ = nlohmann::json::parse(std::ifstream(dir_->path("manifest.json")));
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override { ASTROFM_REQUIRE_PYTHON("torch"); }
  torch::Tensor out(const std::string& k) { return load_bin(dir_->path(k + ".bin"), manifest_["outputs"][k]); }
  torch::Tensor in(const std::string& k) { return load_bin(dir_->path(k + ".bin"), manifest_["inputs"][k]); }
  static test::TempDir* dir_;
  static nlohmann::json manifest_;
};
test::TempDir* Parity::dir_ = nullptr;
nlohmann::json Parity::manifest_;

TEST_F(Parity, PreprocessingMatchesAstroClip) {
  EXPECT_LT(max_diff(astroclip_image_input(in("flux"), 24, {}, /*swap_axes=*/false), out("image_input")), 1e-6);
  SpecFormerConfig c;
  EXPECT_LT(max_diff(specformer_preprocess(in("spectra"), c), out("spectrum_tokens")), 1e-5);
}

TEST_F(Parity, AstroClipEmbeddingsFromALightningCheckpoint) {
  std::string model = dir_->path("astroclip.afm");
  auto meta = convert_checkpoint(dir_->path("astroclip.ckpt"), "astroclip", model);
  EXPECT_EQ(meta["config"]["image"]["num_heads"], 4);
  auto lm = load_model(model);
  auto clip = std::dynamic_pointer_cast<AstroClipImpl>(lm.module);
  ASSERT_TRUE(clip);
  torch::NoGradGuard ng;
  auto img = clip->image_encoder->forward(out("image_input"));
  auto spec = clip->spectrum_encoder->forward(out("spectrum_tokens"));
  EXPECT_LT(max_diff(img, out("image_embedding")), 1e-5);
  EXPECT_LT(max_diff(spec, out("spectrum_embedding")), 1e-5);
}

// AstroCLIP's released checkpoint taken as it is by --model: kind read off its
// tensor names, converted in memory, the same embeddings as the converted file.
TEST_F(Parity, AstroClipCheckpointOpensDirectlyAsAModel) {
  auto lm = load_model(dir_->path("astroclip.ckpt"));
  EXPECT_EQ(lm.architecture, "astroclip");
  EXPECT_EQ(lm.meta["provenance"]["kind"], "astroclip");
  auto clip = std::dynamic_pointer_cast<AstroClipImpl>(lm.module);
  ASSERT_TRUE(clip);
  torch::NoGradGuard ng;
  EXPECT_LT(max_diff(clip->image_encoder->forward(out("image_input")), out("image_embedding")), 1e-5);
  EXPECT_LT(max_diff(clip->spectrum_encoder->forward(out("spectrum_tokens")), out("spectrum_embedding")), 1e-5);
  // A plain state dict does not say its head count: refused rather than guessed.
  try {
    load_model(dir_->path("specformer.pt"));
    ADD_FAILURE() << "a checkpoint without its head count loaded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--kind specformer --set num_heads=N"), std::string::npos) << e.what();
  }
}

TEST_F(Parity, SpecFormerFromAPlainStateDict) {
  std::string model = dir_->path("specformer.afm");
  convert_checkpoint(dir_->path("specformer.pt"), "specformer", model, {{"num_heads", 3}});
  auto lm = load_model(model);
  auto sf = std::dynamic_pointer_cast<SpecFormerImpl>(lm.module);
  ASSERT_TRUE(sf);
  torch::NoGradGuard ng;
  EXPECT_LT(max_diff(sf->forward_tokens(out("spectrum_tokens")), out("specformer_tokens")), 1e-5);
}

// An AstroDINO checkpoint converted to a ViT whose class token matches the reference.
void expect_astrodino_converts(const std::string& checkpoint, const std::string& model, const torch::Tensor& input,
                               const torch::Tensor& cls) {
  convert_checkpoint(checkpoint, "astrodino", model, {{"num_heads", 4}});
  auto lm = load_model(model);
  auto vit = std::dynamic_pointer_cast<ViTImpl>(lm.module);
  ASSERT_TRUE(vit);
  torch::NoGradGuard ng;
  EXPECT_LT(max_diff(vit->forward(input), cls), 1e-5);
  EXPECT_EQ(lm.meta["preprocessing"]["image"]["swap_axes"], false);
}

TEST_F(Parity, AstroDinoBackboneWithChunkedBlocks) {
  expect_astrodino_converts(dir_->path("astrodino.ckpt"), dir_->path("dino.afm"), out("image_input"), out("vit_cls"));
}

TEST_F(Parity, AstroDinoTeacherCheckpoint) {
  // torch.save({"teacher": teacher.state_dict()}), as AstroCLIP's trainer writes it.
  expect_astrodino_converts(dir_->path("teacher_checkpoint.pth"), dir_->path("teacher.afm"), out("image_input"), out("vit_cls"));
}

TEST_F(Parity, EncoderFromMmuCutoutsMatchesAstroClip) {
  // The whole path a user takes: MMU [N, C, H, W] flux with band names ->
  // recorded preprocessing -> the converted model.
  std::string model = dir_->path("astroclip_enc.afm");
  convert_checkpoint(dir_->path("astroclip.ckpt"), "astroclip", model);
  Encoder enc(model);
  auto flux = in("flux").contiguous();
  Table t;
  Column img(mmu::kImageArray, DType::Float32, {3, 30, 30}, flux.size(0));
  std::memcpy(img.data.data(), flux.data_ptr<float>(), img.data.size());
  t.add(img);
  std::vector<std::string> bands;
  for (int64_t i = 0; i < flux.size(0); ++i) bands.insert(bands.end(), {"DES-G", "DES-R", "DES-Z"});
  t.add(make_string_column(mmu::kImageBand, bands, {3}));
  Table e = enc.embed(t);
  const Column& c = e.at("embedding_image");
  auto got = torch::from_blob(const_cast<uint8_t*>(c.data.data()), {c.rows, c.shape[0]}, torch::kFloat32);
  EXPECT_LT(max_diff(got, out("image_embedding")), 1e-5);
}

TEST(Preprocess, CenterCropRoundsLikeTorchvision) {
  // Python's round-half-to-even on (H - size) / 2, computed by Python itself.
  std::string code = "print(' '.join(str(int(round((H - s) / 2.0))) for H in range(1, 121) for s in range(1, H + 1)))";
  std::string want = test::run_python(code);
  std::istringstream in(want);
  for (int64_t H = 1; H <= 120; ++H)
    for (int64_t s = 1; s <= H; ++s) {
      int64_t w;
      ASSERT_TRUE(in >> w);
      ASSERT_EQ(crop_offset(H, s), w) << H << " -> " << s;
    }
}

TEST_F(Parity, WrongKindIsAClearError) {
  try {
    convert_checkpoint(dir_->path("specformer.pt"), "astroclip", dir_->path("x.afm"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("image_encoder"), std::string::npos) << e.what();
  }
}

TEST(ModelFile, RoundTripAndCorruption) {
  test::TempDir tmp;
  ViTConfig c;
  c.img_size = 16;
  c.patch_size = 8;
  c.embed_dim = 16;
  c.depth = 1;
  c.num_heads = 2;
  ViT vit(c);
  std::string path = tmp.path("m.afm");
  save_model(path, *vit, {{"architecture", "vit"}, {"config", c.to_json()}, {"name", "tiny"}});
  auto meta = ModelFile::read_meta(path);
  EXPECT_EQ(meta["name"], "tiny");
  auto lm = load_model(path);
  auto x = torch::rand({2, 3, 16, 16});
  torch::NoGradGuard ng;
  vit->eval();
  EXPECT_LT(max_diff(std::dynamic_pointer_cast<ViTImpl>(lm.module)->forward(x), vit->forward(x)), 1e-7);
  // A flipped byte in the weights fails the checksum.
  std::string bytes = test::read_source_abs(path);
  bytes[bytes.size() - 10] ^= 0x55;
  std::ofstream(tmp.path("bad.afm"), std::ios::binary) << bytes;
  EXPECT_THROW(ModelFile::read(tmp.path("bad.afm")), InputError);
  std::ofstream(tmp.path("short.afm"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THROW(ModelFile::read(tmp.path("short.afm")), InputError);
  std::ofstream(tmp.path("junk.afm"), std::ios::binary) << "not a model";
  EXPECT_THROW(ModelFile::read(tmp.path("junk.afm")), InputError);
  // A config that does not match the weights.
  auto mf = ModelFile::read(path);
  mf.meta["config"]["embed_dim"] = 32;
  mf.write(tmp.path("mismatch.afm"));
  try {
    load_model(tmp.path("mismatch.afm"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("shape"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace astrofm::models
