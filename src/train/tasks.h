#pragma once
// Internal to astrofm_train: what every training task shares with the loop.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/model_file.h"
#include "astrofm/table.h"
#include "astrofm/train.h"
#include "astrofm/models/preprocess.h"
#include "augment.h"

namespace astrofm::train {

// A training task: a model, its loss on a batch of row indices, what to save.
struct Task {
  virtual ~Task() = default;
  // Where the model runs. Batches are prepared (augmented, masked) on the CPU
  // from the same random streams on every device, then moved here: a CUDA
  // run sees the very batches a CPU run does (docs/scaling.md).
  torch::Device device = torch::kCPU;
  torch::Tensor dev(const torch::Tensor& t) const { return t.defined() ? t.to(device) : t; }
  virtual torch::Tensor loss(const std::vector<int64_t>& rows, bool training) = 0;
  virtual std::vector<torch::Tensor> parameters() = 0;
  // The trained parameters in groups with learning-rate multipliers (e.g.
  // layer-wise decay when fine-tuning); default: one group at the full rate.
  virtual std::vector<std::pair<std::vector<torch::Tensor>, double>> parameter_groups() { return {{parameters(), 1.0}}; }
  virtual torch::nn::Module& trained() = 0;   // checkpointed whole (projector, teacher, ...)
  virtual torch::nn::Module& saved() = 0;     // written to the model file
  virtual nlohmann::json meta() = 0;
  virtual void after_step(int64_t /*step*/, int64_t /*steps*/) {}  // e.g. a teacher's EMA update
  // Once before the first step of a fresh run (not on --resume), with the
  // training rows (validation rows excluded): e.g. fitting a head first.
  virtual void before_training(const std::vector<int64_t>& /*train_rows*/) {}
  // The trained model file; default: saved() through the architecture table.
  virtual ModelFile model_file(const nlohmann::json& meta);
};

// A training task as a table entry: one file per task under src/train/tasks/,
// one registration line in task_table.cc.
struct TaskSpec {
  std::string name, description;
  // Its own options: `astrofm train` offers them as flags with no other edit,
  // and refuses them for other tasks.
  std::vector<TaskOption> options;
  // Optional: the task's options applied to its settings (e.g. --objective),
  // checked before any data is read.
  std::function<void(nlohmann::json& cfg, const TrainOptions& opt)> configure;
  // Every setting the task takes with its default; a user's --config may
  // only override these keys (strict, at any depth).
  std::function<nlohmann::json()> default_config;
  // Columns read from the training data.
  std::function<std::vector<std::string>(const TrainOptions&)> columns;
  // `t` may be filtered in place (e.g. to labelled rows).
  std::function<std::unique_ptr<Task>(const nlohmann::json& cfg, Table& t, const TrainOptions& opt, const std::string& where)> make;
  // Optional: reads the training data itself (datasets whose layouts differ,
  // e.g. images with different band sets); default: load_columns(data, columns).
  std::function<Table(const nlohmann::json& cfg, const TrainOptions& opt)> load;
};

class TaskTable {
 public:
  void add(TaskSpec s);
  const TaskSpec& at(const std::string& name) const;  // UsageError listing the known tasks
  std::vector<std::string> names() const;
  std::vector<TrainingTask> described() const;

 private:
  std::map<std::string, TaskSpec> table_;
};
const TaskTable& task_table();

// Settings every task shares (steps, batch, lr, ...), and the augmentations.
nlohmann::json common_config();
nlohmann::json augment_config();

// All rows of some columns of several datasets, in memory.
Table load_columns(const std::vector<std::string>& data, const std::vector<std::string>& cols);
torch::Tensor index(const torch::Tensor& t, const std::vector<int64_t>& rows);

// Images of one or several datasets: Legacy-Survey-like flux (bands DES-G/R/Z,
// stretched after augmentation) and 8-bit colour cutouts in [0, 1] (used as
// they are) may be mixed; each row keeps its kind. The pixels stay in the
// columns as read, and each batch goes through the inference path's steps
// (models::image_pixels, then the stretch): the training set is held once.
struct ImageData {
  Table columns;  // image_array, image_band
  models::ImageBands bands;
  std::vector<std::string> kinds;
  int64_t rows() const { return columns.rows(); }
  // Pixels of `rows` (crop > 0: centre-cropped), float32, flux rows in g, r, z order.
  torch::Tensor pixels(const std::vector<int64_t>& rows, int64_t crop = 0) const;
  // The stretch of the flux rows among `rows` (x: their pixels, after augmentation).
  torch::Tensor prepare(const torch::Tensor& x, const std::vector<int64_t>& rows) const;
};
// Moves the image columns out of `t` (the other columns stay).
ImageData load_images(Table& t, const std::string& where);

AugmentOptions augment_options(const nlohmann::json& augment, int64_t crop);

torch::Tensor l2n(const torch::Tensor& x);

// What the CNN encoder's image pre-training tasks (simclr, dino, simmim)
// share: their settings before their own (common_config, architecture cnn,
// the CNN's shape, the augmentations), the columns they read, and what the
// model file records.
nlohmann::json cnn_pretraining_config();
std::vector<std::string> image_columns(const TrainOptions&);
nlohmann::json cnn_encoder_meta(const nlohmann::json& cfg, const ImageData& data, nlohmann::json training);

}  // namespace astrofm::train
