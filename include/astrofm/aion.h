#pragma once
// AION as one object: the transformer and its codecs loaded once and shared
// by tokenizing, embedding and generating. Raw MMU columns go in (images with
// their band names, spectra on any grid, catalogue scalars; token columns are
// taken as they are); tokens, embeddings (the mean and, asked, every token)
// and any modality generated from any others come out. What the service's
// /v1/embeddings and /v1/generate and Python's astrofm.AION hold. Torch-free
// header.
//
//   astrofm::Aion aion("aion-base");          // a bundle, a snapshot folder or a registered name
//   astrofm::Table e = aion.embed(cutouts);    // embedding_<first modality> [N, D]
//   astrofm::Table z = aion.generate(cutouts, {.to = "Z"});
//
// Thread-safety: every method is const and may be called from several
// threads; generation runs one call at a time (torch's seed is global).
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/encoder.h"
#include "astrofm/generate.h"
#include "astrofm/table.h"

namespace astrofm {

// Whether `model` (a path or a name) is an AION model, from its header alone.
bool is_aion_model(const std::string& model);

struct AionOptions {
  // Codec files; empty: the model's own (a bundle or a snapshot folder). A
  // transformer without codecs embeds token columns only and cannot generate.
  std::vector<std::string> codecs;
  std::string dtype = "float32";  // or bfloat16: half the memory
};

class Aion {
 public:
  explicit Aion(const std::string& model, AionOptions opt = {});
  ~Aion();
  Aion(const Aion&) = delete;
  Aion& operator=(const Aion&) = delete;

  const std::string& name() const;
  const std::string& path() const;
  const nlohmann::json& meta() const;
  // The token columns the transformer takes (tok_image, tok_FLUX_G, ...).
  std::vector<std::string> token_columns() const;
  bool can_generate() const;

  // `rows` plus the token columns the model's codecs make from its raw
  // columns (not Z, ra, dec unless `also` names them: a target and a
  // position are never slipped into an embedding unasked). Images without
  // image_ivar get unit weights (flux) or none (8-bit display cutouts).
  Table tokenize(const Table& rows, const std::string& where = "request", const std::vector<std::string>& also = {}) const;
  // embedding_<first modality> [N, D] (and tokens_<...> [N, T, D] with
  // `tokens`) from raw or token columns; `also` as in tokenize.
  Table embed(const Table& rows, bool tokens = false, const std::string& where = "request", const std::vector<std::string>& also = {}) const;
  // object_id, ra, dec and the target's columns (see generate.h).
  Table generate(const Table& rows, const GenerateRequest& r, const std::string& where = "request") const;
  const Encoder& encoder() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace astrofm
