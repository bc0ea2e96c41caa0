#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/cnn.h"
#include "augment.h"
#include "tasks.h"

namespace astrofm::train {

// The registered tasks: every file src/train/tasks/<name>.cc defines
// register_<name>(TaskTable&); the build lists them (ASTROFM_TASKS, generated
// from the folder by src/CMakeLists.txt), so a new task is that one file.
#include "task_list.h"

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
  for (const auto& o : s.options)
    ASTROFM_ASSERT(!o.name.empty() && o.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos,
                   "task '{}': option '{}' is not a flag name", s.name, o.name);
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

std::vector<TrainingTask> TaskTable::described() const {
  std::vector<TrainingTask> out;
  for (const auto& [k, v] : table_) out.push_back({k, v.description, v.options});
  return out;
}


nlohmann::json common_config() {
  return {{"steps", 1000}, {"batch", 64}, {"accumulate", 1}, {"lr", 1e-3}, {"weight_decay", 0.05}, {"warmup", 50}, {"clip_grad", 1.0},
          {"seed", 1}, {"val_fraction", 0.1}, {"val_every", 100}, {"checkpoint_every", 200},
          // > 0: stop after this many validations without a better validation
          // loss and keep the best weights; 0: train every step, keep the last.
          {"early_stopping", 0}};
}

nlohmann::json cnn_pretraining_config() {
  auto c = common_config();
  c["architecture"] = "cnn";
  c["model"] = models::CnnConfig{}.to_json();
  c["augment"] = augment_config();
  return c;
}

std::vector<std::string> image_columns(const TrainOptions&) { return {mmu::kObjectId, mmu::kImageArray, mmu::kImageBand}; }

nlohmann::json cnn_encoder_meta(const nlohmann::json& cfg, const ImageData& data, nlohmann::json training) {
  return {{"architecture", "cnn"}, {"config", cfg["model"]}, {"preprocessing", {{"image", {{"kinds", data.kinds}}}}}, {"training", std::move(training)}};
}

nlohmann::json augment_config() {
  AugmentOptions a;
  return {{"scale_min", a.scale_min}, {"scale_max", a.scale_max}, {"gain_jitter", a.gain_jitter}, {"noise_max", a.noise_max},
          {"blur_prob", a.blur_prob}, {"blur_sigma_max", a.blur_sigma_max}, {"flips", a.flips}};
}

}  // namespace astrofm::train

namespace astrofm {
std::vector<TrainingTask> training_tasks() { return train::task_table().described(); }

std::vector<std::string> TrainOptions::options(const std::string& name) const {
  auto it = task_options.find(name);
  return it == task_options.end() ? std::vector<std::string>{} : it->second;
}

std::string TrainOptions::option(const std::string& name) const {
  auto v = options(name);
  if (v.size() > 1) fail_usage("--{}: one value, got {}", name, v.size());
  return v.empty() ? "" : v.front();
}
}  // namespace astrofm
