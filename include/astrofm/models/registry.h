#pragma once
// Loading and saving model files, and PyTorch checkpoint conversion, through
// the architecture table (architecture.h).
// Thread-safety: loading, saving and converting are independent per file; the architecture table
// is read-only.
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/model_file.h"

namespace astrofm::models {

struct LoadedModel {
  std::string architecture;  // "astroclip" | "vit" | "specformer"
  nlohmann::json meta;       // the whole model-file header
  std::shared_ptr<torch::nn::Module> module;
};

// Model tensors to and from the model file's stored tensors (dtype kept when the
// file format has it, else float32).
StoredTensor to_stored(const std::string& name, const torch::Tensor& t);
torch::Tensor from_stored(const StoredTensor& s);
// The stored bytes as a tensor without a copy (a view into the file's map);
// `keep` (the ModelFile's owner) lives as long as the tensor does.
torch::Tensor view_stored(const StoredTensor& s, std::shared_ptr<const void> keep);

// Builds an untrained module of `architecture` from its config (see
// architecture.h for what each architecture declares).
// `to_load`: the weights are about to be loaded, so they need not be drawn.
std::shared_ptr<torch::nn::Module> build_model(const std::string& architecture, const nlohmann::json& config, bool to_load = false,
                                               torch::ScalarType dtype = torch::kFloat32);
// "float32" | "bfloat16" -> the dtype; UsageError naming the value otherwise.
torch::ScalarType parse_model_dtype(const std::string& name);
std::vector<std::string> architectures();

// Copies tensors into the module's parameters and buffers by name. Throws
// InputError naming the tensor on a missing name or a shape mismatch;
// unexpected extra names are an error too when strict.
void load_state(torch::nn::Module& m, const std::map<std::string, torch::Tensor>& state, const std::string& where,
                bool strict = true);
std::map<std::string, torch::Tensor> state_of(torch::nn::Module& m);

// The architecture at `path` from its header alone (no weights read): a
// bundle or a released snapshot folder is "aion"; a PyTorch checkpoint, "" (known once converted).
std::string architecture_of(const std::string& path);

// A model file, bundle or released snapshot folder. `dtype` bfloat16: the
// weights are held and multiplied in bfloat16 (AION only; half the memory).
LoadedModel load_model(const std::string& path, torch::Device device = torch::kCPU, torch::ScalarType dtype = torch::kFloat32);
// A model file already in memory (ModelFile::from_bytes); `name` labels messages.
LoadedModel load_model(ModelFile mf, const std::string& name, torch::Device device = torch::kCPU,
                       torch::ScalarType dtype = torch::kFloat32);
// A PyTorch checkpoint as released (AstroCLIP, AstroDINO, SpecFormer or AION
// state dicts, Lightning checkpoints), its kind read off the tensor names,
// converted in memory; load_model does this for any zip file it is given.
LoadedModel load_checkpoint(const std::string& path, torch::Device device = torch::kCPU);
// meta must hold "architecture" and "config"; tensors are taken from the module.
ModelFile model_file_of(torch::nn::Module& m, const nlohmann::json& meta);
void save_model(const std::string& path, torch::nn::Module& m, const nlohmann::json& meta);

// A PyTorch checkpoint (torch.save of a state_dict, or a Lightning checkpoint
// with "state_dict" and "hyper_parameters") converted to an astrofm model file.
// kind: any architecture's convert kind ("astroclip", "specformer", "astrodino"). Returns the model file's meta.
nlohmann::json convert_checkpoint(const std::string& checkpoint, const std::string& kind, const std::string& out,
                                  const nlohmann::json& overrides = {});

// Any astrofm model file with its float32 tensors stored as float16: half the
// size (`astrofm convert --kind float16`); loading casts back to float32, so
// results move by float16's rounding only (~1e-3 relative). Sets meta
// "storage"; `set` may give a new "name" and "description".
nlohmann::json store_float16(const std::string& in, const std::string& out, const nlohmann::json& set = nlohmann::json::object());

}  // namespace astrofm::models
