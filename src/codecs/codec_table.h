#pragma once
// Internal to astrofm_codecs: the codec kinds as a table. Adding a kind is a
// new src/codecs/<kind>.cc defining register_<kind>(CodecTable&) plus one
// X(<kind>) line in codec_table.cc.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "astrofm/aion_release.h"
#include "astrofm/codecs.h"
#include "astrofm/models/architecture.h"  // batch_tensor, tensor_column
#include "astrofm/models/registry.h"

namespace astrofm::codecs {

using StateDict = std::map<std::string, torch::Tensor>;

struct CodecSpec {
  std::string kind, description;
  ModalityKind modality_kind = ModalityKind::Scalar;
  std::function<nlohmann::json()> default_config;
  // A codec from its model-file part (meta + tensors).
  std::function<std::shared_ptr<const Codec>(const ModelFile& part, const std::string& where)> load;
  std::vector<std::string> convert_kinds;  // "aion-codec-image"
  std::function<std::shared_ptr<const Codec>(const std::string& kind, const StateDict& sd, const nlohmann::json& hp,
                                             const std::string& where)>
      convert;
};

class CodecTable {
 public:
  void add(CodecSpec s);
  const CodecSpec& at(const std::string& kind) const;  // NotFound listing the kinds
  const CodecSpec* for_convert_kind(const std::string& kind) const;
  std::vector<std::string> kinds() const;

 private:
  std::map<std::string, CodecSpec> table_;
};
const CodecTable& codec_table();

// A codec of a released snapshot (codecs/<name>/config.json + weights),
// converted in memory; its settings come from its config.json.
std::shared_ptr<const Codec> codec_from_snapshot(const aion::SnapshotCodec& c);

// A segmentation-map codec with freshly initialised weights (tests; the
// release's come through codec_from_snapshot). config: the kind's default_config keys.
std::shared_ptr<const Codec> make_field_codec(const nlohmann::json& config);

// Shared helpers.
ModelFile module_part(torch::nn::Module& m, const CodecInfo& info);  // tensors of m + meta
StateDict part_state(const ModelFile& part);  // a part's tensors by name
void load_module(torch::nn::Module& m, const ModelFile& part, const std::string& where);
const torch::Tensor& need(const StateDict& sd, const std::string& key, const std::string& where);
// Per row: an 8-bit display image (no image_ivar, or NaN everywhere in the row).
std::vector<bool> display_rows(const Table& batch);
torch::Tensor column_tensor(const Column& c, const std::string& where);  // float32 copy [N, ...]
Column tokens_column(const std::string& modality, const torch::Tensor& tokens);  // int32 [N, T]
// A codec's model-file part: the header every kind writes (kind, config,
// modality, token counts) and its named tensors.
ModelFile codec_part(const CodecInfo& info, const std::vector<std::pair<std::string, torch::Tensor>>& tensors);
// int32 [N, T] tokens checked against the vocabulary (kMissing allowed when `allow_missing`).
torch::Tensor tokens_tensor(const Column& tokens, const CodecInfo& info, bool allow_missing, const std::string& where);

}  // namespace astrofm::codecs
