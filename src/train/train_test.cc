#include "astrofm/train.h"

#include <algorithm>
#include <filesystem>

#include "astrofm/codecs.h"
#include "astrofm/generate.h"
#include "codecs/spectrum_codec.h"
#include "astrofm/communicator.h"

#include <fstream>

#include "astrofm/model_file.h"
#include "astrofm/models/registry.h"
#include "astrofm/sim.h"
#include "tasks.h"
#include "astrofm/mmu.h"
#include "astrofm/models/architecture.h"
#include "testutil.h"
#include "train_test_util.h"

namespace astrofm {
namespace {

using test::sim;
using test::write_config;

// A tiny SimCLR CNN encoder (16 px) trained for `steps` on `data`; its path.
std::string tiny_encoder(const test::TempDir& tmp, const std::string& data, int steps, const std::string& widths = "[8, 16]") {
  std::string ssl = write_config(tmp, "ssl.json", R"({"model": {"img_size": 16, "widths": )" + widths + R"(}, "steps": )" +
                                                      std::to_string(steps) + R"(, "batch": 8, "projection_dim": 8, "warmup": 1})");
  train_model({.task = "image-ssl", .data = {data}, .config = ssl, .out = tmp.path("ssl.afm")});
  return tmp.path("ssl.afm");
}

// Trains `a` straight, then the same run interrupted before step `stop` and
// resumed; the two model files must hold the same bytes.
void expect_resume_is_bit_identical(const test::TempDir& tmp, const TrainOptions& a, int64_t stop) {
  auto r = train_model(a);
  EXPECT_GT(r.steps, stop);
  EXPECT_TRUE(std::isfinite(r.val_loss));
  TrainOptions b = a;
  b.out = tmp.path("resumed.afm");
  b.interrupt_at = stop;
  EXPECT_THROW(train_model(b), InputError);
  EXPECT_TRUE(std::filesystem::exists(b.out + ".ckpt/state.json"));
  EXPECT_FALSE(std::filesystem::exists(b.out));
  b.interrupt_at = -1;
  b.resume = true;
  train_model(b);
  auto ma = ModelFile::read(a.out), mb = ModelFile::read(b.out);
  ASSERT_EQ(ma.tensors.size(), mb.tensors.size());
  for (size_t i = 0; i < ma.tensors.size(); ++i) {
    auto x = ma.tensors[i].bytes(), y = mb.tensors[i].bytes();
    EXPECT_TRUE(std::vector<uint8_t>(x.begin(), x.end()) == std::vector<uint8_t>(y.begin(), y.end())) << ma.tensors[i].name;
  }
}

TEST(Train, ResumeAfterInterruptionIsBitIdentical) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  std::string cfg = write_config(tmp, "mm.json", R"({"model": {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "max_len": 64},
    "steps": 8, "batch": 16, "warmup": 2, "val_every": 4, "checkpoint_every": 100})");
  TrainOptions a{.task = "spectrum-mm", .data = {data}, .config = cfg, .out = tmp.path("a.afm")};
  expect_resume_is_bit_identical(tmp, a, 5);
  EXPECT_EQ(ModelFile::read(a.out).meta["training"]["task"], "spectrum-mm");
}

TEST(Train, ImageSslAndClipProduceLoadableModels) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  tiny_encoder(tmp, data, 3);
  auto img = models::load_model(tmp.path("ssl.afm"));
  EXPECT_EQ(img.architecture, "cnn");
  EXPECT_EQ(img.meta["preprocessing"]["image"]["kinds"], nlohmann::json::array({"legacysurvey_rgb"}));
  std::string mm = write_config(tmp, "mm.json", R"({"model": {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "max_len": 64},
    "steps": 2, "batch": 8, "warmup": 1})");
  train_model({.task = "spectrum-mm", .data = {data}, .config = mm, .out = tmp.path("mm.afm")});
  std::string clip = write_config(tmp, "clip.json", R"({"model": {"embed_dim": 16, "heads": 2, "mlp_hidden": 32}, "steps": 3,
    "batch": 8, "warmup": 1, "freeze_backbones": true})");
  auto r = train_model({.task = "clip", .data = {data}, .config = clip, .out = tmp.path("clip.afm"),
                        .task_options = {{"init-image", {tmp.path("ssl.afm")}}, {"init-spectrum", {tmp.path("mm.afm")}}}});
  EXPECT_TRUE(std::isfinite(r.train_loss));
  auto lm = models::load_model(tmp.path("clip.afm"));
  EXPECT_EQ(lm.architecture, "astroclip");
  // Frozen backbones keep the pre-trained weights.
  auto s1 = models::state_of(*img.module), s2 = models::state_of(*lm.module);
  EXPECT_TRUE(torch::equal(s1.at("stem.weight"), s2.at("image_encoder.backbone.stem.weight")));
}

