// AION's configuration (the model file header's table of modalities, read
// and checked in one place) and the checks on the tokens it is fed.
#include "astrofm/error.h"
#include "astrofm/models/aion.h"

namespace astrofm::models {

nlohmann::json AionConfig::to_json() const {
  nlohmann::json mods = nlohmann::json::array();
  for (const auto& m : modalities) {
    mods.push_back({{"key", m.key}, {"column", m.column}, {"vocab", m.vocab}, {"tokens", m.tokens}, {"grid", {m.grid_h, m.grid_w}}, {"id", m.id}});
    if (m.sequence) mods.back()["sequence"] = {{"vocab_offset", m.vocab_offset}};
  }
  return {{"dim", dim}, {"encoder_depth", encoder_depth}, {"decoder_depth", decoder_depth}, {"num_heads", num_heads},
          {"mlp_hidden", mlp_hidden}, {"qk_norm", qk_norm}, {"decoder_self_attention", decoder_self_attention},
          {"ordinal_scalar_init", ordinal_scalar_init},
          {"num_encoder_tokens", num_encoder_tokens}, {"modalities", mods}};
}

AionConfig AionConfig::from_json(const nlohmann::json& j) {
  AionConfig c;
  c.dim = j.value("dim", c.dim);
  c.encoder_depth = j.value("encoder_depth", c.encoder_depth);
  c.decoder_depth = j.value("decoder_depth", c.decoder_depth);
  c.num_heads = j.value("num_heads", c.num_heads);
  c.mlp_hidden = j.value("mlp_hidden", c.mlp_hidden);
  c.qk_norm = j.value("qk_norm", c.qk_norm);
  c.ordinal_scalar_init = j.value("ordinal_scalar_init", c.ordinal_scalar_init);
  c.decoder_self_attention = j.value("decoder_self_attention", c.decoder_self_attention);
  c.num_encoder_tokens = j.value("num_encoder_tokens", c.num_encoder_tokens);
  int64_t next_id = 1;
  for (const auto& m : j.value("modalities", nlohmann::json::array())) {
    AionModality a;
    a.key = m.at("key");
    a.column = m.value("column", a.key);
    a.vocab = m.at("vocab");
    a.tokens = m.at("tokens");
    auto g = m.value("grid", std::vector<int64_t>{a.tokens, 1});
    a.grid_h = g.at(0), a.grid_w = g.at(1);
    a.id = m.value("id", next_id);
    next_id = a.id + 1;
    if (m.contains("sequence")) {
      a.sequence = true;
      a.vocab_offset = m["sequence"].value("vocab_offset", int64_t{0});
      if (a.vocab_offset < 0 || a.vocab_offset >= a.vocab)
        fail_input("AION config: modality {} vocab_offset {} outside its vocabulary of {}", a.key, a.vocab_offset, a.vocab);
    }
    // A sequence's grid is its table of positions (AION keeps all 512), at least one per token.
    if (a.sequence ? (a.grid_w != 1 || a.grid_h < a.tokens) : a.grid_h * a.grid_w != a.tokens)
      fail_input("AION config: modality {} grid {}x{} for {} tokens", a.key, a.grid_h, a.grid_w, a.tokens);
    c.modalities.push_back(a);
  }
  if (c.dim % c.num_heads != 0 || c.dim % 4 != 0) fail_input("AION config: dim {} must divide by num_heads {} and by 4", c.dim, c.num_heads);
  if (c.decoder_self_attention != "within_modality" && c.decoder_self_attention != "aion")
    fail_input("AION config: decoder_self_attention must be within_modality or aion, got '{}'", c.decoder_self_attention);
  return c;
}

const AionModality& AionConfig::modality(const std::string& key) const {
  for (const auto& m : modalities)
    if (m.key == key || m.column == key) return m;
  std::vector<std::string> keys;
  for (const auto& m : modalities) keys.push_back(m.column);
  fail_not_found("the AION model has no modality '{}' (it knows {})", key, fmt::join(keys, ", "));
}

const AionModality* AionConfig::by_column(const std::string& column) const {
  for (const auto& m : modalities)
    if (m.column == column) return &m;
  return nullptr;
}

torch::Tensor aion_tokens(const Column& c, const AionModality& m, const std::string& where) {
  if (!dtype_is_integer(c.dtype)) fail_input("{}: {} must hold integer tokens, got {}", where, c.name, c.describe());
  if (c.row_elems() != m.tokens) fail_input("{}: {} has {} tokens per object, the model expects {}", where, c.name, c.row_elems(), m.tokens);
  std::vector<int64_t> v(static_cast<size_t>(c.rows * m.tokens));
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = c.as_int64(static_cast<int64_t>(i));
    if (v[i] < -1 || v[i] >= m.vocab)
      fail_input("{}: {} row {} holds token {}, outside the model's vocabulary 0..{}", where, c.name, static_cast<int64_t>(i) / m.tokens, v[i],
                 m.vocab - 1);
  }
  return torch::tensor(v, torch::kLong).reshape({c.rows, m.tokens});
}

void check_generable(const AionModality& m, const std::string& where) {
  if (m.sequence)
    fail_input("{}: {} is an input only: AION generates it token by token from 4M's start and sentinel tokens, which polymathic-aion 0.0.2 "
               "has no path for; embed with it, or generate other modalities from it", where, m.column);
}

}  // namespace astrofm::models
