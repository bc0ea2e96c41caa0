#include "astrofm/train.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/config.h"
#include "astrofm/fsutil.h"
#include "astrofm/hash.h"
#include "astrofm/mmu.h"
#include "astrofm/models/astroclip.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "astrofm/progress.h"
#include "astrofm/labels.h"
#include "tasks.h"

namespace astrofm {
namespace fs = std::filesystem;
using namespace astrofm::models;
using namespace astrofm::train;

namespace train {
// All rows of some columns of several datasets, in memory.
Table load_columns(const std::vector<std::string>& data, const std::vector<std::string>& cols) {
  Table all;
  for (const auto& d : data) {
    Dataset ds = Dataset::open(d);
    for (const auto& c : cols)
      if (!ds.has_column(c)) fail_input("{}: no column '{}' (needed for training)", d, c);
    DatasetReader r(ds, {.columns = cols, .batch_rows = 1024});
    Table b;
    while (r.next(b)) all.append(b);
  }
  if (all.rows() == 0) fail_input("no objects to train on in {}", fmt::join(data, ", "));
  return all;
}

}  // namespace train

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// Defaults per task; a --config file overrides any key.
nlohmann::json default_config(const std::string& task) {
  nlohmann::json common = {{"steps", 1000}, {"batch", 64}, {"lr", 1e-3}, {"weight_decay", 0.05}, {"warmup", 50},
                           {"clip_grad", 1.0}, {"seed", 1}, {"val_fraction", 0.1}, {"val_every", 100},
                           {"checkpoint_every", 200}};
  AugmentOptions a;
  nlohmann::json augment = {{"scale_min", a.scale_min}, {"scale_max", a.scale_max}, {"gain_jitter", a.gain_jitter},
                            {"noise_max", a.noise_max}, {"blur_prob", a.blur_prob}, {"blur_sigma_max", a.blur_sigma_max},
                            {"flips", a.flips}};
  if (task == "image-ssl") {
    common["architecture"] = "cnn";
    common["model"] = CnnConfig{}.to_json();
    common["method"] = "simclr";
    common["temperature"] = 0.2;
    common["projection_dim"] = 128;
    common["augment"] = augment;
    // DINO's published ResNet recipe, scaled to small CPU runs (out_dim 65536 -> 4096).
    common["dino"] = {{"out_dim", 4096}, {"hidden_dim", 1024}, {"bottleneck_dim", 128}, {"student_temp", 0.1},
                      {"teacher_temp", 0.04}, {"momentum", 0.996}, {"center_momentum", 0.9}, {"local_crops", 4},
                      {"local_size", 32}, {"global_scale", {0.4, 1.0}}, {"local_scale", {0.1, 0.4}}};
  } else if (task == "supervised") {
    common["architecture"] = "cnn_head";
    common["model"] = CnnConfig{}.to_json();
    common["objective"] = "regression";
    common["augment"] = augment;
    common["augment"]["scale_min"] = 0.8;  // mild zoom: the label may depend on apparent size
  } else if (task == "spectrum-mm") {
    SpecFormerConfig s;
    s.embed_dim = 64;
    s.num_layers = 2;
    s.num_heads = 4;
    common["architecture"] = "specformer";
    common["model"] = s.to_json();
    common["mask_chunks"] = 6;
    common["mask_fraction"] = 0.38;  // AstroCLIP: 6 chunks of 50 of 778 tokens
    common["lr"] = 5e-4;
  } else if (task == "clip") {
    AstroClipConfig c;
    c.image_backbone = "cnn";
    c.spectrum.embed_dim = 64;
    c.spectrum.num_layers = 2;
    c.spectrum.num_heads = 4;
    c.embed_dim = 128;
    c.heads = 4;
    c.mlp_hidden = 512;
    common["architecture"] = "astroclip";
    common["model"] = c.to_json();
    common["freeze_backbones"] = false;
    common["lr"] = 3e-4;
  } else {
    fail_usage("unknown training task '{}' (image-ssl, spectrum-mm, clip or supervised)", task);
  }
  return common;
}

// Validation membership from a hash of object_id: stable across runs and inputs.
bool is_validation(const std::string& id, double fraction) {
  return static_cast<double>(fnv1a(id) % 100000) / 100000.0 < fraction;
}

struct Split {
  std::vector<int64_t> train, val;
};

Split split_rows(const Column& ids, double fraction) {
  Split s;
  for (int64_t i = 0; i < ids.rows; ++i) (is_validation(ids.strings[i], fraction) ? s.val : s.train).push_back(i);
  if (s.train.empty()) fail_input("every object fell in the validation split; lower val_fraction");
  return s;
}

// AstroCLIP's masking, scaled to the sequence: `chunks` contiguous chunks,
// one per equal section, covering `fraction` of the tokens.
torch::Tensor mask_tokens(const torch::Tensor& tokens, int64_t chunks, double fraction) {
  auto x = tokens.clone();
  int64_t B = x.size(0), T = x.size(1), section = T / chunks;
  int64_t width = std::max<int64_t>(1, std::min<int64_t>(section - 1, static_cast<int64_t>(fraction * T / chunks)));
  auto loc = torch::randint(0, std::max<int64_t>(1, section - width), {B, chunks}, torch::kLong);
  auto la = loc.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t s = c * section + la[b][c];
      x[b].slice(0, s, s + width).zero_();
    }
  return x;
}