TEST(Train, ClipAugmentsTrainingImagesAndResumesBitIdentically) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  auto config = [&](const std::string& name, bool flips) {
    return write_config(tmp, name, std::string(R"({"model": {"embed_dim": 16, "heads": 2, "mlp_hidden": 32, "cnn": {"img_size": 16, "widths": [8, 16]},
      "spectrum": {"embed_dim": 16, "num_layers": 1, "num_heads": 2}}, "steps": 6, "batch": 8, "warmup": 1, "val_every": 3,
      "checkpoint_every": 100, "augment": {"flips": )") + (flips ? "true" : "false") + "}}");
  };
  TrainOptions a{.task = "clip", .data = {data}, .config = config("flips.json", true), .out = tmp.path("a.afm")};
  expect_resume_is_bit_identical(tmp, a, 3);
  auto meta = ModelFile::read(a.out).meta;
  EXPECT_EQ(meta["training"]["augment"]["flips"], true);
  EXPECT_EQ(meta["training"]["augment"]["gain_jitter"], 0.0);  // colours carry the redshift: untouched by default
  // The flips change what the model saw, so the weights differ.
  TrainOptions b = a;
  b.config = config("noflips.json", false);
  b.out = tmp.path("b.afm");
  train_model(b);
  auto sa = models::state_of(*models::load_model(a.out).module), sb = models::state_of(*models::load_model(b.out).module);
  EXPECT_FALSE(torch::equal(sa.at("image_encoder.backbone.stem.weight"), sb.at("image_encoder.backbone.stem.weight")));
}

TEST(Train, DinoResumesBitIdenticallyAndSavesTheTeacher) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  std::string cfg = write_config(tmp, "dino.json", R"({"model": {"img_size": 16, "widths": [8, 16]}, "method": "dino", "steps": 4,
    "batch": 8, "warmup": 1, "dino": {"out_dim": 32, "hidden_dim": 16, "bottleneck_dim": 8, "local_crops": 2, "local_size": 8},
    "val_every": 100, "checkpoint_every": 100})");
  TrainOptions a{.task = "image-ssl", .data = {data}, .config = cfg, .out = tmp.path("a.afm")};
  expect_resume_is_bit_identical(tmp, a, 2);
  EXPECT_EQ(ModelFile::read(a.out).meta["training"]["method"], "DINO");
  EXPECT_EQ(models::load_model(tmp.path("a.afm")).architecture, "cnn");
}

// Masked image modelling: resumable like the rest, the reconstruction of
// held-out galaxies improves with training, the encoder loads as a CNN, and
// masks that do not tile the image are refused.
TEST(Train, SimMimLearnsToFillMasksAndResumesBitIdentically) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  auto config = [&](const std::string& name, int steps, const std::string& extra = "") {
    return write_config(tmp, name, R"({"model": {"img_size": 16, "widths": [8, 16]}, "steps": )" + std::to_string(steps) +
                                       R"(, "batch": 16, "warmup": 1, "lr": 0.003, "val_every": 100, "checkpoint_every": 100)" + extra + "}");
  };
  TrainOptions a{.task = "simmim", .data = {data}, .config = config("a.json", 6), .out = tmp.path("a.afm")};
  expect_resume_is_bit_identical(tmp, a, 3);
  EXPECT_EQ(ModelFile::read(a.out).meta["training"]["method"], "SimMIM");
  EXPECT_EQ(models::load_model(a.out).architecture, "cnn");
  auto early = train_model({.task = "simmim", .data = {data}, .config = config("e.json", 1), .out = tmp.path("e.afm")});
  auto late = train_model({.task = "simmim", .data = {data}, .config = config("l.json", 60), .out = tmp.path("l.afm")});
  EXPECT_LT(late.val_loss, 0.8 * early.val_loss);
  EXPECT_THROW(train_model({.task = "simmim", .data = {data}, .config = config("p.json", 1, R"(, "mask_patch": 5)"), .out = tmp.path("p.afm")}),
               InputError);
  EXPECT_THROW(train_model({.task = "simmim", .data = {data}, .config = config("r.json", 1, R"(, "mask_ratio": 1.0)"), .out = tmp.path("r.afm")}),
               InputError);
  EXPECT_FALSE(std::filesystem::exists(tmp.path("p.afm")));
}

