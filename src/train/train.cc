#include "astrofm/train.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/config.h"
#include "astrofm/fsutil.h"
#include "astrofm/hash.h"
#include "astrofm/mmu.h"
#include "astrofm/models/registry.h"
#include "astrofm/progress.h"
#include "astrofm/labels.h"
#include "astrofm/communicator.h"
#include "astrofm/models/architecture.h"
#include "astrofm/strict_json.h"
#include "loop.h"
#include "tasks.h"

namespace astrofm {
namespace fs = std::filesystem;
using namespace astrofm::models;
using namespace astrofm::train;

namespace train {
// All rows of some columns of several datasets, in memory.
Table load_columns(const std::vector<std::string>& data, const std::vector<std::string>& cols) {
  Table all;
  std::vector<Dataset> sets;
  int64_t total = 0;
  for (const auto& d : data) {
    sets.push_back(Dataset::open(d));
    for (const auto& c : cols)
      if (!sets.back().has_column(c)) fail_input("{}: no column '{}' (needed for training)", d, c);
    total += sets.back().rows();
  }
  for (const auto& ds : sets) {
    DatasetReader r(ds, {.columns = cols, .batch_rows = 1024});
    Table b;
    while (r.next(b)) {
      all.append(b);
      if (all.rows() == b.rows()) all.reserve(total);  // the first batch: every row's room at once
    }
  }
  if (all.rows() == 0) fail_input("no objects to train on in {}", fmt::join(data, ", "));
  return all;
}

}  // namespace train

namespace {

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

// The device a run asks for, checked: a clear error where CUDA is absent.
torch::Device training_device(const std::string& name) {
  if (name != "cpu" && name.rfind("cuda", 0) != 0) fail_usage("--device {}: cpu, cuda or cuda:N", name);
  std::optional<torch::Device> dev;
  try {
    dev = torch::Device(name);
  } catch (const c10::Error&) {
    fail_usage("--device {}: cpu, cuda or cuda:N", name);
  }
  if (dev->is_cuda()) {
    if (!torch::cuda::is_available())
      fail_usage("--device {}: no CUDA device is available to this libtorch (train on the CPU, or build against a CUDA PyTorch: "
                 "docs/scaling.md, GPU training)", name);
    if (dev->has_index() && dev->index() >= static_cast<int>(torch::cuda::device_count()))
      fail_usage("--device {}: only {} CUDA device(s)", name, torch::cuda::device_count());
  }
  return *dev;
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

ModelFile train::Task::model_file(const nlohmann::json& meta) { return models::model_file_of(saved(), meta); }

namespace {

// The user's settings: the config file's, then the program's `settings` over them.
nlohmann::json user_settings(const TrainOptions& opt) {
  nlohmann::json user = nlohmann::json::object();
  auto parse = [](const std::string& text, const std::string& where) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail_input("{}: not valid JSON ({})", where, e.what());
    }
    if (!j.is_object()) fail_input("{}: expected a JSON object of settings", where);
    return j;
  };
  if (!opt.config.empty()) user = parse(read_file(opt.config), opt.config);
  if (!opt.settings.empty()) user.merge_patch(parse(opt.settings, "settings"));
  return user;
}

// Only the task's own options, each given as it declares (one value or several).
void check_task_options(const TaskSpec& spec, const TrainOptions& opt) {
  std::vector<std::string> known;
  for (const auto& o : spec.options) known.push_back("--" + o.name);
  for (const auto& [name, values] : opt.task_options) {
    auto it = std::find_if(spec.options.begin(), spec.options.end(), [&](const TaskOption& o) { return o.name == name; });
    if (it == spec.options.end())
      fail_usage("--{} is not an option of task '{}' ({})", name, spec.name, known.empty() ? "it takes none" : fmt::format("its options: {}", fmt::join(known, ", ")));
    if (values.empty() || (!it->multiple && values.size() != 1)) fail_usage("--{}: {} value{}, got {}", name, it->multiple ? "one or more" : "one", it->multiple ? "s" : "", values.size());
  }
  for (const auto& o : spec.options)
    if (o.required && !opt.task_options.count(o.name)) fail_usage("{}: --{} is required ({})", spec.name, o.name, o.help);
}

}  // namespace

TrainResult train_model(const TrainOptions& opt_in) {
  TrainOptions opt = opt_in;
  const nlohmann::json user = user_settings(opt);
  const std::string settings_from = opt.config.empty() ? "--config" : opt.config;
  // `image-ssl` is SimCLR or DINO by the config's "method" (the older name).
  if (opt.task == "image-ssl") opt.task = user.value("method", std::string("simclr"));
  const TaskSpec& spec = task_table().at(opt.task);
  check_task_options(spec, opt);
  const nlohmann::json defaults = spec.default_config();
  nlohmann::json cfg = merge_strict(defaults, user, settings_from);
  if (cfg.contains("method") && cfg["method"] != defaults["method"])
    fail_input("{}: method {} is task '{}', not '{}'", settings_from, cfg["method"].dump(), cfg["method"].get<std::string>(), opt.task);
  if (opt.steps > 0) cfg["steps"] = opt.steps;
  if (opt.batch > 0) cfg["batch"] = opt.batch;
  if (opt.seed > 0) cfg["seed"] = opt.seed;
  if (opt.checkpoint_every > 0) cfg["checkpoint_every"] = opt.checkpoint_every;
  if (spec.configure) spec.configure(cfg, opt);
  auto comm = opt.comm ? opt.comm : single_process_communicator();
  const bool writer = comm->rank() == 0;
  if (opt.data.empty() && !opt.table) fail_usage("--data: at least one dataset");
  const bool to_file = !opt.out.empty();
  if (!to_file && opt.resume) fail_usage("--resume needs --out: a run in memory keeps no checkpoint");
  if (to_file && fs::exists(opt.out) && !opt.overwrite && !opt.resume) fail_input("output {} already exists (pass --overwrite)", opt.out);
  // A run in memory writes nothing: no checkpoints either.
  const bool checkpoints = to_file && writer;
  fs::path ckdir = opt.out + ".ckpt";
  if (opt.resume && !fs::exists(ckdir / "state.json")) fail_input("{}: no checkpoint to resume from", ckdir.string());
  if (checkpoints && !opt.resume && fs::exists(ckdir)) fs::remove_all(ckdir);
  if (opt.resume) {
    auto st = nlohmann::json::parse(read_file(ckdir / "state.json"));
    if (st["config"] != cfg) fail_input("{}: the checkpoint was written with other settings; resume with the same command", ckdir.string());
  }
  const torch::Device device = training_device(opt.device);
  if (opt.precision != "auto" && opt.precision != "fp32" && opt.precision != "bf16") fail_usage("--precision {}: auto, fp32 or bf16", opt.precision);
  if (opt.precision == "bf16" && !device.is_cuda()) fail_usage("--precision bf16 is for --device cuda (the CPU trains in float32)");
  torch::set_num_threads(comm->threads_per_rank());
  torch::manual_seed(cfg["seed"].get<uint64_t>());

  std::string where = opt.data.empty() ? std::string("the training table") : fmt::format("{}", fmt::join(opt.data, ", "));
  Table t;
  if (opt.table) {
    for (const auto& c : spec.columns(opt))
      if (!opt.table->has(c)) fail_input("{}: no column '{}' (needed for training)", where, c);
    t = *opt.table;
  } else {
    t = spec.load ? spec.load(cfg, opt) : load_columns(opt.data, spec.columns(opt));
  }
  std::unique_ptr<Task> task;
  try {
    task = spec.make(cfg, t, opt, where);
  } catch (const c10::Error& e) {
    fail_input("{}: {}", where, e.what_without_backtrace());
  }
  task->device = device;
  task->trained().to(device);
  Split split = split_rows(t.at(mmu::kObjectId), cfg["val_fraction"]);
  // The task holds what it trains on (tensors, or the table moved in): the
  // rows as read are not kept through training.
  t.clear();
  if (!opt.resume) task->before_training(split.train);
  const int64_t steps = cfg["steps"];
  TrainingLoop loop(*task, *comm, split.train, split.val, cfg, opt.task, where, opt.precision);
  int64_t start = 0;
  if (opt.resume) {
    torch::serialize::InputArchive m, o;
    m.load_from((ckdir / "model.pt").string(), device);
    task->trained().load(m);
    o.load_from((ckdir / "optimizer.pt").string(), device);
    loop.optimizer().load(o);
    start = nlohmann::json::parse(read_file(ckdir / "state.json"))["step"];
    spdlog::info("resuming {} at step {} of {}", opt.task, start, steps);
  }
  std::function<void(int64_t, double)> checkpoint;
  if (checkpoints)
    checkpoint = [&](int64_t step, double loss) { save_checkpoint(ckdir, *task, loop.optimizer(), step, cfg, loss); };
  const LoopResult run = loop.run(start, cfg["checkpoint_every"], checkpoint, opt.interrupt_at);
  if (run.interrupted_at >= 0) {
    if (!to_file) fail_input("interrupted at step {} of {}", run.interrupted_at, steps);
    fail_input("interrupted at step {} of {}; checkpoint in {}; rerun with --resume", run.interrupted_at, steps, ckdir.string());
  }
  TrainResult res;
  res.train_objects = static_cast<int64_t>(split.train.size());
  res.val_objects = static_cast<int64_t>(split.val.size());
  res.train_loss = run.train_loss, res.val_loss = run.val_loss, res.steps = run.steps, res.seconds = run.seconds;
  // Model files hold CPU tensors whatever trained them.
  task->trained().to(torch::kCPU);
  task->device = torch::kCPU;
  nlohmann::json meta = task->meta();
  // The architecture's full preprocessing, with what the task recorded on top.
  if (const auto* arch = models::architecture_table().find(meta["architecture"])) {
    nlohmann::json pre = arch->preprocessing(meta["config"]);
    pre.merge_patch(meta.value("preprocessing", nlohmann::json::object()));
    meta["preprocessing"] = pre;
  }
  meta["name"] = to_file ? fs::path(opt.out).stem().string() : opt.task;
  meta["training"]["data"] = opt.data;
  if (!opt.task_options.empty()) meta["training"]["options"] = opt.task_options;
  meta["training"]["objects"] = res.train_objects;
  meta["training"]["validation_objects"] = res.val_objects;
  meta["training"]["steps"] = res.steps;
  if (const int64_t patience = cfg["early_stopping"]; patience > 0)
    meta["training"]["early_stopping"] = {{"patience", patience}, {"best_step", run.best_step}, {"stopped_at", run.stopped_at}};
  meta["training"]["settings"] = cfg;
  meta["training"]["device"] = opt.device;
  meta["training"]["precision"] = run.bf16 ? "bf16 autocast" : "fp32";
  meta["training"]["final_train_loss"] = res.train_loss;
  meta["training"]["final_val_loss"] = res.val_loss;
  std::string command = "astrofm train " + opt.task + " --data " + fmt::format("{}", fmt::join(opt.data, " ")) +
                        (opt.config.empty() ? "" : " --config " + opt.config);
  for (const auto& [name, values] : opt.task_options) command += fmt::format(" --{} {}", name, fmt::join(values, " "));
  meta["training"]["command"] = command + (to_file ? " --out " + opt.out : "");
  meta["astrofm_version"] = ASTROFM_VERSION;
  task->saved().eval();
  if (writer) {
    ModelFile mf = task->model_file(meta);
    if (to_file) {
      mf.write(opt.out);
      fs::remove_all(ckdir);
    } else {
      res.model = mf.to_bytes();
    }
  }
  return res;
}

}  // namespace astrofm