struct SpecMmTask : Task {
  SpecFormer model{nullptr};
  torch::Tensor tokens;
  nlohmann::json cfg;
  SpecMmTask(const nlohmann::json& c, const Table& t) : cfg(c) {
    model = SpecFormer(SpecFormerConfig::from_json(c["model"]));
    auto flux = torch::nan_to_num(column_tensor(t.at(mmu::kSpectrumFlux)), 0.0);
    tokens = specformer_preprocess(flux, model->cfg);
    TORCH_CHECK(tokens.size(1) <= model->cfg.max_len, "spectra give ", tokens.size(1), " tokens, more than max_len ", model->cfg.max_len);
  }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    model->train(training);
    auto target = index(tokens, rows);
    auto input = mask_tokens(target, cfg["mask_chunks"], cfg["mask_fraction"]);
    auto pred = model->reconstruct(input);
    auto locs = (input != target).to(torch::kFloat32);  // masked, non-zero elements (AstroCLIP)
    return torch::mse_loss(pred * locs, target * locs) / locs.mean().clamp_min(1e-8);
  }
  std::vector<torch::Tensor> parameters() override { return model->parameters(); }
  torch::nn::Module& trained() override { return *model; }
  torch::nn::Module& saved() override { return *model; }
  nlohmann::json meta() override {
    return {{"architecture", "specformer"}, {"config", cfg["model"]},
            {"preprocessing", {{"spectrum", {{"kind", "specformer"}}}}},
            {"training", {{"task", "spectrum-mm"}, {"mask_chunks", cfg["mask_chunks"]}, {"mask_fraction", cfg["mask_fraction"]}}}};
  }
};