TEST(Train, SupervisedBaselinePredictsEveryObject) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  std::string cfg = write_config(tmp, "sup.json", R"({"model": {"img_size": 16, "widths": [8, 16]}, "steps": 30, "batch": 16,
    "warmup": 2, "lr": 0.003})");
  auto r = train_model({.task = "supervised", .data = {data}, .config = cfg, .out = tmp.path("z.afm"), .task_options = {{"target", {"Z"}}}});
  EXPECT_LT(r.train_loss, 1.5);  // standardised targets: 1.0 is the mean predictor
  auto p = predict_supervised(tmp.path("z.afm"), data);
  ASSERT_EQ(p.values.size(), 60u);
  EXPECT_TRUE(p.classes.empty());
  double lo = 1e9, hi = -1e9;
  for (double v : p.values) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_GT(lo, -0.5);  // redshifts, not standardised values
  EXPECT_LT(hi, 2.0);
  // Classification from a labels CSV joined on object_id; unlabelled objects are skipped.
  {
    std::ofstream csv(tmp.path("labels.csv"));
    csv << "object_id,kind\n";
    Table t = train::load_columns({data}, {mmu::kObjectId, "MORPHOLOGY"});
    for (int64_t i = 0; i < t.rows(); i += 2) csv << t.at(mmu::kObjectId).strings[i] << "," << t.at("MORPHOLOGY").as_int64(i) << "\n";
  }
  train_model({.task = "supervised", .data = {data}, .config = cfg, .out = tmp.path("c.afm"),
               .task_options = {{"target", {"kind"}}, {"labels", {tmp.path("labels.csv")}}, {"objective", {"classification"}}}});
  auto pc = predict_supervised(tmp.path("c.afm"), data);
  EXPECT_FALSE(pc.classes.empty());
  for (double v : pc.values) EXPECT_LT(v, static_cast<double>(pc.classes.size()));
  EXPECT_THROW(train_model({.task = "supervised", .data = {data}, .config = cfg, .out = tmp.path("x.afm")}), UsageError);  // no target
}

