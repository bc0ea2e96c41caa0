// `astrofm probe` end to end on the shipped sample: BOSS photo-z from
// magnitudes and colours, Galaxy Zoo classes joined from a labels CSV, the
// report and predictions files, and the bad inputs of the issue.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "astrofm/fsutil.h"
#include "astrofm/importers.h"
#include "astrofm/qp.h"
#include "testutil.h"

namespace astrofm {
namespace {

using test::run_cli;
namespace fs = std::filesystem;

std::string boss(const test::TempDir& tmp) {
  auto r = run_cli("-q import csv " + test::sample_dir() + "/boss_dr10_photoz/galaxies.csv --config boss --out " + tmp.path("boss"));
  EXPECT_EQ(r.rc, 0) << r.out;
  return tmp.path("boss");
}

const char* kFeatures = "mag_u,mag_g,mag_r,mag_i,mag_z,mag_u-mag_g,mag_g-mag_r,mag_r-mag_i,mag_i-mag_z";

TEST(ProbeCli, PhotoZFromColoursWithReportAndPredictions) {
  test::TempDir tmp;
  std::string data = boss(tmp);
  auto r = run_cli(fmt::format("-q probe knn --standardize --train {} --target z --features {} --json {} --out {} --report {}", data,
                               kFeatures, tmp.path("r.json"), tmp.path("pred.csv"), tmp.path("report")));
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(read_file(tmp.path("r.json")));
  EXPECT_EQ(j["task"], "regression");
  // 2,000 real BOSS galaxies: colours carry the redshift (sklearn's kNN gives
  // sigma_NMAD ~0.03 and R^2 ~0.75 at this size).
  EXPECT_GT(j["metrics"]["r2"].get<double>(), 0.6);
  EXPECT_LT(j["metrics"]["sigma_nmad"].get<double>(), 0.045);
  EXPECT_NEAR(j["test_scored"].get<double>(), 400, 60);  // the fixed 20% split
  std::ifstream pred(tmp.path("pred.csv"));
  std::string header;
  std::getline(pred, header);
  EXPECT_EQ(header, "object_id,ra,dec,true,predicted");
  for (const char* f : {"index.html", "vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "result.json"})
    EXPECT_TRUE(fs::exists(tmp.path("report") + "/" + f)) << f;
  for (const char* fig : {"Predicted against true z", "Scaled error against true z", "PIT histogram"})
    EXPECT_NE(read_file(tmp.path("report/index.html")).find(fig), std::string::npos) << fig;
  EXPECT_FALSE(fs::exists(tmp.path("report.partial")));
  // kNN predicts a distribution, its neighbours' redshifts: calibration and CRPS beside the point metrics.
  const auto& prob = j["metrics"]["probabilistic"];
  EXPECT_GT(prob["crps"].get<double>(), 0.005);
  EXPECT_LT(prob["crps"].get<double>(), 0.06);
  EXPECT_GT(prob["coverage_95"].get<double>(), 0.7);
  EXPECT_EQ(prob["objects"], j["test_scored"]);
  EXPECT_TRUE(j["curve"][0]["mean"].contains("crps"));
}

TEST(PhotozCli, FitPredictWithQpFileReportAndBadInputs) {
  test::TempDir tmp;
  std::string data = boss(tmp);
  const std::string bands = "--bands mag_u,mag_g,mag_r,mag_i,mag_z --errors magerr_u,magerr_g,magerr_r,magerr_i,magerr_z";
  auto r = run_cli(fmt::format("-q photoz fit --data {} {} --members 2 --epochs 40 --save {}", data, bands, tmp.path("pz.afm")));
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_cli(fmt::format("-q photoz predict {} --data {} --split test --out {} --qp {} --report {} --json {}", tmp.path("pz.afm"), data,
                          tmp.path("z"), tmp.path("z_qp.hdf5"), tmp.path("rep"), tmp.path("m.json")));
  ASSERT_EQ(r.rc, 0) << r.out;
  auto m = nlohmann::json::parse(read_file(tmp.path("m.json")));
  EXPECT_NEAR(m["objects"].get<double>(), 400, 60);  // the fixed 20% split
  EXPECT_LT(m["metrics"]["mode"]["sigma_nmad"].get<double>(), 0.035);
  EXPECT_LT(m["metrics"]["pit_ks"].get<double>(), 0.12);
  for (const char* f : {"index.html", "vega-embed.min.js", "metrics.json"}) EXPECT_TRUE(fs::exists(tmp.path("rep") + "/" + f)) << f;
  for (const char* fig : {"Predicted against true z", "PIT histogram"})
    EXPECT_NE(read_file(tmp.path("rep/index.html")).find(fig), std::string::npos) << fig;
  auto q = read_qp(tmp.path("z_qp.hdf5"));
  EXPECT_EQ(q.kind, "interp");
  EXPECT_EQ(q.n, m["objects"].get<int64_t>());
  EXPECT_EQ(q.x.size(), 301u);
  // Bad input: one message naming the problem, exit 1, nothing written.
  r = run_cli(fmt::format("-q photoz fit --data {} --bands mag_u,mag_y --save {}", data, tmp.path("bad.afm")));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("no column 'mag_y'"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(tmp.path("bad.afm")));
  r = run_cli(fmt::format("-q photoz fit --data {} {} --target zz --save {}", data, bands, tmp.path("bad.afm")));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("no redshift column 'zz'"), std::string::npos) << r.out;
  r = run_cli(fmt::format("-q photoz predict {} --data {} --qp {}", tmp.path("z_qp.hdf5"), data, tmp.path("q2.hdf5")));
  EXPECT_EQ(r.rc, 1) << r.out;  // not a model file
  EXPECT_FALSE(fs::exists(tmp.path("q2.hdf5")));
}

TEST(ProbeCli, LabelEfficiencyCurveFromALabelsCsv) {
  test::TempDir tmp;
  // Galaxy Zoo classes as a CSV joined on object_id; features: the catalogue's
  // own magnitudes stand in for an embedding here (any numeric columns work).
  std::string data = boss(tmp);
  Table t = read_csv_table(test::sample_dir() + "/boss_dr10_photoz/galaxies.csv");
  {
    std::ofstream csv(tmp.path("labels.csv"));
    csv << "object_id,redshift_class\n";
    const Column& z = t.at("z");
    // Ids as the importer generated them: <file stem>-<row>.
    for (int64_t i = 0; i < t.rows(); ++i) csv << "galaxies-" << i << "," << (z.as_double(i) < 0.4 ? "low" : z.as_double(i) < 0.55 ? "mid" : "high") << "\n";
  }
  auto r = run_cli(fmt::format("-q probe logistic --train {} --labels-csv {} --target redshift_class --features {} --curve 5,20,all "
                               "--repeats 3 --json - --report {}", data, tmp.path("labels.csv"), kFeatures, tmp.path("rep")));
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j["task"], "classification");
  EXPECT_EQ(j["classes"], nlohmann::json({"high", "low", "mid"}));
  ASSERT_EQ(j["curve"].size(), 3u);
  EXPECT_EQ(j["curve"][0]["runs"].size(), 3u);
  EXPECT_EQ(j["curve"][0]["runs"][0]["labels_used"], 15);  // 5 per class
  double f5 = j["curve"][0]["mean"]["macro_f1"], fall = j["curve"][2]["mean"]["macro_f1"];
  EXPECT_GT(fall, f5);     // more labels help
  EXPECT_GT(fall, 0.55);   // three redshift bins from colours
  for (const char* fig : {"Label efficiency", "Confusion matrix"})
    EXPECT_NE(read_file(tmp.path("rep/index.html")).find(fig), std::string::npos) << fig;
}

// Fine-tuning the shipped galaxy-cnn-ssl encoder on real Galaxy Zoo classes
// of the sample: the probe trains the encoder with a head on exactly the
// chosen labels, reports its steps (early stopping may end it sooner) and
// scores the held-out objects like every other probe.
TEST(ProbeCli, FineTunesThePretrainedEncoderOnGalaxyZooClasses) {
  test::TempDir tmp;
  std::string s = test::sample_dir() + "/galaxyzoo1_sdss";
  auto r = run_cli("-q import images " + s + "/images --labels " + s + "/labels.csv --crop 160 --size 64 --config galaxyzoo --out " +
                   tmp.path("gz"));
  ASSERT_EQ(r.rc, 0) << r.out;
  {
    std::ifstream in(s + "/labels.csv");
    std::ofstream out(tmp.path("morph.csv"));
    std::string line;
    std::getline(in, line);
    out << "object_id,morph\n";
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto c = line.find(',');
      int k = std::stoi(line.substr(c + 1));
      if (k <= 3) out << line.substr(0, c) << "," << (k == 0 ? "elliptical" : k == 3 ? "edge-on" : "spiral") << "\n";
    }
  }
  r = run_cli(fmt::format("-q probe finetune --model galaxy-cnn-ssl --train {} --labels-csv {} --target morph --labels-per-class 10 "
                          "--cnn-steps 15 --json -", tmp.path("gz"), tmp.path("morph.csv")));
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j["probe"], "finetune");
  EXPECT_EQ(j["task"], "classification");
  const auto& run = j["curve"][0]["runs"][0];
  EXPECT_EQ(run["labels_used"], 30);
  EXPECT_GE(run["fit"]["steps"].get<int64_t>(), 1);
  EXPECT_LE(run["fit"]["steps"].get<int64_t>(), 15);
  EXPECT_GT(j["metrics"]["accuracy"].get<double>(), 0.2);
  // The encoder to start from is required, and must be an image encoder.
  auto bad = run_cli("-q probe finetune --train " + tmp.path("gz") + " --labels-csv " + tmp.path("morph.csv") + " --target morph");
  EXPECT_EQ(bad.rc, 2);  // a usage error
  EXPECT_NE(bad.out.find("--model"), std::string::npos) << bad.out;
  bad = run_cli("-q probe finetune --model clip-sim --train " + tmp.path("gz") + " --labels-csv " + tmp.path("morph.csv") +
                " --target morph --cnn-steps 2");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.out.find("fine-tuning starts from a CNN image encoder"), std::string::npos) << bad.out;
}

