#pragma once
// Internal to astrofm_train: what every training task shares with the loop.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/table.h"
#include "astrofm/train.h"
#include "augment.h"

namespace astrofm::train {

// A training task: a model, its loss on a batch of row indices, what to save.
struct Task {
  virtual ~Task() = default;
  virtual torch::Tensor loss(const std::vector<int64_t>& rows, bool training) = 0;
  virtual std::vector<torch::Tensor> parameters() = 0;
  virtual torch::nn::Module& trained() = 0;   // checkpointed whole (projector, teacher, ...)
  virtual torch::nn::Module& saved() = 0;     // written to the model file
  virtual nlohmann::json meta() = 0;
  virtual void after_step(int64_t /*step*/, int64_t /*steps*/) {}  // e.g. a teacher's EMA update
};

// All rows of some columns of several datasets, in memory.
Table load_columns(const std::vector<std::string>& data, const std::vector<std::string>& cols);
torch::Tensor column_tensor(const Column& c);
torch::Tensor index(const torch::Tensor& t, const std::vector<int64_t>& rows);

// Images of one or several datasets: Legacy-Survey-like flux (bands DES-G/R/Z,
// stretched after augmentation) and 8-bit colour cutouts in [0, 1] (used as
// they are) may be mixed; each row keeps its kind.
struct ImageData {
  torch::Tensor images;   // raw [N, 3, H, W]; flux rows in g, r, z order
  torch::Tensor is_flux;  // [N] bool
  std::vector<std::string> kinds;
  torch::Tensor prepare(const torch::Tensor& x, const std::vector<int64_t>& rows) const;
};
ImageData load_images(const Table& t, const std::string& where);

AugmentOptions augment_options(const nlohmann::json& augment, int64_t crop);

// Image pre-training: config "method" simclr (default) or dino.
std::unique_ptr<Task> make_image_ssl(const nlohmann::json& cfg, const Table& t, const std::string& where);
// Supervised-from-scratch CNN on images; rows with a label only (labels[i] NaN: none).
std::unique_ptr<Task> make_supervised(const nlohmann::json& cfg, const Table& t, const std::vector<double>& labels,
                                      const std::string& where);

}  // namespace astrofm::train