struct ClipTask : Task {
  AstroClip model{nullptr};
  ImageData images;
  torch::Tensor tokens;
  nlohmann::json cfg;
  double logit_scale;
  ClipTask(const nlohmann::json& c, const Table& t, const TrainOptions& opt, const std::string& where) : cfg(c) {
    auto mc = AstroClipConfig::from_json(c["model"]);
    if (!opt.init_image.empty()) {
      auto meta = ModelFile::read_meta(opt.init_image);
      mc.image_backbone = meta.at("architecture").get<std::string>();
      if (mc.image_backbone == "cnn") mc.cnn = CnnConfig::from_json(meta["config"]);
      else mc.image = ViTConfig::from_json(meta["config"]);
    }
    if (!opt.init_spectrum.empty()) mc.spectrum = SpecFormerConfig::from_json(ModelFile::read_meta(opt.init_spectrum)["config"]);
    cfg["model"] = mc.to_json();
    model = AstroClip(mc);
    if (!opt.init_image.empty()) {
      auto lm = load_model(opt.init_image);
      load_state(*model->image_encoder->named_children()[0].value(), state_of(*lm.module), opt.init_image);
    }
    if (!opt.init_spectrum.empty()) {
      auto lm = load_model(opt.init_spectrum);
      load_state(*model->spectrum_encoder->backbone, state_of(*lm.module), opt.init_spectrum);
    }
    images = load_images(t, where);
    auto flux = torch::nan_to_num(column_tensor(t.at(mmu::kSpectrumFlux)), 0.0);
    tokens = specformer_preprocess(flux, mc.spectrum);
    TORCH_CHECK(tokens.size(1) <= mc.spectrum.max_len, "spectra give ", tokens.size(1), " tokens, more than max_len ", mc.spectrum.max_len);
    logit_scale = mc.logit_scale;
  }
  bool frozen() const { return cfg.value("freeze_backbones", false); }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    model->train(training);
    if (frozen()) {
      model->image_encoder->named_children()[0].value()->eval();
      model->spectrum_encoder->backbone->eval();
    }
    int64_t crop = model->image_encoder->img_size();
    auto img = center_crop(images.prepare(index(images.images, rows), rows), crop).contiguous();
    auto ie = model->image_encoder->forward(img);
    auto se = model->spectrum_encoder->forward(index(tokens, rows));
    return clip_loss(ie, se, logit_scale);
  }
  std::vector<torch::Tensor> parameters() override {
    if (!frozen()) return model->parameters();
    std::vector<torch::Tensor> p;
    for (auto& kv : model->named_parameters())
      if (kv.key().find(".backbone.") == std::string::npos) p.push_back(kv.value());
    return p;
  }
  torch::nn::Module& trained() override { return *model; }
  torch::nn::Module& saved() override { return *model; }
  nlohmann::json meta() override {
    return {{"architecture", "astroclip"}, {"config", cfg["model"]},
            {"preprocessing", {{"image", {{"kinds", images.kinds}}}, {"spectrum", {{"kind", "specformer"}}}}},
            {"training", {{"task", "clip"}, {"loss", "symmetric InfoNCE"}, {"logit_scale", logit_scale}, {"freeze_backbones", frozen()}}}};
  }
};

double learning_rate(const nlohmann::json& c, int64_t step, int64_t steps) {
  double lr = c["lr"], warm = c["warmup"];
  if (step < warm) return lr * (step + 1) / warm;
  double t = (step - warm) / std::max(1.0, steps - warm);
  return lr * 0.5 * (1 + std::cos(M_PI * std::min(1.0, t)));
}

void save_checkpoint(const fs::path& dir, Task& task, torch::optim::AdamW& opt, int64_t step, const nlohmann::json& cfg, double loss) {
  fs::path tmp = dir.string() + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  torch::serialize::OutputArchive m, o;
  task.trained().save(m);
  m.save_to((tmp / "model.pt").string());
  opt.save(o);
  o.save_to((tmp / "optimizer.pt").string());
  write_file_atomic(tmp / "state.json", nlohmann::json{{"step", step}, {"config", cfg}, {"loss", loss}}.dump(1));
  fs::remove_all(dir);
  fs::rename(tmp, dir);
}

}  // namespace

