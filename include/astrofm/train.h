#pragma once
// `astrofm train`: the task table's tasks (src/train/tasks/): self-supervised
// pre-training of the image encoder (SimCLR or DINO), masked modelling of the spectrum encoder, contrastive
// image-spectrum alignment (AstroCLIP), the supervised-from-scratch CNN
// baseline, the codecs, and AION's multimodal masked modelling. Checkpoints (model, optimizer, step) every K steps and on SIGINT;
// --resume continues bit-identically on CPU for a fixed seed.
// Thread-safety: train_model() is a whole job using every core; one at a time per output. A
// Communicator is called from the training thread only.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace astrofm {

class Communicator;
class Table;

// An option a task declares for itself: `astrofm train TASK --NAME VALUE`
// on the command line, TrainOptions::task_options["NAME"] in a program.
struct TaskOption {
  std::string name;        // "target", "init-image"
  std::string help;
  bool multiple = false;   // takes several values (--codecs A B)
  bool required = false;
};
struct TrainingTask {
  std::string name, description;
  std::vector<TaskOption> options;
};

struct TrainOptions {
  std::string task;                 // a registered task (training_tasks()), or image-ssl (simclr or dino by "method")
  std::vector<std::string> data;    // MMU datasets (clip: paired image + spectrum rows)
  // The training rows in memory instead of reading `data` (the task's
  // columns); `data` then only names them in messages and the model's record.
  std::shared_ptr<const Table> table;
  std::string config;               // JSON file (see configs/); empty: the task's defaults
  std::string settings;             // a JSON object of settings over the config file's (programs)
  std::string out;                  // model file to write; empty: TrainResult::model holds its bytes (no checkpoints)
  // The task's own options by name (TrainingTask::options): {"target", {"Z"}}.
  std::map<std::string, std::vector<std::string>> task_options;
  int64_t steps = 0, batch = 0;     // > 0 override the config
  uint64_t seed = 0;                // 0: the config's
  int64_t checkpoint_every = 0;     // > 0 overrides the config
  bool resume = false;
  bool overwrite = false;
  // cpu | cuda | cuda:N. On CUDA the model, its gradients and the optimizer
  // live on the GPU; batches are still prepared on the CPU from the same
  // random streams, so a CUDA run trains on the very batches a CPU run does.
  std::string device = "cpu";
  // fp32 | bf16 (autocast to bfloat16 on CUDA; float32 weights, gradients and
  // optimizer state; no loss scaling needed) | auto: bf16 on CUDA, fp32 on CPU.
  std::string precision = "auto";
  int64_t interrupt_at = -1;        // tests: behave as if interrupted (SIGINT) before this step
  // Data-parallel training: each rank takes its slice of every global batch
  // and gradients are averaged; null: a single process (communicator.h).
  std::shared_ptr<Communicator> comm;

  // A task option's single value, "" when not given; all of its values.
  std::string option(const std::string& name) const;
  std::vector<std::string> options(const std::string& name) const;
};

struct TrainResult {
  int64_t steps = 0;
  double train_loss = 0, val_loss = 0, seconds = 0;
  int64_t train_objects = 0, val_objects = 0;
  std::string model;  // the model file's bytes when TrainOptions::out is empty
};

TrainResult train_model(const TrainOptions& opt);

// The registered tasks with their options, from the task table: what
// `astrofm train --help` lists and accepts (with image-ssl, SimCLR or DINO by
// the config's method, and codec-scalar, fitted rather than trained).
std::vector<TrainingTask> training_tasks();

// A supervised model's (`train supervised`) predictions for every row of an
// image dataset, in reading order: the value (regression) or class index.
struct SupervisedPredictions {
  std::vector<std::string> ids;
  std::vector<double> values;
  std::vector<std::string> classes;  // classification: index -> label as written
};
SupervisedPredictions predict_supervised(const std::string& model, const std::string& data);
// The same for a model file's bytes (TrainResult::model) and image rows in
// memory (object_id, image_array, image_band); `name` labels messages.
SupervisedPredictions predict_supervised(const std::string& model_bytes, const Table& images, const std::string& name);

}  // namespace astrofm