TEST(ProbeCli, BadInputsAreOneMessageAndExitOne) {
  test::TempDir tmp;
  std::string data = boss(tmp);
  auto expect = [&](const std::string& args, const std::string& needle) {
    auto r = run_cli("-q probe " + args);
    EXPECT_EQ(r.rc, 1) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
  };
  expect("ridge --train " + data + " --target redshift --features mag_r", "no column 'redshift'");
  expect("ridge --train " + data + " --target z --features mag_q", "no column 'mag_q'");
  expect("knn --train " + data + " --target z", "no embedding_* column");
  {
    std::ofstream csv(tmp.path("other_ids.csv"));
    csv << "object_id,cls\nNGC1,a\nNGC2,b\n";
  }
  expect("logistic --train " + data + " --labels-csv " + tmp.path("other_ids.csv") + " --target cls --features mag_r",
         "none of its 2 ids");
  {
    std::ofstream csv(tmp.path("one_class.csv"));
    csv << "object_id,cls\ngalaxies-0,a\ngalaxies-1,a\ngalaxies-2,a\ngalaxies-3,a\n";
  }
  expect("logistic --train " + data + " --labels-csv " + tmp.path("one_class.csv") + " --target cls --features mag_r",
         "at least 2");
  // NaN features: a catalogue with a missing magnitude.
  {
    std::ofstream csv(tmp.path("nan.csv"));
    csv << "mag_r,z\n";
    for (int i = 0; i < 20; ++i) csv << (i == 7 ? "nan" : std::to_string(18 + 0.1 * i)) << "," << 0.1 + 0.01 * i << "\n";
  }
  ASSERT_EQ(run_cli("-q import csv " + tmp.path("nan.csv") + " --out " + tmp.path("nan")).rc, 0);
  expect("ridge --train " + tmp.path("nan") + " --test " + tmp.path("nan") + " --target z --features mag_r", "is nan");
  expect("ridge --train " + data + " --test " + tmp.path("nan") + " --target z --features mag_r,mag_g", "no column 'mag_g'");
}

}  // namespace
}  // namespace astrofm