TrainResult train_model(const TrainOptions& opt) {
  nlohmann::json cfg = default_config(opt.task);
  if (!opt.config.empty()) {
    nlohmann::json user;
    try {
      user = nlohmann::json::parse(read_file(opt.config));
    } catch (const nlohmann::json::exception& e) {
      fail_input("{}: not valid JSON ({})", opt.config, e.what());
    }
    for (auto& [k, v] : user.items()) {
      if (!cfg.contains(k)) fail_input("{}: unknown setting '{}' for task {}", opt.config, k, opt.task);
      if (k == "model" || k == "augment" || k == "dino") cfg[k].merge_patch(v);
      else cfg[k] = v;
    }
  }
  if (opt.steps > 0) cfg["steps"] = opt.steps;
  if (opt.batch > 0) cfg["batch"] = opt.batch;
  if (opt.seed > 0) cfg["seed"] = opt.seed;
  if (opt.checkpoint_every > 0) cfg["checkpoint_every"] = opt.checkpoint_every;
  if (opt.task == "supervised") {
    if (opt.target.empty()) fail_usage("supervised: --target COLUMN is required");
    if (!opt.objective.empty()) cfg["objective"] = opt.objective;
    if (cfg["objective"] != "regression" && cfg["objective"] != "classification")
      fail_usage("objective must be regression or classification, not {}", cfg["objective"].dump());
  }
  if (opt.data.empty()) fail_usage("--data: at least one dataset");
  if (fs::exists(opt.out) && !opt.overwrite && !opt.resume) fail_input("output {} already exists (pass --overwrite)", opt.out);
  fs::path ckdir = opt.out + ".ckpt";
  if (opt.resume && !fs::exists(ckdir / "state.json")) fail_input("{}: no checkpoint to resume from", ckdir.string());
  if (!opt.resume && fs::exists(ckdir)) fs::remove_all(ckdir);
  if (opt.resume) {
    auto st = nlohmann::json::parse(read_file(ckdir / "state.json"));
    if (st["config"] != cfg) fail_input("{}: the checkpoint was written with other settings; resume with the same command", ckdir.string());
  }
  torch::set_num_threads(std::max(1u, std::thread::hardware_concurrency()));
  torch::manual_seed(cfg["seed"].get<uint64_t>());

  std::vector<std::string> cols = {mmu::kObjectId};
  if (opt.task == "supervised" && opt.labels_csv.empty()) cols.push_back(opt.target);
  if (opt.task != "spectrum-mm") cols.insert(cols.end(), {mmu::kImageArray, mmu::kImageBand});
  if (opt.task == "spectrum-mm" || opt.task == "clip") cols.push_back(mmu::kSpectrumFlux);
  Table t = load_columns(opt.data, cols);
  std::string where = fmt::format("{}", fmt::join(opt.data, ", "));
  std::unique_ptr<Task> task;
  std::vector<std::string> task_classes;
  try {
    if (opt.task == "image-ssl") {
      task = make_image_ssl(cfg, t, where);
    } else if (opt.task == "supervised") {
      Targets y = load_targets(t, {opt.target, opt.labels_csv, cfg["objective"].get<std::string>()}, where);
      std::vector<int64_t> keep;
      std::vector<double> labels;
      for (int64_t i = 0; i < t.rows(); ++i)
        if (!std::isnan(y.values[i])) keep.push_back(i), labels.push_back(y.values[i]);
      if (keep.size() < 2) fail_input("{}: only {} objects have a '{}' label", where, keep.size(), opt.target);
      t = t.take(keep);
      task = make_supervised(cfg, t, labels, where);
      if (y.classification) task_classes = y.class_names;
    } else if (opt.task == "spectrum-mm") task = std::make_unique<SpecMmTask>(cfg, t);
    else task = std::make_unique<ClipTask>(cfg, t, opt, where);
  } catch (const c10::Error& e) {
    fail_input("{}: {}", where, e.what_without_backtrace());
  }
  Split split = split_rows(t.at(mmu::kObjectId), cfg["val_fraction"]);
  int64_t steps = cfg["steps"], batch = std::min<int64_t>(cfg["batch"].get<int64_t>(), static_cast<int64_t>(split.train.size()));
  if (batch < 2) fail_input("{}: need at least 2 training objects, have {}", where, split.train.size());
  torch::optim::AdamW adam(task->parameters(), torch::optim::AdamWOptions(cfg["lr"].get<double>()).weight_decay(cfg["weight_decay"].get<double>()));
  int64_t start = 0;
  if (opt.resume) {
    torch::serialize::InputArchive m, o;
    m.load_from((ckdir / "model.pt").string());
    task->trained().load(m);
    o.load_from((ckdir / "optimizer.pt").string());
    adam.load(o);
    start = nlohmann::json::parse(read_file(ckdir / "state.json"))["step"];
    spdlog::info("resuming {} at step {} of {}", opt.task, start, steps);
  }
  g_stop = 0;
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);
  TrainResult res;
  res.train_objects = static_cast<int64_t>(split.train.size());
  res.val_objects = static_cast<int64_t>(split.val.size());
  Progress bar("train " + opt.task, steps, start);
  auto t0 = std::chrono::steady_clock::now();
  int64_t per_epoch = static_cast<int64_t>(split.train.size()) / batch;
  double ema = 0;
  auto validate = [&]() -> double {
    if (split.val.empty()) return NAN;
    torch::NoGradGuard ng;
    torch::manual_seed(cfg["seed"].get<uint64_t>() + 7);  // the same augmentations and masks every time
    double sum = 0;
    int64_t n = 0;
    for (size_t s = 0; s + 1 < split.val.size(); s += batch) {
      std::vector<int64_t> rows(split.val.begin() + s, split.val.begin() + std::min(split.val.size(), s + batch));
      if (rows.size() < 2) break;
      sum += task->loss(rows, false).item<double>() * rows.size();
      n += rows.size();
    }
    return n ? sum / n : NAN;
  };
  for (int64_t step = start; step < steps; ++step) {
    if (g_stop || step == opt.interrupt_at) {
      save_checkpoint(ckdir, *task, adam, step, cfg, ema);
      std::signal(SIGINT, old_int);
      std::signal(SIGTERM, old_term);
      bar.finish();
      fail_input("interrupted at step {} of {}; checkpoint in {}; rerun with --resume", step, steps, ckdir.string());
    }
    // Every step's randomness derives from (seed, step): resuming replays it exactly.
    torch::manual_seed(cfg["seed"].get<uint64_t>() * 1000003ull + step);
    int64_t epoch = step / std::max<int64_t>(1, per_epoch), pos = step % std::max<int64_t>(1, per_epoch);
    std::vector<int64_t> order = split.train;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(cfg["seed"].get<uint64_t>() * 7919 + epoch));
    std::vector<int64_t> rows(order.begin() + pos * batch, order.begin() + (pos + 1) * batch);
    double lr = learning_rate(cfg, step, steps);
    for (auto& g : adam.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    adam.zero_grad();
    auto loss = task->loss(rows, true);
    loss.backward();
    torch::nn::utils::clip_grad_norm_(task->parameters(), cfg["clip_grad"].get<double>());
    adam.step();
    task->after_step(step + 1, steps);
    double l = loss.item<double>();
    ema = step == start ? l : 0.95 * ema + 0.05 * l;
    res.train_loss = l;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bar.set_note(fmt::format("loss {:.4f} lr {:.2e} {:.0f} obj/s{}", ema, lr, (step - start + 1) * batch / std::max(secs, 1e-9),
                             std::isnan(res.val_loss) || res.val_loss == 0 ? "" : fmt::format(" val {:.4f}", res.val_loss)));
    bar.advance();
    if ((step + 1) % cfg["val_every"].get<int64_t>() == 0) res.val_loss = validate();
    if ((step + 1) % cfg["checkpoint_every"].get<int64_t>() == 0 && step + 1 < steps) save_checkpoint(ckdir, *task, adam, step + 1, cfg, ema);
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  bar.finish();
  res.val_loss = validate();
  res.steps = steps;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json meta = task->meta();
  meta["name"] = fs::path(opt.out).stem().string();
  meta["training"]["data"] = opt.data;
  if (opt.task == "supervised") {
    meta["training"]["target"] = opt.target;
    if (!opt.labels_csv.empty()) meta["training"]["labels"] = opt.labels_csv;
    if (!task_classes.empty()) meta["classes"] = task_classes;
  }
  meta["training"]["objects"] = res.train_objects;
  meta["training"]["validation_objects"] = res.val_objects;
  meta["training"]["steps"] = steps;
  meta["training"]["settings"] = cfg;
  meta["training"]["final_train_loss"] = res.train_loss;
  meta["training"]["final_val_loss"] = res.val_loss;
  meta["training"]["command"] = "astrofm train " + opt.task + " --data " + fmt::format("{}", fmt::join(opt.data, " ")) +
                                (opt.config.empty() ? "" : " --config " + opt.config) + " --out " + opt.out;
  meta["astrofm_version"] = ASTROFM_VERSION;
  task->saved().eval();
  save_model(opt.out, task->saved(), meta);
  fs::remove_all(ckdir);
  return res;
}

}  // namespace astrofm
