#pragma once
// Internal to astrofm_train: the training loop on its own, apart from reading
// data, checkpoint files and model metadata (train.cc does those). It runs
// the schedule (warm-up, cosine), splits each global batch into micro-batches
// over ranks x accumulate, all-reduces gradients and running statistics,
// validates, stops early and keeps the best weights.
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/communicator.h"
#include "tasks.h"

namespace astrofm::train {

struct LoopResult {
  double train_loss = 0, val_loss = NAN;  // train_loss 0 when no step ran (a resume at the end), as before
  int64_t steps = 0;       // steps run to (early stopping: where it stopped)
  int64_t best_step = 0;   // early stopping: the step whose weights were kept
  int64_t stopped_at = 0;  // early stopping: 0 when it ran every step
  int64_t interrupted_at = -1;  // a signal (or --interrupt-at) stopped it here
  double seconds = 0;
  bool bf16 = false;
};

class TrainingLoop {
 public:
  // `cfg`: the task's settings (steps, batch, accumulate, lr, warmup,
  // weight_decay, clip_grad, val_every, early_stopping, seed). Broadcasts
  // rank 0's starting parameters to every rank.
  // `name` labels the progress bar; `where` names the data in errors.
  TrainingLoop(Task& task, Communicator& comm, std::vector<int64_t> train_rows, std::vector<int64_t> val_rows, const nlohmann::json& cfg,
               const std::string& name, const std::string& where, const std::string& precision);
  torch::optim::AdamW& optimizer() { return adam_; }
  int64_t batch() const { return batch_; }
  // Steps [start, steps). `checkpoint(step, loss)` runs every
  // `checkpoint_every` steps and before returning on a signal; null: none.
  LoopResult run(int64_t start, int64_t checkpoint_every, const std::function<void(int64_t step, double loss)>& checkpoint,
                 int64_t interrupt_at = -1);
  // Mean loss over the validation rows, with fixed randomness; NaN without any.
  double validate();

 private:
  Task& task_;
  Communicator& comm_;
  std::vector<int64_t> train_, val_;
  nlohmann::json cfg_;
  std::string name_, precision_;
  int64_t steps_, batch_, accumulate_, micro_;
  std::vector<double> lr_mult_;  // per parameter group, times the schedule
  torch::optim::AdamW adam_;
};

}  // namespace astrofm::train