// Fine-tuning: the supervised task started from a pre-trained CNN keeps the
// encoder's shape, trains only the last stages when asked (earlier ones stay
// bit-identical to the pre-trained weights, later ones move, with the
// layer-wise decayed rates), and early stopping ends the run at the best
// validation loss. A non-CNN model is refused.
TEST(Train, FineTuningStartsFromThePretrainedEncoderAndStopsEarly) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  tiny_encoder(tmp, data, 3, "[8, 16, 16]");
  // The config's model shape is ignored: the encoder's is used.
  std::string ft = write_config(tmp, "ft.json", R"({"model": {"img_size": 16, "widths": [4]}, "steps": 12, "batch": 16, "warmup": 1,
    "lr": 0.003, "layer_decay": 0.5, "train_stages": 1})");
  train_model({.task = "supervised", .data = {data}, .config = ft, .out = tmp.path("ft.afm"), .task_options = {{"init-image", {tmp.path("ssl.afm")}}, {"target", {"Z"}}}});
  auto pre = models::state_of(*models::load_model(tmp.path("ssl.afm")).module);
  auto lm = models::load_model(tmp.path("ft.afm"));
  EXPECT_EQ(lm.meta["training"]["fine_tuned_from"]["train_stages"], 1);
  auto post = models::state_of(*lm.module);
  EXPECT_TRUE(torch::equal(pre.at("stem.weight"), post.at("backbone.stem.weight")));
  EXPECT_TRUE(torch::equal(pre.at("stages.0.conv1.weight"), post.at("backbone.stages.0.conv1.weight")));
  EXPECT_TRUE(torch::equal(pre.at("stages.1.bn1.running_mean"), post.at("backbone.stages.1.bn1.running_mean")));
  EXPECT_FALSE(torch::equal(pre.at("stages.2.conv1.weight"), post.at("backbone.stages.2.conv1.weight")));
  // Early stopping: validations every step, patience 1, far more steps than it needs.
  std::string es = write_config(tmp, "es.json", R"({"steps": 400, "batch": 16, "warmup": 1, "lr": 0.05, "val_every": 1,
    "early_stopping": 1, "val_fraction": 0.3})");
  auto r = train_model({.task = "supervised", .data = {data}, .config = es, .out = tmp.path("es.afm"), .task_options = {{"init-image", {tmp.path("ssl.afm")}}, {"target", {"Z"}}}});
  EXPECT_LT(r.steps, 400);
  auto meta = ModelFile::read(tmp.path("es.afm")).meta["training"];
  EXPECT_EQ(meta["early_stopping"]["stopped_at"], r.steps);
  EXPECT_LT(meta["early_stopping"]["best_step"].get<int64_t>(), r.steps);
  // Starting from a model that is not a CNN encoder is an error naming it.
  std::string mm = write_config(tmp, "mm.json", R"({"model": {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "max_len": 64},
    "steps": 1, "batch": 8, "warmup": 1})");
  train_model({.task = "spectrum-mm", .data = {data}, .config = mm, .out = tmp.path("mm.afm")});
  try {
    train_model({.task = "supervised", .data = {data}, .out = tmp.path("x.afm"), .task_options = {{"init-image", {tmp.path("mm.afm")}}, {"target", {"Z"}}}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mm.afm"), std::string::npos) << e.what();
  }
}

TEST(Train, FineTuningCanStartFromAHeadFittedOnTheFrozenFeatures) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  const std::string ssl = tiny_encoder(tmp, data, 40);
  // 40 steps: batch-norm running statistics settle, so the one training step below barely moves them.
  // Learning rate 0: the saved head is the one fitted before the first step.
  auto r2_of_head = [&](const std::string& head_init) {
    std::string c = write_config(tmp, head_init + ".json", R"({"steps": 1, "batch": 8, "warmup": 1, "lr": 0, "head_init": ")" + head_init + R"("})");
    std::string out = tmp.path(head_init + ".afm");
    train_model({.task = "supervised", .data = {data}, .config = c, .out = out, .task_options = {{"init-image", {ssl}}, {"target", {"Z"}}}});
    EXPECT_EQ(ModelFile::read(out).meta["training"]["fine_tuned_from"]["head_init"], head_init);
    auto p = predict_supervised(out, data);
    Table t = train::load_columns({data}, {mmu::kObjectId, "Z"});
    std::map<std::string, double> z;
    double mean = 0, ss = 0, res = 0;
    for (int64_t i = 0; i < t.rows(); ++i) z[t.at(mmu::kObjectId).strings[i]] = t.at("Z").as_double(i), mean += t.at("Z").as_double(i) / t.rows();
    for (size_t i = 0; i < p.ids.size(); ++i)
      ss += std::pow(z.at(p.ids[i]) - mean, 2), res += std::pow(z.at(p.ids[i]) - p.values[i], 2);
    return 1 - res / ss;
  };
  double probe = r2_of_head("probe"), random = r2_of_head("random");
  EXPECT_GT(probe, 0.2);  // a least-squares head on the encoder's features explains part of the redshift
  EXPECT_LT(random, 0.0);  // a random head does not
  // With early stopping the starting weights are a candidate: a learning rate
  // that wrecks the encoder leaves the fitted head's weights in place.
  std::string wreck = write_config(tmp, "wreck.json", R"({"steps": 20, "batch": 8, "warmup": 1, "lr": 5, "head_init": "probe",
    "early_stopping": 2, "val_every": 1, "val_fraction": 0.3})");
  train_model({.task = "supervised", .data = {data}, .config = wreck, .out = tmp.path("wreck.afm"), .task_options = {{"init-image", {ssl}}, {"target", {"Z"}}}});
  EXPECT_EQ(ModelFile::read(tmp.path("wreck.afm")).meta["training"]["early_stopping"]["best_step"], 0);
  auto pre = models::state_of(*models::load_model(ssl).module);
  auto kept = models::state_of(*models::load_model(tmp.path("wreck.afm")).module);
  EXPECT_TRUE(torch::equal(pre.at("stages.1.conv1.weight"), kept.at("backbone.stages.1.conv1.weight")));
  std::string bad = write_config(tmp, "bad.json", R"({"head_init": "linear"})");
  EXPECT_THROW(train_model({.task = "supervised", .data = {data}, .config = bad, .out = tmp.path("x.afm"), .task_options = {{"init-image", {ssl}}, {"target", {"Z"}}}}), InputError);
}

