#include "loop.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <random>

#include <ATen/autocast_mode.h>
#include <spdlog/spdlog.h>

#include "astrofm/error.h"
#include "astrofm/progress.h"

namespace astrofm::train {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// SIGINT/SIGTERM set g_stop for as long as it lives.
struct StopOnSignal {
  using Handler = void (*)(int);
  Handler old_int, old_term;
  StopOnSignal() {
    g_stop = 0;
    old_int = std::signal(SIGINT, on_signal);
    old_term = std::signal(SIGTERM, on_signal);
  }
  ~StopOnSignal() {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
  }
};

double learning_rate(const nlohmann::json& c, int64_t step, int64_t steps) {
  double lr = c["lr"], warm = c["warmup"];
  if (step < warm) return lr * (step + 1) / warm;
  double t = (step - warm) / std::max(1.0, steps - warm);
  return lr * 0.5 * (1 + std::cos(M_PI * std::min(1.0, t)));
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

torch::optim::AdamW make_adam(Task& task, const nlohmann::json& cfg, std::vector<double>& lr_mult) {
  // One AdamW; its groups' learning rates follow the schedule times each group's multiplier.
  const double lr = cfg["lr"], wd = cfg["weight_decay"];
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (auto& [params, mult] : task.parameter_groups()) {
    groups.emplace_back(params, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr * mult).weight_decay(wd)));
    lr_mult.push_back(mult);
  }
  return torch::optim::AdamW(std::move(groups), torch::optim::AdamWOptions(lr).weight_decay(wd));
}

}  // namespace

TrainingLoop::TrainingLoop(Task& task, Communicator& comm, std::vector<int64_t> train_rows, std::vector<int64_t> val_rows,
                           const nlohmann::json& cfg, const std::string& name, const std::string& where, const std::string& precision)
    : task_(task),
      comm_(comm),
      train_(std::move(train_rows)),
      val_(std::move(val_rows)),
      cfg_(cfg),
      name_(name),
      precision_(precision),
      steps_(cfg["steps"]),
      batch_(std::min<int64_t>(cfg["batch"].get<int64_t>(), static_cast<int64_t>(train_.size()))),
      accumulate_(cfg["accumulate"]),
      micro_(0),
      adam_(make_adam(task, cfg, lr_mult_)) {
  if (batch_ < 2) fail_input("{}: need at least 2 training objects, have {}", where, train_.size());
  // The global batch is ranks x accumulate micro-batches; micro-batch g of a
  // step draws its randomness from (seed, step, g) and sees only its rows, so
  // N ranks compute what one process does with accumulate = N (docs/scaling.md).
  const int64_t micro_batches = comm_.size() * accumulate_;
  if (accumulate_ < 1) fail_usage("accumulate must be at least 1, got {}", accumulate_);
  if (batch_ % micro_batches != 0)
    fail_usage("batch {} does not split evenly into {} micro-batches ({} ranks x accumulate {})", batch_, micro_batches, comm_.size(),
               accumulate_);
  micro_ = batch_ / micro_batches;
  if (micro_ < 2) fail_usage("batch {} over {} micro-batches leaves fewer than 2 objects each", batch_, micro_batches);
  // Every rank starts from rank 0's parameters.
  if (comm_.size() > 1) {
    torch::NoGradGuard ng;
    for (auto& p : task_.trained().parameters()) {
      auto c = p.detach().to(torch::kCPU).contiguous();
      comm_.broadcast(c.data_ptr(), c.numel() * c.element_size(), 0);
      if (c.data_ptr() != p.data_ptr()) p.detach().copy_(c);
    }
  }
}

double TrainingLoop::validate() {
  if (val_.empty()) return NAN;
  torch::NoGradGuard ng;
  torch::manual_seed(cfg_["seed"].get<uint64_t>() + 7);  // the same augmentations and masks every time
  double sum = 0;
  int64_t n = 0;
  for (size_t s = 0; s + 1 < val_.size(); s += batch_) {
    std::vector<int64_t> rows(val_.begin() + s, val_.begin() + std::min(val_.size(), s + batch_));
    if (rows.size() < 2) break;
    sum += task_.loss(rows, false).item<double>() * rows.size();
    n += rows.size();
  }
  return n ? sum / n : NAN;
}

