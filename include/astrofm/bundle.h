#pragma once
// AION as one file: a bundle is a model file whose "model" part is the
// transformer and whose other parts are its codecs, one per modality
// (docs/formats/model-file.md). `--model BUNDLE` needs no `--codecs`; a
// released Hugging Face snapshot folder works the same way, converted in memory.
// Torch-free interface.
// Thread-safety: independent per call.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/model_file.h"
#include "astrofm/table.h"

namespace astrofm {

// The bundle of a snapshot folder (transformer + every codec it ships),
// checked: each codec's token count and vocabulary must be what the
// transformer's modality takes (InputError naming the codec's config.json).
ModelFile snapshot_bundle(const std::string& snapshot_dir);

// `astrofm convert SNAPSHOT --out FILE`: the bundle written atomically; returns its meta.
nlohmann::json convert_snapshot(const std::string& snapshot_dir, const std::string& out, const nlohmann::json& set = nlohmann::json::object());

// The codec sources for a model: `codecs` when given, else the model itself
// when it is a bundle or a snapshot folder (else empty).
std::vector<std::string> codecs_for_model(const std::string& model_path, const std::vector<std::string>& codecs);

namespace codecs {
class CodecSet;
}

// Raw MMU columns to the token columns an AION bundle or snapshot reads, by
// its own codecs: what lets `astrofm embed --model aion-base` take a Legacy
// Survey or HSC dataset as it is. A Legacy Survey image becomes tok_image, an
// HSC one (HSC-* bands) tok_image_hsc.
class RawTokenizer {
 public:
  RawTokenizer() = default;
  // The codecs of `model_path` (none unless it is a bundle or a snapshot)
  // whose inputs are all among `columns`, except where the data already holds
  // that token column. `only` (token columns): just those; empty: all but
  // redshift and position (tok_Z, tok_ra, tok_dec: a target and where the
  // object is, never slipped into an embedding unasked). `also`: added when
  // there (a generation target's truth).
  RawTokenizer(const std::string& model_path, const std::vector<std::string>& columns, const std::string& where,
               const std::vector<std::string>& only = {}, const std::vector<std::string>& also = {});
  // The same with those codecs already loaded (the caller's; null: none).
  RawTokenizer(std::shared_ptr<const codecs::CodecSet> model_codecs, const std::vector<std::string>& columns, const std::string& where,
               const std::vector<std::string>& only = {}, const std::vector<std::string>& also = {});
  bool empty() const { return made_.empty(); }
  std::vector<std::string> token_columns() const;
  bool makes(const std::string& token_column) const {
    return made_.count(token_column) > 0 || (token_column == "tok_image_hsc" && made_.count("tok_image") > 0);
  }
  std::vector<std::string> inputs_of(const std::string& token_column) const;
  // `batch` plus the token columns (InputError naming the data on bad values).
  Table tokenize(const Table& batch) const;

 private:
  std::shared_ptr<const codecs::CodecSet> set_;
  std::map<std::string, std::string> made_;  // token column -> codec modality
  std::string where_;
};

}  // namespace astrofm
