#pragma once
// Internal: helpers the architectures' checkpoint converters share.
#include <string>
#include <vector>

#include "astrofm/models/architecture.h"

namespace astrofm::models {

// Strips the first prefix any name carries from every name that has it.
StateDict strip_prefix(const StateDict& in, const std::vector<std::string>& prefixes);
// DINOv2 checkpoints trained with block chunks name blocks "blocks.<chunk>.<i>": renumber them.
StateDict unchunk_blocks(const StateDict& in, const std::string& prefix);
int64_t count_blocks(const StateDict& sd, const std::string& prefix, const std::string& probe);
const torch::Tensor& need_tensor(const StateDict& sd, const std::string& k, const std::string& where);
// ViT / SpecFormer configs read off the weights (+ hyper-parameters for heads).
nlohmann::json vit_config_from(const StateDict& sd, const std::string& prefix, const nlohmann::json& hp, const std::string& where);
nlohmann::json specformer_config_from(const StateDict& sd, const std::string& prefix, const nlohmann::json& hp, const std::string& where);

}  // namespace astrofm::models