TEST(Train, BadSettingsAreClearErrors) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  std::string bad = write_config(tmp, "bad.json", R"({"learning_rate": 1})");
  EXPECT_THROW(train_model({.task = "spectrum-mm", .data = {data}, .config = bad, .out = tmp.path("x.afm")}), InputError);
  EXPECT_THROW(train_model({.task = "image-ssl", .data = {data}, .out = tmp.path("y.afm"), .resume = true}), InputError);
  EXPECT_THROW(train_model({.task = "dance", .data = {data}, .out = tmp.path("z.afm")}), UsageError);
  // Strict configs: a misspelt key at any depth names its path.
  std::string nested = write_config(tmp, "nested.json", R"({"augment": {"scale_mn": 0.5}})");
  try {
    train_model({.task = "simclr", .data = {data}, .config = nested, .out = tmp.path("n.afm")});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("augment.scale_mn: unknown key"), std::string::npos) << e.what();
  }
  std::string model_key = write_config(tmp, "model.json", R"({"model": {"widths": [8, 16], "depth": 3}})");
  EXPECT_THROW(train_model({.task = "simclr", .data = {data}, .config = model_key, .out = tmp.path("m.afm")}), InputError);
  std::string other = write_config(tmp, "other.json", R"({"method": "dino"})");
  EXPECT_THROW(train_model({.task = "simclr", .data = {data}, .config = other, .out = tmp.path("o.afm")}), InputError);
  // Devices: an unknown one, bf16 on the CPU, and CUDA where this libtorch has none are usage errors, before any output.
  EXPECT_THROW(train_model({.task = "simclr", .data = {data}, .out = tmp.path("d.afm"), .device = "tpu"}), UsageError);
  EXPECT_THROW(train_model({.task = "simclr", .data = {data}, .out = tmp.path("d.afm"), .precision = "bf16"}), UsageError);
  if (!torch::cuda::is_available()) {
    try {
      train_model({.task = "simclr", .data = {data}, .out = tmp.path("d.afm"), .device = "cuda"});
      FAIL();
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.path("d.afm")));
}

TEST(Train, TaskTableHasEveryTaskWithStrictDefaults) {
  std::vector<std::string> want = {"aion", "clip", "codec-image", "codec-spectrum", "dino", "simclr", "simmim", "spectrum-mm", "supervised"};
  EXPECT_EQ(train::task_table().names(), want);
  for (const auto& n : {"clip", "dino", "simclr", "simmim", "spectrum-mm", "supervised"}) {
    auto d = train::task_table().at(n).default_config();
    EXPECT_TRUE(d.contains("steps") && d.contains("model") && d.contains("architecture")) << n;
    EXPECT_NO_THROW(models::architecture_table().at(d["architecture"])) << n;
  }
  // The codec tasks write codec files: their settings are the codec's config.
  for (const auto& n : {"codec-image", "codec-spectrum"}) EXPECT_TRUE(train::task_table().at(n).default_config().contains("codec")) << n;
  // AION's budgets by default.
  auto a = train::task_table().at("aion").default_config();
  EXPECT_EQ(a["input_budget"], 256);
  EXPECT_EQ(a["target_budget"], 128);
}

// The codec tasks on datasets of different layouts: Legacy-Survey-like g r z
// and HSC-like g r i z y images; spectra on two grids. Resumable like the rest.
TEST(Train, CodecTasksMixSurveysAndResumeBitIdentically) {
  test::TempDir tmp;
  auto survey = [&](const std::string& name, const std::string& imaging, double step) {
    SimOptions o;
    o.objects = 24, o.image_size = 40, o.imaging = imaging, o.spectrum_step = step, o.config = name, o.threads = 2;
    simulate_survey(tmp.path(name), o);
    return tmp.path(name);
  };
  std::string ls = survey("ls", "legacy", 8), hsc = survey("hsc", "hsc", 4);
  TrainOptions a;
  a.task = "codec-image";
  a.data = {ls, hsc};
  a.config = write_config(tmp, "img.json", R"({"codec": {"crop": 32, "hidden_dims": 16, "num_consecutive": 1, "projection_dims": 17},
      "steps": 4, "batch": 4, "val_every": 2, "checkpoint_every": 2})");
  a.out = tmp.path("image.afm");
  expect_resume_is_bit_identical(tmp, a, 2);
  auto set = codecs::CodecSet::load({a.out});
  for (const auto& d : {ls, hsc}) {
    Table t = read_table(d).slice(0, 3);
    EXPECT_EQ(set.at("image").encode(t, d).shape, std::vector<int64_t>{64});
  }
  TrainOptions s = a;
  s.task = "codec-spectrum";
  s.config = write_config(tmp, "spec.json", R"({"codec": {"resolution": 8, "num_pixels": 896, "encoder_depths": [1, 1], "encoder_dims": [8, 16],
      "decoder_depths": [1, 1], "decoder_dims": [8, 1], "latent_channels": 16}, "steps": 4, "batch": 4, "val_every": 2, "checkpoint_every": 2})");
  s.out = tmp.path("spectrum.afm");
  auto r = train_model(s);
  EXPECT_TRUE(std::isfinite(r.train_loss));
  EXPECT_EQ(codecs::CodecSet::load({s.out}).at("spectrum").info().num_tokens, 1 + 896 / 8);
}

}  // namespace
}  // namespace astrofm