LoopResult TrainingLoop::run(int64_t start, int64_t checkpoint_every, const std::function<void(int64_t, double)>& checkpoint,
                             int64_t interrupt_at) {
  const uint64_t seed = cfg_["seed"].get<uint64_t>();
  const int64_t micro_batches = comm_.size() * accumulate_;
  StopOnSignal signals;
  Autocast autocast(task_.device, precision_);
  LoopResult res;
  res.bf16 = autocast.on;
  Progress bar("train " + name_, steps_, start);
  auto t0 = std::chrono::steady_clock::now();
  const int64_t per_epoch = std::max<int64_t>(1, static_cast<int64_t>(train_.size()) / batch_);
  double ema = 0;
  // Early stopping: the best validation loss so far and the weights that had it.
  const int64_t patience = cfg_["early_stopping"].get<int64_t>();
  double best_val = INFINITY;
  std::vector<torch::Tensor> best;
  auto state_tensors = [&] {
    std::vector<torch::Tensor> v;
    for (auto& p : task_.trained().parameters()) v.push_back(p);
    for (auto& b : task_.trained().buffers()) v.push_back(b);
    return v;
  };
  auto keep_best = [&] {
    best.clear();
    for (const auto& t : state_tensors()) best.push_back(t.detach().clone());
  };
  if (patience > 0 && start == 0) {  // the starting weights are a candidate too (e.g. a head fitted on frozen features)
    best_val = validate();
    if (std::isnan(best_val)) best_val = INFINITY;
    else keep_best();
  }
  int64_t worse = 0;
  for (int64_t step = start; step < steps_; ++step) {
    // A signal reaches the ranks at different moments: they stop together.
    int64_t stop = g_stop || step == interrupt_at;
    if (comm_.size() > 1) comm_.allreduce_sum(&stop, 1);
    if (stop) {
      if (checkpoint) checkpoint(step, ema);
      bar.finish();
      res.interrupted_at = step;
      return res;
    }
    const int64_t epoch = step / per_epoch, pos = step % per_epoch;
    std::vector<int64_t> order = train_;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(seed * 7919 + epoch));
    const double lr = learning_rate(cfg_, step, steps_);
    for (size_t gi = 0; gi < adam_.param_groups().size(); ++gi)
      static_cast<torch::optim::AdamWOptions&>(adam_.param_groups()[gi].options()).lr(lr * lr_mult_.at(gi));
    adam_.zero_grad();
    double l = 0;
    for (int64_t a = 0; a < accumulate_; ++a) {
      // This rank's micro-batches of the global batch, rank-major.
      const int64_t g = comm_.rank() * accumulate_ + a, first = pos * batch_ + g * micro_;
      // Every micro-batch's randomness derives from (seed, step, g): resuming
      // replays it exactly, and it does not depend on how many ranks there are.
      torch::manual_seed(seed * 1000003ull + step + static_cast<uint64_t>(g) * 0x9E3779B97F4A7C15ull);
      std::vector<int64_t> rows(order.begin() + first, order.begin() + first + micro_);
      auto loss = task_.loss(rows, true);
      (accumulate_ > 1 ? loss / static_cast<double>(accumulate_) : loss).backward();
      l += loss.item<double>() / static_cast<double>(micro_batches);
    }
    if (comm_.size() > 1) {
      for (auto& p : task_.parameters()) {
        if (!p.grad().defined()) continue;
        auto g = p.grad();
        allreduce_tensor(comm_, g);
        p.mutable_grad() = g / static_cast<double>(comm_.size());
      }
      float lsum = static_cast<float>(l);
      comm_.allreduce_sum(&lsum, 1);
      l = lsum;
    }
    torch::nn::utils::clip_grad_norm_(task_.parameters(), cfg_["clip_grad"].get<double>());
    adam_.step();
    task_.after_step(step + 1, steps_);
    // Running statistics (batch norm, DINO's centre) follow each rank's own
    // micro-batches: their mean over ranks keeps every rank's model the same.
    if (comm_.size() > 1) {
      torch::NoGradGuard ng;
      for (auto& b : task_.trained().buffers()) {
        if (!b.is_floating_point() || b.scalar_type() != torch::kFloat) continue;
        auto c = b;
        allreduce_tensor(comm_, c);
        b.copy_(c / static_cast<double>(comm_.size()));
      }
    }
    autocast.step_done();
    ema = step == start ? l : 0.95 * ema + 0.05 * l;
    res.train_loss = l;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bar.set_note(fmt::format("loss {:.4f} lr {:.2e} {:.0f} obj/s{}", ema, lr, (step - start + 1) * batch_ / std::max(secs, 1e-9),
                             std::isnan(res.val_loss) || res.val_loss == 0 ? "" : fmt::format(" val {:.4f}", res.val_loss)));
    bar.advance();
    if ((step + 1) % cfg_["val_every"].get<int64_t>() == 0) {
      res.val_loss = validate();
      if (patience > 0 && !std::isnan(res.val_loss)) {
        if (res.val_loss < best_val) {
          best_val = res.val_loss, res.best_step = step + 1, worse = 0;
          keep_best();
        } else if (++worse >= patience) {
          spdlog::info("early stopping at step {}: validation loss {:.4f} has not improved on {:.4f} (step {}) in {} checks", step + 1,
                       res.val_loss, best_val, res.best_step, patience);
          res.stopped_at = step + 1;
          break;
        }
      }
    }
    if (checkpoint && (step + 1) % checkpoint_every == 0 && step + 1 < steps_) checkpoint(step + 1, ema);
  }
  bar.finish();
  if (!best.empty()) {
    // Back to the weights of the best validation loss.
    torch::NoGradGuard ng;
    auto now = state_tensors();
    for (size_t i = 0; i < now.size(); ++i) now[i].copy_(best[i]);
    spdlog::info("kept the weights of step {} (validation loss {:.4f})", res.best_step, best_val);
  }
  res.val_loss = validate();
  res.steps = res.stopped_at > 0 ? res.stopped_at : steps_;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace astrofm::train
