#include "astrofm/models/snapshot.h"

#include <filesystem>

#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/models/aion.h"
#include "astrofm/models/architecture.h"
#include "astrofm/safetensors.h"
#include "astrofm/models/torch_pickle.h"

namespace astrofm::models {
namespace fs = std::filesystem;

std::map<std::string, torch::Tensor> read_weights(const std::string& path) {
  std::map<std::string, torch::Tensor> out;
  if (is_safetensors_file(path)) {
    auto mf = std::make_shared<const ModelFile>(read_safetensors(path));
    for (const auto& t : mf->tensors) out[t.name] = view_stored(t, mf);  // views: copied once, into the module
    return out;
  }
  return read_checkpoint(path).tensors;
}

SnapshotTransformer snapshot_transformer(const aion::Snapshot& s) {
  auto sd = read_weights(s.weights_path);
  const std::string& where = s.weights_path;
  const auto& c = s.config;
  nlohmann::json hp = {{"num_heads", c.at("num_heads")}, {"decoder_self_attention", "aion"}, {"num_encoder_tokens", 256}};
  Converted conv = architecture_table().at("aion").convert("aion", std::move(sd), hp, where);
  AionConfig cfg = AionConfig::from_json(conv.config);
  // config.json against the weights: a snapshot whose files disagree is refused.
  auto check = [&](const char* field, int64_t from_weights) {
    auto v = c.at(field).get<int64_t>();
    if (v != from_weights)
      fail_input("{}: {} is {} but {} holds weights for {}", s.config_path, field, v, fs::path(where).filename().string(), from_weights);
  };
  check("dim", cfg.dim);
  check("encoder_depth", cfg.encoder_depth);
  check("decoder_depth", cfg.decoder_depth);
  if (c.value("qk_norm", false) != cfg.qk_norm)
    fail_input("{}: qk_norm is {} but the weights {} q_norm/k_norm", s.config_path, c.value("qk_norm", false), cfg.qk_norm ? "have" : "lack");
  for (auto& m : cfg.modalities) {
    const auto* r = aion::find_modality(m.key);
    if (!r) fail_input("{}: weights for modality '{}', which is not an AION-1 modality", where, m.key);
    bool listed = false;
    for (const auto& d : s.domains) listed = listed || d == m.key;
    if (!listed) fail_input("{}: weights for '{}' but domains_in/domains_out do not list it", s.config_path, m.key);
    if (m.tokens != r->tokens || m.vocab != r->vocab)
      fail_input("{}: '{}' has {} tokens of {} values; AION-1's {} has {} of {}", where, m.key, m.tokens, m.vocab, r->aion_class, r->tokens, r->vocab);
    m.column = r->column;
    if (!m.sequence) m.grid_h = r->grid_h, m.grid_w = r->grid_w;  // a sequence's positions are the weights' own
  }
  for (const auto& d : s.domains) {
    const auto* r = aion::find_modality(d);
    if (!cfg.by_column(r->column))
      fail_input("{}: config.json lists '{}' but {} has no encoder_embeddings.{}.token_emb.weight", s.config_path, d, where, d);
  }
  SnapshotTransformer out;
  nlohmann::json prov = s.provenance;
  prov["kind"] = "aion";
  prov["converted_from"] = "Hugging Face snapshot";
  const std::string name = prov.contains("repository") ? fs::path(prov["repository"].get<std::string>()).filename().string()
                                                       : fs::absolute(s.dir).lexically_normal().filename().string();
  out.meta = {{"architecture", "aion"},
              {"config", cfg.to_json()},
              {"name", name},
              {"description", fmt::format("AION-1 ({} x {} layers, dim {}) from {}", cfg.encoder_depth, cfg.decoder_depth, cfg.dim,
                                          prov.value("repository", s.dir))},
              {"preprocessing", {{"aion", {{"kind", "tokens"}}}}},
              {"provenance", prov},
              {"astrofm_version", ASTROFM_VERSION}};
  out.state = std::move(conv.state);
  return out;
}

LoadedModel load_snapshot(const std::string& dir, torch::Device device, torch::ScalarType dtype) {
  auto snap = aion::read_snapshot(dir);
  auto t = snapshot_transformer(snap);
  LoadedModel lm;
  lm.architecture = "aion";
  lm.meta = t.meta;
  lm.module = build_model("aion", t.meta.at("config"), /*to_load=*/true, dtype);
  load_state(*lm.module, t.state, snap.weights_path);
  lm.module->to(device);
  lm.module->eval();
  return lm;
}

}  // namespace astrofm::models
