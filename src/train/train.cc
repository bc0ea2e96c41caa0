#include "astrofm/train.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>

#include <ATen/autocast_mode.h>
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

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

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

double learning_rate(const nlohmann::json& c, int64_t step, int64_t steps) {
  double lr = c["lr"], warm = c["warmup"];
  if (step < warm) return lr * (step + 1) / warm;
  double t = (step - warm) / std::max(1.0, steps - warm);
  return lr * 0.5 * (1 + std::cos(M_PI * std::min(1.0, t)));
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

// bf16 autocast for the forward passes on CUDA; float32 on the CPU (bf16
// matmuls there are slower than float32 on these cores).
struct Autocast {
  bool on = false;
  Autocast(const torch::Device& dev, const std::string& precision) {
    on = dev.is_cuda() && precision != "fp32";
    if (on) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    }
  }
  void step_done() const {
    if (on) at::autocast::clear_cache();
  }
  ~Autocast() {
    if (on) {
      at::autocast::clear_cache();
      at::autocast::set_enabled(false);
    }
  }
};

// Sums a tensor over ranks in place (through host memory when it lives on a GPU).
void allreduce_tensor(Communicator& comm, torch::Tensor& t) {
  auto host = t.to(torch::kCPU).contiguous();
  comm.allreduce_sum(host.data_ptr<float>(), host.numel());
  t = host.to(t.device());
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
  int64_t steps = cfg["steps"], batch = std::min<int64_t>(cfg["batch"].get<int64_t>(), static_cast<int64_t>(split.train.size()));
  if (batch < 2) fail_input("{}: need at least 2 training objects, have {}", where, split.train.size());
  // The global batch is ranks x accumulate micro-batches; micro-batch g of a
  // step draws its randomness from (seed, step, g) and sees only its rows, so
  // N ranks compute what one process does with accumulate = N (docs/scaling.md).
  const int64_t accumulate = cfg["accumulate"].get<int64_t>(), micro_batches = comm->size() * accumulate;
  if (accumulate < 1) fail_usage("accumulate must be at least 1, got {}", accumulate);
  if (batch % micro_batches != 0)
    fail_usage("batch {} does not split evenly into {} micro-batches ({} ranks x accumulate {})", batch, micro_batches, comm->size(),
               accumulate);
  const int64_t micro = batch / micro_batches;
  if (micro < 2) fail_usage("batch {} over {} micro-batches leaves fewer than 2 objects each", batch, micro_batches);
  // One AdamW; its groups' learning rates follow the schedule times each group's multiplier.
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<double> lr_mult;
  for (auto& [params, mult] : task->parameter_groups()) {
    groups.emplace_back(params, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(cfg["lr"].get<double>() * mult).weight_decay(cfg["weight_decay"].get<double>())));
    lr_mult.push_back(mult);
  }
  torch::optim::AdamW adam(std::move(groups), torch::optim::AdamWOptions(cfg["lr"].get<double>()).weight_decay(cfg["weight_decay"].get<double>()));
  // Every rank starts from rank 0's parameters.
  if (comm->size() > 1) {
    torch::NoGradGuard ng;
    for (auto& p : task->trained().parameters()) {
      auto c = p.detach().to(torch::kCPU).contiguous();
      comm->broadcast(c.data_ptr(), c.numel() * c.element_size(), 0);
      if (c.data_ptr() != p.data_ptr()) p.detach().copy_(c);
    }
  }
  int64_t start = 0;
  if (opt.resume) {
    torch::serialize::InputArchive m, o;
    m.load_from((ckdir / "model.pt").string(), device);
    task->trained().load(m);
    o.load_from((ckdir / "optimizer.pt").string(), device);
    adam.load(o);
    start = nlohmann::json::parse(read_file(ckdir / "state.json"))["step"];
    spdlog::info("resuming {} at step {} of {}", opt.task, start, steps);
  }
  g_stop = 0;
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);
  Autocast autocast(device, opt.precision);
  TrainResult res;
  res.train_objects = static_cast<int64_t>(split.train.size());
  res.val_objects = static_cast<int64_t>(split.val.size());
  Progress bar("train " + opt.task, steps, start);
  auto t0 = std::chrono::steady_clock::now();
  int64_t per_epoch = static_cast<int64_t>(split.train.size()) / batch;
  double ema = 0;
  // Early stopping: the best validation loss so far and the weights that had it.
  const int64_t patience = cfg["early_stopping"].get<int64_t>();
  double best_val = INFINITY;
  int64_t best_step = 0, worse = 0, stopped_at = 0;
  std::vector<torch::Tensor> best;
  auto state_tensors = [&] {
    std::vector<torch::Tensor> v;
    for (auto& p : task->trained().parameters()) v.push_back(p);
    for (auto& b : task->trained().buffers()) v.push_back(b);
    return v;
  };
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
  if (patience > 0 && start == 0) {  // the starting weights are a candidate too (e.g. a head fitted on frozen features)
    best_val = validate();
    if (std::isnan(best_val)) best_val = INFINITY;
    else for (const auto& t : state_tensors()) best.push_back(t.detach().clone());
  }
  for (int64_t step = start; step < steps; ++step) {
    // A signal reaches the ranks at different moments: they stop together.
    int64_t stop = g_stop || step == opt.interrupt_at;
    if (comm->size() > 1) comm->allreduce_sum(&stop, 1);
    if (stop) {
      if (checkpoints) save_checkpoint(ckdir, *task, adam, step, cfg, ema);
      std::signal(SIGINT, old_int);
      std::signal(SIGTERM, old_term);
      bar.finish();
      if (!to_file) fail_input("interrupted at step {} of {}", step, steps);
      fail_input("interrupted at step {} of {}; checkpoint in {}; rerun with --resume", step, steps, ckdir.string());
    }
    int64_t epoch = step / std::max<int64_t>(1, per_epoch), pos = step % std::max<int64_t>(1, per_epoch);
    std::vector<int64_t> order = split.train;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(cfg["seed"].get<uint64_t>() * 7919 + epoch));
    double lr = learning_rate(cfg, step, steps);
    for (size_t gi = 0; gi < adam.param_groups().size(); ++gi)
      static_cast<torch::optim::AdamWOptions&>(adam.param_groups()[gi].options()).lr(lr * lr_mult.at(gi));
    adam.zero_grad();
    double l = 0;
    for (int64_t a = 0; a < accumulate; ++a) {
      // This rank's micro-batches of the global batch, rank-major.
      int64_t g = comm->rank() * accumulate + a, first = pos * batch + g * micro;
      // Every micro-batch's randomness derives from (seed, step, g): resuming
      // replays it exactly, and it does not depend on how many ranks there are.
      torch::manual_seed(cfg["seed"].get<uint64_t>() * 1000003ull + step + static_cast<uint64_t>(g) * 0x9E3779B97F4A7C15ull);
      std::vector<int64_t> rows(order.begin() + first, order.begin() + first + micro);
      auto loss = task->loss(rows, true);
      (accumulate > 1 ? loss / static_cast<double>(accumulate) : loss).backward();
      l += loss.item<double>() / static_cast<double>(micro_batches);
    }
    if (comm->size() > 1) {
      for (auto& p : task->parameters()) {
        if (!p.grad().defined()) continue;
        auto g = p.grad();
        allreduce_tensor(*comm, g);
        p.mutable_grad() = g / static_cast<double>(comm->size());
      }
      float lsum = static_cast<float>(l);
      comm->allreduce_sum(&lsum, 1);
      l = lsum;
    }
    torch::nn::utils::clip_grad_norm_(task->parameters(), cfg["clip_grad"].get<double>());
    adam.step();
    task->after_step(step + 1, steps);
    // Running statistics (batch norm, DINO's centre) follow each rank's own
    // micro-batches: their mean over ranks keeps every rank's model the same.
    if (comm->size() > 1) {
      torch::NoGradGuard ng;
      for (auto& b : task->trained().buffers()) {
        if (!b.is_floating_point() || b.scalar_type() != torch::kFloat) continue;
        auto c = b;
        allreduce_tensor(*comm, c);
        b.copy_(c / static_cast<double>(comm->size()));
      }
    }
    autocast.step_done();
    ema = step == start ? l : 0.95 * ema + 0.05 * l;
    res.train_loss = l;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bar.set_note(fmt::format("loss {:.4f} lr {:.2e} {:.0f} obj/s{}", ema, lr, (step - start + 1) * batch / std::max(secs, 1e-9),
                             std::isnan(res.val_loss) || res.val_loss == 0 ? "" : fmt::format(" val {:.4f}", res.val_loss)));
    bar.advance();
    if ((step + 1) % cfg["val_every"].get<int64_t>() == 0) {
      res.val_loss = validate();
      if (patience > 0 && !std::isnan(res.val_loss)) {
        if (res.val_loss < best_val) {
          best_val = res.val_loss, best_step = step + 1, worse = 0;
          best.clear();
          for (const auto& t : state_tensors()) best.push_back(t.detach().clone());
        } else if (++worse >= patience) {
          spdlog::info("early stopping at step {}: validation loss {:.4f} has not improved on {:.4f} (step {}) in {} checks", step + 1,
                       res.val_loss, best_val, best_step, patience);
          stopped_at = step + 1;
          break;
        }
      }
    }
    if (checkpoints && (step + 1) % cfg["checkpoint_every"].get<int64_t>() == 0 && step + 1 < steps)
      save_checkpoint(ckdir, *task, adam, step + 1, cfg, ema);
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  bar.finish();
  if (!best.empty()) {
    // Back to the weights of the best validation loss.
    torch::NoGradGuard ng;
    auto now = state_tensors();
    for (size_t i = 0; i < now.size(); ++i) now[i].copy_(best[i]);
    spdlog::info("kept the weights of step {} (validation loss {:.4f})", best_step, best_val);
  }
  res.val_loss = validate();
  res.steps = stopped_at > 0 ? stopped_at : steps;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
  if (patience > 0) meta["training"]["early_stopping"] = {{"patience", patience}, {"best_step", best_step}, {"stopped_at", stopped_at}};
  meta["training"]["settings"] = cfg;
  meta["training"]["device"] = opt.device;
  meta["training"]["precision"] = autocast.on ? "bf16 autocast" : "fp32";
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
