#pragma once
// AION-1's any-to-any transformer (AION's aion/fourm/fm.py, from 4M): token
// embeddings per modality with fixed sin-cos positions and a learned modality
// embedding shared by encoder and decoder, pre-LN blocks (SwiGLU without bias,
// QK-norm), an encoder that keeps the first `num_encoder_tokens` visible
// tokens, a decoder of mask tokens with self-attention and cross-attention to
// the encoder, one output head per modality. Module names are AION's, so its
// state dicts load by name (`astrofm convert --kind aion`).
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/table.h"

namespace astrofm::models {

struct AionModality {
  std::string key;     // AION's token key ("tok_image", "tok_flux_g") or astrofm's token column
  std::string column;  // the astrofm token column it reads ("tok_image", "tok_FLUX_G")
  int64_t vocab = 1024, tokens = 1;
  int64_t grid_h = 1, grid_w = 1;  // sin-cos position grid: tokens = h * w
  int64_t id = 0;      // AION's modality id (sha256 of the key mod 2^15)
  // 4M's seq_token (AION's catalog): positions count the tokens present (an
  // absent entry takes no position), codec token k is k + vocab_offset in the
  // embedding (0, 4M's padding, where absent). An input only: AION decodes
  // it autoregressively with 4M's start and sentinel tokens, which no
  // polymathic-aion path does.
  bool sequence = false;
  int64_t vocab_offset = 0;
};

struct AionConfig {
  int64_t dim = 768, encoder_depth = 12, decoder_depth = 12, num_heads = 12, mlp_hidden = 2048;
  bool qk_norm = true;
  // Decoder self-attention: "within_modality" (4M's decoder_sep_mask: each
  // target token attends to the targets of its own modality) or "aion" (what
  // AION 0.0.2's forward does: its all-masked self-attention mask makes every
  // target token average over all targets; needed for parity).
  std::string decoder_self_attention = "within_modality";
  // Scalar (one-token) modalities' embeddings and heads start smooth in bin
  // order rather than random (only the initialisation; converted weights replace it).
  bool ordinal_scalar_init = true;
  int64_t num_encoder_tokens = 256;
  std::vector<AionModality> modalities;
  nlohmann::json to_json() const;
  static AionConfig from_json(const nlohmann::json& j);
  const AionModality& modality(const std::string& key) const;  // NotFound listing the keys
  const AionModality* by_column(const std::string& column) const;
};

// A token column as the model's input for modality `m`: int64 [N, tokens];
// -1 (missing) kept. InputError naming `where`, the column, row and value when
// a token is outside the modality's vocabulary or the shape is wrong.
torch::Tensor aion_tokens(const Column& c, const AionModality& m, const std::string& where);

// InputError naming `where` when `m` cannot be generated (a sequence is an input only).
void check_generable(const AionModality& m, const std::string& where);

// Tokens of some modalities for a batch: (key, int64 [B, n]) in input order,
// with optional masks (true = absent / not given to the encoder).
struct AionInputs {
  std::vector<std::pair<std::string, torch::Tensor>> tokens;
  std::vector<torch::Tensor> masks;  // empty or one per entry of `tokens`
};

struct AionEncoded {
  torch::Tensor context;  // [B, N, D]: the decoder's context (AION's model.encode output)
  torch::Tensor mask;     // bool [B, N]: true where the slot holds no token
};

class AionImpl : public torch::nn::Module {
 public:
  // draw_weights false: parameters are left unset, for weights about to be
  // loaded (a release-size model builds in a fraction of the time).
  // dtype bfloat16 (loaded weights only): half the memory, and matrix products
  // on bfloat16 units (AVX512-BF16 / AMX); embeddings and logits still come out
  // in float32.
  explicit AionImpl(AionConfig cfg, bool draw_weights = true, torch::ScalarType dtype = torch::kFloat32);
  torch::ScalarType dtype() const { return dtype_; }
  AionEncoded encode(const AionInputs& in, int64_t num_encoder_tokens) const;
  // Logits [B, tokens, vocab] of each target modality, in `targets` order.
  std::vector<torch::Tensor> decode(const AionEncoded& enc, const std::vector<std::string>& targets) const;
  // Training's decoder (4M's): only the selected target tokens (`selected[k]`
  // bool [B, tokens] per target), the first `num_decoder_tokens` of each object
  // as its decoder input. Per target: (logits [n, vocab], the flat indices
  // [n] of those tokens in [B, tokens]).
  std::vector<std::pair<torch::Tensor, torch::Tensor>> decode_selected(const AionEncoded& enc, const std::vector<std::string>& targets,
                                                                       const std::vector<torch::Tensor>& selected,
                                                                       int64_t num_decoder_tokens) const;
  const AionConfig& config() const { return cfg_; }

 private:
  struct Impl;
  AionConfig cfg_;
  std::shared_ptr<Impl> impl_;
  torch::ScalarType dtype_ = torch::kFloat32;
};
TORCH_MODULE(Aion);

}  // namespace astrofm::models
