#pragma once
// Architectures as a table (in the spirit of llama.cpp's llama-arch): each
// architecture declares, from its own file under src/models/arch/, its name,
// the modalities it embeds, its default config, a builder, its preprocessing
// (what the model file records and how a batch becomes input tensors), how
// it embeds (one vector and the token outputs per object) and which PyTorch
// checkpoints it converts. Adding one is a new src/models/arch/<name>.cc plus
// one registration line in src/models/architecture.cc.
// Thread-safety: the table is built once on first use and then read-only.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/modality.h"
#include "astrofm/table.h"

namespace astrofm::models {

using Module = std::shared_ptr<torch::nn::Module>;
using StateDict = std::map<std::string, torch::Tensor>;

struct Embedded {
  torch::Tensor embedding;  // [B, D]
  torch::Tensor tokens;     // [B, T, D] when asked for, else undefined
};

struct Converted {
  nlohmann::json config;
  StateDict state;  // names as the module's own
};

struct Architecture {
  std::string name;
  std::string description;
  std::vector<std::string> modalities;  // of the modality table: "image", "spectrum"
  std::function<nlohmann::json()> default_config;
  std::function<Module(const nlohmann::json& config)> build;
  // Optional: the module without its starting weights drawn, for weights about
  // to be loaded (what makes a release-size model quick to open).
  // `dtype`: float32, or bfloat16 where the architecture runs in it.
  std::function<Module(const nlohmann::json& config, torch::ScalarType dtype)> build_to_load;
  // The preprocessing recorded in a new model file of this architecture
  // ({"image": {...}, "spectrum": {...}}; see docs/models.md).
  std::function<nlohmann::json(const nlohmann::json& config)> preprocessing;
  // A batch's modality columns -> the model's input for `modality`, on the CPU.
  // `pre` is the model file's preprocessing for that modality.
  std::function<torch::Tensor(torch::nn::Module& m, ModalityKind modality, const Table& batch, const nlohmann::json& pre,
                              const std::string& where)>
      prepare;
  std::function<Embedded(torch::nn::Module& m, ModalityKind modality, const torch::Tensor& input, bool tokens)> embed;
  // Checkpoint kinds this architecture converts (`astrofm convert --kind K`),
  // from a PyTorch state dict (prefixes "module."/"model." stripped) and
  // hyper-parameters the weights do not reveal.
  std::vector<std::string> convert_kinds;
  // Models that embed all their inputs together (AION): the columns a model
  // reads, from its config, and one joint embedding per object, written as
  // embedding_<modalities[0]> (and tokens_<modalities[0]>). `prepare` and
  // `embed` are then unused.
  std::function<std::vector<std::string>(torch::nn::Module& m)> joint_inputs;
  std::function<Embedded(torch::nn::Module& m, const Table& batch, bool tokens, const std::string& where)> embed_joint;
  std::function<Converted(const std::string& kind, StateDict sd, const nlohmann::json& hp, const std::string& where)> convert;
};

class ArchitectureTable {
 public:
  void add(Architecture a);
  // Throws InputError (NotFound) naming the unknown name and listing the known ones.
  const Architecture& at(const std::string& name) const;
  const Architecture* find(const std::string& name) const;
  const Architecture* for_convert_kind(const std::string& kind) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, Architecture> table_;
};

const ArchitectureTable& architecture_table();

// Shared by several architectures' files.
torch::Tensor batch_tensor(const Column& c, const std::string& where);  // float32 [N, ...] copy
Column tensor_column(const std::string& name, const torch::Tensor& t);  // [N, ...] -> a float32 column (a CPU copy)
// Images per the recorded preprocessing: rows holding the stretch's bands
// (Legacy-Survey flux) get the asinh RGB stretch, other rows (8-bit cutouts
// in [0, 1]) are used as they are; optional spatial-axis swap; centre crop
// to `crop` with torchvision's rounding.
// The recorded preprocessing of a Legacy-Survey-stretch image model (bands,
// scales, offset, Q from RgbStretch's defaults; no axis swap; the crop).
// `with_cutouts`: the model also saw 8-bit cutouts (astrofm's trained image models).
nlohmann::json stretch_preprocessing(int64_t crop, bool with_cutouts);
torch::Tensor prepare_images(const Table& batch, const nlohmann::json& pre, int64_t crop, int64_t channels, const std::string& where);

}  // namespace astrofm::models