namespace astrofm {
namespace {

// A stand-in for one rank of a two-rank job whose peer computes exactly the
// same gradients: the all-reduce doubles every value, which the loop must
// divide back by size(). Counts the collectives the loop makes.
class TwinCommunicator : public Communicator {
 public:
  explicit TwinCommunicator(int rank) : rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  void allreduce_sum(float* data, size_t n) override {
    ++allreduces;
    for (size_t i = 0; i < n; ++i) data[i] *= 2;
  }
  void broadcast(void*, size_t bytes, int root) override {
    ++broadcasts;
    EXPECT_EQ(root, 0);
    EXPECT_GT(bytes, 0u);
  }
  int allreduces = 0, broadcasts = 0;

 private:
  int rank_;
};

TEST(Train, CommunicatorSeamBroadcastsReducesAndOnlyRankZeroWrites) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  std::string cfg = write_config(tmp, "c.json", R"({"model": {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "max_len": 40},
    "steps": 3, "batch": 8, "val_every": 10, "checkpoint_every": 2})");
  auto rank1 = std::make_shared<TwinCommunicator>(1);
  train_model({.task = "spectrum-mm", .data = {data}, .config = cfg, .out = tmp.path("r1.afm"), .comm = rank1});
  EXPECT_FALSE(std::filesystem::exists(tmp.path("r1.afm")));  // rank 1 writes neither the model
  EXPECT_FALSE(std::filesystem::exists(tmp.path("r1.afm.ckpt")));  // nor checkpoints
  EXPECT_GT(rank1->broadcasts, 0);
  EXPECT_GT(rank1->allreduces, 0);
  auto rank0 = std::make_shared<TwinCommunicator>(0);
  train_model({.task = "spectrum-mm", .data = {data}, .config = cfg, .out = tmp.path("r0.afm"), .comm = rank0});
  EXPECT_TRUE(std::filesystem::exists(tmp.path("r0.afm")));
  // With the seam in the loop, runs stay deterministic: two identical
  // rank-0 runs write the same bytes.
  auto again = std::make_shared<TwinCommunicator>(0);
  train_model({.task = "spectrum-mm", .data = {data}, .config = cfg, .out = tmp.path("r0b.afm"), .comm = again});
  auto a = ModelFile::read(tmp.path("r0.afm")), b = ModelFile::read(tmp.path("r0b.afm"));
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    auto x = a.tensors[i].bytes(), y = b.tensors[i].bytes();
    EXPECT_TRUE(std::vector<uint8_t>(x.begin(), x.end()) == std::vector<uint8_t>(y.begin(), y.end())) << a.tensors[i].name;
  }
  // A batch that does not split over the ranks is a usage error.
  std::string odd = write_config(tmp, "odd.json", R"({"steps": 1, "batch": 7})");
  EXPECT_THROW(train_model({.task = "spectrum-mm", .data = {data}, .config = odd, .out = tmp.path("x.afm"), .comm = rank0}), UsageError);
}

