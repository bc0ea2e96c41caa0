#include "astrofm/error.h"
#include "augment.h"
#include "tasks.h"

namespace astrofm::train {

// The registered tasks: one line each, defined in src/train/tasks/<name>.cc
// as register_<name>(TaskTable&).
#define ASTROFM_TASKS(X) \
  X(simclr)              \
  X(dino)                \
  X(supervised)          \
  X(spectrum_mm)         \
  X(clip)                \
  X(codec_image)         \
  X(codec_spectrum)      \
  X(aion)                \
  /* add a task above this line */

#define ASTROFM_DECLARE(name) void register_##name(TaskTable&);
ASTROFM_TASKS(ASTROFM_DECLARE)
#undef ASTROFM_DECLARE

const TaskTable& task_table() {
  static const TaskTable t = [] {
    TaskTable t;
#define ASTROFM_REGISTER(name) register_##name(t);
    ASTROFM_TASKS(ASTROFM_REGISTER)
#undef ASTROFM_REGISTER
    return t;
  }();
  return t;
}

void TaskTable::add(TaskSpec s) {
  ASTROFM_ASSERT(!s.name.empty() && s.default_config && s.columns && s.make, "task '{}' is incomplete", s.name);
  ASTROFM_ASSERT(!table_.count(s.name), "task '{}' registered twice", s.name);
  table_[s.name] = std::move(s);
}

const TaskSpec& TaskTable::at(const std::string& name) const {
  auto it = table_.find(name);
  if (it == table_.end()) fail_usage("unknown training task '{}' ({}, or image-ssl)", name, fmt::join(names(), ", "));
  return it->second;
}

std::vector<std::string> TaskTable::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : table_) out.push_back(k);
  return out;
}

std::vector<std::pair<std::string, std::string>> TaskTable::described() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : table_) out.emplace_back(k, v.description);
  return out;
}


nlohmann::json common_config() {
  return {{"steps", 1000}, {"batch", 64}, {"accumulate", 1}, {"lr", 1e-3}, {"weight_decay", 0.05}, {"warmup", 50}, {"clip_grad", 1.0},
          {"seed", 1}, {"val_fraction", 0.1}, {"val_every", 100}, {"checkpoint_every", 200},
          // > 0: stop after this many validations without a better validation
          // loss and keep the best weights; 0: train every step, keep the last.
          {"early_stopping", 0}};
}

nlohmann::json augment_config() {
  AugmentOptions a;
  return {{"scale_min", a.scale_min}, {"scale_max", a.scale_max}, {"gain_jitter", a.gain_jitter}, {"noise_max", a.noise_max},
          {"blur_prob", a.blur_prob}, {"blur_sigma_max", a.blur_sigma_max}, {"flips", a.flips}};
}

}  // namespace astrofm::train

namespace astrofm {
std::vector<std::pair<std::string, std::string>> training_tasks() { return train::task_table().described(); }
}  // namespace astrofm
