#pragma once
// Released weights as published: Hugging Face snapshot folders of AION-1
// (astrofm/aion_release.h) opened as astrofm models, and the weight files in
// them (safetensors, or torch.save's zip as pytorch_model.bin).
// Thread-safety: independent per call.
#include <map>
#include <string>

#include <torch/torch.h>

#include "astrofm/aion_release.h"
#include "astrofm/models/registry.h"

namespace astrofm::models {

// A weights file's tensors by name: model.safetensors (shared-tensor aliases
// expanded) or a PyTorch checkpoint. Tensors keep the file's dtype.
std::map<std::string, torch::Tensor> read_weights(const std::string& path);

// The AION transformer of a snapshot as an astrofm model: meta (architecture
// "aion", config, provenance) and its tensors named as the module's. The
// config's settings come from config.json and are checked against the weights
// (InputError naming config.json and the field on a disagreement).
struct SnapshotTransformer {
  nlohmann::json meta;
  std::map<std::string, torch::Tensor> state;
};
SnapshotTransformer snapshot_transformer(const aion::Snapshot& s);

// load_model for a snapshot folder: built and loaded in memory, nothing written.
LoadedModel load_snapshot(const std::string& dir, torch::Device device = torch::kCPU, torch::ScalarType dtype = torch::kFloat32);

}  // namespace astrofm::models
