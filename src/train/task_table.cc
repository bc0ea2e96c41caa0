#include "astrofm/error.h"
#include "augment.h"
#include "tasks.h"

namespace astrofm::train {

// One registration line per task (each defined in src/train/tasks/).
void register_simclr(TaskTable&);
void register_dino(TaskTable&);
void register_supervised(TaskTable&);
void register_spectrum_mm(TaskTable&);
void register_clip(TaskTable&);

const TaskTable& task_table() {
  static const TaskTable t = [] {
    TaskTable t;
    register_simclr(t);
    register_dino(t);
    register_supervised(t);
    register_spectrum_mm(t);
    register_clip(t);
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

nlohmann::json common_config() {
  return {{"steps", 1000}, {"batch", 64}, {"lr", 1e-3}, {"weight_decay", 0.05}, {"warmup", 50}, {"clip_grad", 1.0},
          {"seed", 1}, {"val_fraction", 0.1}, {"val_every", 100}, {"checkpoint_every", 200}};
}

nlohmann::json augment_config() {
  AugmentOptions a;
  return {{"scale_min", a.scale_min}, {"scale_max", a.scale_max}, {"gain_jitter", a.gain_jitter}, {"noise_max", a.noise_max},
          {"blur_prob", a.blur_prob}, {"blur_sigma_max", a.blur_sigma_max}, {"flips", a.flips}};
}

}  // namespace astrofm::train