// AION on two token datasets of different modality sets (a catalogue with
// redshifts; a catalogue with spectra and no redshift): resumable bit-identically;
// then generation of the redshift's distribution and of a spectrum.
TEST(Train, AionOnMixedModalitySetsResumesAndGenerates) {
  test::TempDir tmp;
  auto survey = [&](const std::string& name, bool spectra, uint64_t seed) {
    SimOptions o;
    o.objects = 40, o.seed = seed, o.images = false, o.spectra = spectra, o.spectrum_step = 8, o.config = name, o.threads = 2;
    simulate_survey(tmp.path(name), o);
    return tmp.path(name);
  };
  std::string cat = survey("cat", false, 5), spec = survey("spec", true, 6);
  codecs::ScalarFitOptions f;
  f.data = {cat}, f.columns = {"FLUX_G", "FLUX_R", "Z"}, f.bins = 32, f.reservoir = 100, f.out = tmp.path("scalars.afm");
  codecs::fit_scalar_codecs(f);
  codecs::CodecSet s;
  codecs::SpectrumConfig sc;
  sc.resolution = 8, sc.num_pixels = 896, sc.encoder_depths = {1, 1}, sc.encoder_dims = {8, 16}, sc.decoder_depths = {1, 1};
  sc.decoder_dims = {8, 1}, sc.latent_channels = 16, sc.codebook_size = 64;
  s.add(codecs::make_spectrum_codec(codecs::SpectrumNet(sc)));
  s.save(tmp.path("spectrum.afm"));
  std::vector<std::string> cfiles = {f.out, tmp.path("spectrum.afm")};
  codecs::TokenizeOptions t;
  t.codecs = cfiles, t.data = {cat}, t.out = tmp.path("cat_tok"), t.modalities = {"FLUX_G", "FLUX_R", "Z"};
  codecs::tokenize(t);
  t.data = {spec}, t.out = tmp.path("spec_tok"), t.modalities = {"FLUX_G", "FLUX_R", "spectrum"};
  codecs::tokenize(t);
  TrainOptions a;
  a.task = "aion";
  a.task_options["codecs"] = cfiles;
  a.data = {tmp.path("cat_tok"), tmp.path("spec_tok")};
  a.config = write_config(tmp, "aion.json", R"({"model": {"dim": 32, "encoder_depth": 1, "decoder_depth": 1, "num_heads": 2, "mlp_hidden": 64},
      "input_budget": 64, "target_budget": 32, "steps": 4, "batch": 8, "val_every": 2, "checkpoint_every": 2})");
  a.out = tmp.path("aion.afm");
  expect_resume_is_bit_identical(tmp, a, 2);
  auto meta = ModelFile::read_meta(a.out);
  EXPECT_EQ(meta["config"]["modalities"].size(), 4u);  // tok_FLUX_G, tok_FLUX_R, tok_Z, tok_spectrum
  GenerateOptions g;
  g.model = a.out, g.codecs = cfiles, g.data = tmp.path("cat_tok"), g.from = {"FLUX_G", "FLUX_R"}, g.to = "Z";
  g.out = tmp.path("z"), g.report = tmp.path("z_report");
  auto r = generate(g);
  EXPECT_EQ(r.objects, 40);
  EXPECT_EQ(r.metrics["objects"], 40);
  EXPECT_TRUE(r.metrics.contains("pit_ks") && r.metrics.contains("crps") && r.metrics.contains("coverage_68"));
  for (const char* f : {"index.html", "metrics.json", "vega.min.js"}) EXPECT_TRUE(std::filesystem::exists(tmp.path("z_report/") + f)) << f;
  EXPECT_TRUE(r.metrics["median"].contains("sigma_nmad"));
  Table z = read_table(g.out);
  for (int64_t i = 0; i < z.rows(); ++i) {
    double sum = 0;
    for (int64_t k = 0; k < 32; ++k) sum += z.at("Z_pdf").ptr<float>()[i * 32 + k];
    EXPECT_NEAR(sum, 1.0, 1e-4);
    EXPECT_LE(z.at("Z_p16").as_double(i), z.at("Z_median").as_double(i));
    EXPECT_LE(z.at("Z_median").as_double(i), z.at("Z_p84").as_double(i));
  }
  g.data = tmp.path("spec_tok"), g.to = "spectrum", g.out = tmp.path("gen_spec"), g.report = "", g.steps = 3;
  generate(g);
  Table sp = read_table(g.out);
  EXPECT_EQ(sp.at(mmu::kSpectrumFlux).shape, std::vector<int64_t>{896});
  EXPECT_EQ(sp.at("tok_spectrum").shape, std::vector<int64_t>{113});
  for (int32_t v : sp.at("tok_spectrum").values<int32_t>()) ASSERT_TRUE(v >= 0 && v < 1024);
}

}  // namespace
}  // namespace astrofm
