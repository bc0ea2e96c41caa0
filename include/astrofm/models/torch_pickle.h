#pragma once
// Reads PyTorch checkpoints written by torch.save (the zip format) without
// Python: a small pickle interpreter for what checkpoints contain (dicts,
// OrderedDicts with metadata, lists, tuples, numbers, strings, tensors and
// their storages; any other class becomes an opaque object). libtorch 1.13's
// own unpickler lacks SETITEM and BUILD, which every nn.Module state_dict uses.
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace astrofm::models {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind { None, Bool, Int, Float, String, Tensor, List, Tuple, Dict, Global, Object, Storage, Mark };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // String; Global "module.name"; Object class; Storage record key
  torch::Tensor tensor;
  std::vector<PickleRef> items;                          // List, Tuple; Object args
  std::vector<std::pair<PickleRef, PickleRef>> entries;  // Dict; Object state when a dict
  torch::ScalarType storage_type = torch::kFloat32;
};

struct Checkpoint {
  std::map<std::string, torch::Tensor> tensors;  // the state_dict (or the top-level dict of tensors)
  nlohmann::json hyper_parameters;               // numbers, strings and bools of "hyper_parameters"
};

// Throws InputError naming the file on anything it cannot read.
PickleRef read_torch_pickle(const std::string& path);
Checkpoint read_checkpoint(const std::string& path);

}  // namespace astrofm::models
