// `astrofm tokenize`, `detokenize`, `codec eval` end to end with the shipped
// scalar codecs on the shipped BOSS sample, and their bad inputs.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "astrofm/fsutil.h"
#include "astrofm/mmu.h"
#include "astrofm/qp.h"
#include "testutil.h"

namespace astrofm {
namespace {

using test::run_cli;

TEST(CodecCli, TokenizeDetokenizeAndEvalWithTheShippedScalarCodecs) {
  test::TempDir tmp;
  auto r = run_cli("-q import csv " + test::sample_dir() + "/boss_dr10_photoz/galaxies.csv --config boss --out " + tmp.path("boss"));
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_cli("-q tokenize --codecs codecs-scalar --data " + tmp.path("boss") + " --out " + tmp.path("tok"));
  ASSERT_EQ(r.rc, 0) << r.out;
  Table t = read_table(tmp.path("tok"));
  for (const char* c : {"tok_mag_u", "tok_mag_r", "tok_z"}) {
    ASSERT_TRUE(t.has(c)) << c;
    EXPECT_EQ(t.at(c).dtype, DType::Int32);
  }
  EXPECT_FALSE(t.has("tok_FLUX_G"));  // not in this catalogue
  r = run_cli("-q detokenize --codecs codecs-scalar --data " + tmp.path("tok") + " --out " + tmp.path("back"));
  ASSERT_EQ(r.rc, 0) << r.out;
  Table src = read_table(tmp.path("boss")), back = read_table(tmp.path("back"));
  ASSERT_EQ(back.rows(), src.rows());
  int64_t close = 0;
  for (int64_t i = 0; i < src.rows(); ++i) close += std::abs(back.at("mag_r").as_double(i) - src.at("mag_r").as_double(i)) < 0.02;
  EXPECT_GT(close, src.rows() * 9 / 10);
  r = run_cli("-q codec eval --codecs codecs-scalar --data " + tmp.path("boss") + " --report " + tmp.path("rep"));
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(read_file(tmp.path("rep/metrics.json")));
  EXPECT_LE(j["modalities"]["mag_r"]["max_error_over_bin_width"].get<double>(), 1.0 + 1e-6);
  EXPECT_LE(j["modalities"]["z"]["max_error_over_bin_width"].get<double>(), 1.0 + 1e-6);
}

TEST(CodecCli, BadInputsAreOneMessageAndExitOne) {
  test::TempDir tmp;
  ASSERT_EQ(run_cli("-q import csv " + test::sample_dir() + "/boss_dr10_photoz/galaxies.csv --config boss --out " + tmp.path("boss")).rc, 0);
  // An encoder model is not a codec file.
  auto r = run_cli("-q tokenize --codecs galaxy-cnn-ssl --data " + tmp.path("boss") + " --out " + tmp.path("x"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("galaxy-cnn-ssl.afm: a model file (an encoder or transformer: --model), not a codecs or bundle"), std::string::npos) << r.out;
  // Codecs of modalities the data does not hold.
  r = run_cli("-q tokenize --codecs codecs-scalar --modalities image --data " + tmp.path("boss") + " --out " + tmp.path("y"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("no codec for modality 'image'"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path("y")));
  // An unknown codec kind to convert.
  r = run_cli("-q convert " + tmp.path("none.pt") + " --kind aion-codec-catalog --out " + tmp.path("z.afm"));
  EXPECT_NE(r.rc, 0) << r.out;
}

}  // namespace
}  // namespace astrofm

namespace astrofm {
namespace {

TEST(GenerateCli, BadInputsNameTheModalityOrFileAndLeaveNoOutput) {
  test::TempDir tmp;
  ASSERT_EQ(run_cli("-q import csv " + test::sample_dir() + "/boss_dr10_photoz/galaxies.csv --config boss --out " + tmp.path("boss")).rc, 0);
  ASSERT_EQ(run_cli("-q tokenize --codecs codecs-scalar --data " + tmp.path("boss") + " --out " + tmp.path("tok")).rc, 0);
  // A tiny AION model of the simulated catalogue's modalities (fluxes, shapes, Z), not BOSS's magnitudes.
  ASSERT_EQ(run_cli("-q simulate --objects 30 --no-images --no-spectra --out " + tmp.path("cat")).rc, 0);
  ASSERT_EQ(run_cli("-q tokenize --codecs codecs-scalar --data " + tmp.path("cat") + " --out " + tmp.path("cat_tok")).rc, 0);
  std::ofstream(tmp.path("aion.json")) << R"({"model": {"dim": 16, "encoder_depth": 1, "decoder_depth": 1, "num_heads": 2, "mlp_hidden": 32},
      "steps": 2, "batch": 4, "val_every": 2, "checkpoint_every": 2})";
  auto t = run_cli("-q train aion --codecs codecs-scalar --data " + tmp.path("cat_tok") + " --config " + tmp.path("aion.json") + " --out " +
                   tmp.path("aion.afm"));
  ASSERT_EQ(t.rc, 0) << t.out;
  const std::string model = tmp.path("aion.afm");
  auto r = run_cli("-q generate --model " + model + " --codecs codecs-scalar --data " + tmp.path("tok") + " --from mag_r --to Z --out " + tmp.path("g1"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("no modality 'tok_mag_r'"), std::string::npos) << r.out;
  r = run_cli("-q generate --model " + model + " --codecs codecs-scalar --data " + tmp.path("tok") + " --to Z --out " + tmp.path("g2"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("none of the model's modalities"), std::string::npos) << r.out;
  r = run_cli("-q generate --model galaxy-cnn-ssl --codecs codecs-scalar --data " + tmp.path("tok") + " --to Z --out " + tmp.path("g3"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("needs an AION model"), std::string::npos) << r.out;
  // A codec that does not match the model's modality.
  r = run_cli("-q generate --model " + model + " --codecs codec-image --data " + tmp.path("tok") + " --to Z --out " + tmp.path("g4"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("no codec for modality 'Z'"), std::string::npos) << r.out;
  for (const char* g : {"g1", "g2", "g3", "g4"}) EXPECT_FALSE(std::filesystem::exists(tmp.path(g))) << g;
  // Embeddings of an input subset differ from those of every input; a token column the model does not read there is an error.
  ASSERT_EQ(run_cli("-q embed --model " + model + " --data " + tmp.path("cat_tok") + " --out " + tmp.path("e_all")).rc, 0);
  ASSERT_EQ(run_cli("-q embed --model " + model + " --data " + tmp.path("cat_tok") + " --inputs tok_FLUX_G,tok_FLUX_R --out " + tmp.path("e_gr")).rc, 0);
  EXPECT_NE(read_table(tmp.path("e_all")).at("embedding_aion").data, read_table(tmp.path("e_gr")).at("embedding_aion").data);
  r = run_cli("-q embed --model " + model + " --data " + tmp.path("cat_tok") + " --inputs tok_mag_r --out " + tmp.path("e_bad"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("--inputs tok_mag_r: not an input of the model in this dataset"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path("e_bad")));
}

TEST(GenerateCli, ShippedAionModelGivesCalibratedRedshiftsOfRealBossGalaxiesItNeverSaw) {
  // The sample is the first 2,000 rows of the BOSS set whose train split the
  // shipped model saw; its fixed test split (405 galaxies) was never trained on.
  test::TempDir tmp;
  ASSERT_EQ(run_cli("-q import csv " + test::sample_dir() + "/boss_dr10_photoz/galaxies.csv --config boss --out " + tmp.path("boss")).rc, 0);
  ASSERT_EQ(run_cli("-q tokenize --codecs codecs-scalar --data " + tmp.path("boss") + " --split test --out " + tmp.path("tok")).rc, 0);
  auto r = run_cli("-q generate --model aion-default --codecs codecs-scalar --data " + tmp.path("tok") +
                   " --from mag_u,mag_g,mag_r,mag_i,mag_z --to z --out " + tmp.path("z") + " --report " + tmp.path("rep") +
                   " --qp " + tmp.path("z_qp.hdf5"));
  ASSERT_EQ(r.rc, 0) << r.out;
  // The same distributions as a qp hist ensemble over the codec's bins, one per object.
  auto q = read_qp(tmp.path("z_qp.hdf5"));
  EXPECT_EQ(q.kind, "hist");
  EXPECT_EQ(q.n, 405);
  for (int64_t i = 0; i < 3; ++i) {
    double mass = 0;
    for (int64_t k = 0; k < q.bins(); ++k) mass += q.y[i * q.bins() + k] * (q.x[k + 1] - q.x[k]);
    EXPECT_NEAR(mass, 1, 1e-6);
  }
  auto m = nlohmann::json::parse(read_file(tmp.path("rep/metrics.json")));
  EXPECT_EQ(m["objects"], 405);
  // Measured: sigma_NMAD 0.045, eta(0.15) 0.015, R^2 0.83; PIT KS 0.046, coverage 0.73 / 0.985.
  EXPECT_LT(m["median"]["sigma_nmad"].get<double>(), 0.06);
  EXPECT_LT(m["median"]["eta_0.15"].get<double>(), 0.04);
  EXPECT_GT(m["median"]["r2"].get<double>(), 0.75);
  EXPECT_LT(m["pit_ks"].get<double>(), 0.1);
  EXPECT_GT(m["coverage_68"].get<double>(), 0.6);
  EXPECT_LT(m["coverage_68"].get<double>(), 0.85);
  EXPECT_GT(m["coverage_95"].get<double>(), 0.9);
}

}  // namespace
}  // namespace astrofm
