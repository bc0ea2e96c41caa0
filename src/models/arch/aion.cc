// "aion": AION-1's any-to-any transformer (include/astrofm/models/aion.h).
// Embeds any combination of the token columns it knows (astrofm tokenize
// output) jointly: the mean of the encoder's output tokens (AION's pooling)
// over the tokens given (a missing value or an absent catalog entry holds a
// slot but no token), and those tokens for attentive probes. Converts AION's state dicts.
#include "astrofm/aion_release.h"
#include "astrofm/models/aion.h"
#include "astrofm/models/architecture.h"
#include "models/convert_util.h"

namespace astrofm::models {
namespace {

// A CPU-sized default: astrofm's shipped codecs' modalities.
nlohmann::json default_aion_config() {
  AionConfig c;
  c.dim = 128, c.encoder_depth = 4, c.decoder_depth = 4, c.num_heads = 4, c.mlp_hidden = 341;
  c.modalities = {{"tok_image", "tok_image", 4375, 256, 16, 16, 1}, {"tok_spectrum", "tok_spectrum", 1024, 110, 110, 1, 2},
                  {"tok_Z", "tok_Z", 1024, 1, 1, 1, 3},          {"tok_FLUX_G", "tok_FLUX_G", 1024, 1, 1, 1, 4},
                  {"tok_FLUX_R", "tok_FLUX_R", 1024, 1, 1, 1, 5}, {"tok_FLUX_Z", "tok_FLUX_Z", 1024, 1, 1, 1, 6}};
  return c.to_json();
}

// AION's token keys -> astrofm's token columns (the release table's names).
std::string column_for(const std::string& key) {
  const auto* m = aion::find_modality(key);
  return m ? m->column : key;
}

AionInputs inputs_from(const AionImpl& a, const Table& b, const std::string& where, torch::Device dev) {
  AionInputs in;
  for (const auto& m : a.config().modalities) {
    const Column* c = b.find(m.column);
    if (!c) continue;
    in.tokens.emplace_back(m.key, aion_tokens(*c, m, where).to(dev));
  }
  return in;
}

}  // namespace

void register_aion(ArchitectureTable& t) {
  Architecture a;
  a.name = "aion";
  a.description = "AION-1 any-to-any transformer on codec tokens; embedding = mean of the encoder's tokens over any input subset";
  a.modalities = {"aion"};
  a.default_config = default_aion_config;
  a.build = [](const nlohmann::json& c) -> Module { return Aion(AionConfig::from_json(c)).ptr(); };
  a.build_to_load = [](const nlohmann::json& c, torch::ScalarType dtype) -> Module {
    return Aion(AionConfig::from_json(c), /*draw_weights=*/false, dtype).ptr();
  };
  a.preprocessing = [](const nlohmann::json&) { return nlohmann::json{{"aion", {{"kind", "tokens"}}}}; };
  a.prepare = [](torch::nn::Module&, ModalityKind, const Table&, const nlohmann::json&, const std::string& where) -> torch::Tensor {
    fail_usage("{}: an AION model embeds its inputs jointly", where);
  };
  a.embed = [](torch::nn::Module&, ModalityKind, const torch::Tensor&, bool) -> Embedded { fail_usage("an AION model embeds jointly"); };
  a.joint_inputs = [](torch::nn::Module& m) {
    std::vector<std::string> cols;
    for (const auto& x : dynamic_cast<AionImpl&>(m).config().modalities) cols.push_back(x.column);
    return cols;
  };
  a.embed_joint = [](torch::nn::Module& m, const Table& b, bool tokens, const std::string& where) {
    auto& net = dynamic_cast<AionImpl&>(m);
    auto dev = net.parameters().front().device();
    auto in = inputs_from(net, b, where, dev);
    int64_t total = 0;
    for (const auto& [k, v] : in.tokens) total += v.size(1);
    // Every given token goes to the encoder (AION's BaseModel: num_encoder_tokens = all).
    auto enc = net.encode(in, total);
    auto present = (~enc.mask).unsqueeze(-1).to(enc.context.scalar_type());
    auto mean = (enc.context * present).sum(1) / present.sum(1).clamp_min(1);
    return Embedded{mean, tokens ? enc.context : torch::Tensor()};
  };
  a.convert_kinds = {"aion"};
  a.convert = [](const std::string&, StateDict sd, const nlohmann::json& hp, const std::string& where) {
    AionConfig c;
    c.dim = need_tensor(sd, "mask_token", where).size(-1);
    auto depth = [&](const std::string& p) {
      int64_t n = 0;
      while (sd.count(p + std::to_string(n) + ".norm1.weight")) ++n;
      return n;
    };
    c.encoder_depth = depth("encoder.");
    c.decoder_depth = depth("decoder.");
    c.mlp_hidden = need_tensor(sd, "encoder.0.mlp.fc1.weight", where).size(0);
    c.qk_norm = sd.count("encoder.0.attn.q_norm.weight") > 0;
    c.num_heads = c.qk_norm ? c.dim / sd.at("encoder.0.attn.q_norm.weight").size(0) : hp.value("num_heads", 12);
    c.decoder_self_attention = hp.value("decoder_self_attention", std::string("aion"));
    c.num_encoder_tokens = hp.value("num_encoder_tokens", 256);
    int64_t id = 1;
    const std::string pre = "encoder_embeddings.", suf = ".token_emb.weight";
    for (const auto& [k, v] : sd) {
      if (k.rfind(pre, 0) != 0 || k.size() <= pre.size() + suf.size() || k.compare(k.size() - suf.size(), suf.size(), suf) != 0) continue;
      std::string key = k.substr(pre.size(), k.size() - pre.size() - suf.size());
      AionModality m;
      m.key = key;
      m.column = column_for(key);
      m.vocab = v.size(0);
      m.tokens = need_tensor(sd, pre + key + ".pos_emb", where).size(1);
      // The position buffers come from the state dict; the grid only matters for rebuilding them.
      int64_t s = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(m.tokens))));
      if (s * s == m.tokens && m.tokens > 1) m.grid_h = m.grid_w = s;
      else m.grid_h = m.tokens, m.grid_w = 1;
      // A sequence keeps a table of positions (AION: all 512) longer than its tokens (50).
      const auto* r = aion::find_modality(key);
      if (r && r->sequence) m.tokens = std::min(r->tokens, m.grid_h), m.sequence = true, m.vocab_offset = r->vocab_offset;
      m.id = id++;
      c.modalities.push_back(m);
    }
    if (c.modalities.empty()) fail_input("{}: no encoder_embeddings.*.token_emb.weight: not an AION model state dict", where);
    return Converted{c.to_json(), sd};
  };
  t.add(std::move(a));
}

}  // namespace astrofm::models
