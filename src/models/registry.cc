#include "astrofm/models/registry.h"

#include <filesystem>
#include <fstream>
#include <regex>

#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/models/astroclip.h"
#include "torch_pickle.h"

namespace astrofm::models {
namespace {

using Builder = std::shared_ptr<torch::nn::Module> (*)(const nlohmann::json&);

const std::map<std::string, Builder>& table() {
  static const std::map<std::string, Builder> t = {
      {"astroclip", [](const nlohmann::json& c) -> std::shared_ptr<torch::nn::Module> {
         return AstroClip(AstroClipConfig::from_json(c)).ptr();
       }},
      {"cnn", [](const nlohmann::json& c) -> std::shared_ptr<torch::nn::Module> { return Cnn(CnnConfig::from_json(c)).ptr(); }},
      {"cnn_head", [](const nlohmann::json& c) -> std::shared_ptr<torch::nn::Module> {
         return CnnHead(CnnHeadConfig::from_json(c)).ptr();
       }},
      {"vit", [](const nlohmann::json& c) -> std::shared_ptr<torch::nn::Module> { return ViT(ViTConfig::from_json(c)).ptr(); }},
      {"specformer", [](const nlohmann::json& c) -> std::shared_ptr<torch::nn::Module> {
         return SpecFormer(SpecFormerConfig::from_json(c)).ptr();
       }},
  };
  return t;
}

StoredTensor to_stored(const std::string& name, const torch::Tensor& t) {
  StoredTensor s;
  s.name = name;
  auto c = t.detach().to(torch::kCPU).contiguous();
  if (c.scalar_type() == torch::kLong) {
    s.dtype = "int64";
  } else {
    c = c.to(torch::kFloat32);
    s.dtype = "float32";
  }
  s.shape = c.sizes().vec();
  s.bytes.resize(c.numel() * c.element_size());
  std::memcpy(s.bytes.data(), c.data_ptr(), s.bytes.size());
  return s;
}

torch::Tensor from_stored(const StoredTensor& s) {
  auto type = s.dtype == "int64" ? torch::kLong : torch::kFloat32;
  auto t = torch::empty(s.shape, torch::TensorOptions().dtype(type));
  std::memcpy(t.data_ptr(), s.bytes.data(), s.bytes.size());
  return t;
}

}  // namespace

std::vector<std::string> architectures() {
  std::vector<std::string> out;
  for (const auto& [k, v] : table()) out.push_back(k);
  return out;
}

std::shared_ptr<torch::nn::Module> build_model(const std::string& arch, const nlohmann::json& config) {
  auto it = table().find(arch);
  if (it == table().end()) fail_input("unknown architecture '{}' (known: {})", arch, fmt::join(architectures(), ", "));
  try {
    return it->second(config);
  } catch (const c10::Error& e) {
    fail_input("architecture '{}': invalid config {}: {}", arch, config.dump(), e.what_without_backtrace());
  }
}

std::map<std::string, torch::Tensor> state_of(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters(true))
    if (p.value().defined()) out[p.key()] = p.value();
  for (const auto& b : m.named_buffers(true))
    if (b.value().defined()) out[b.key()] = b.value();
  return out;
}

void load_state(torch::nn::Module& m, const std::map<std::string, torch::Tensor>& state, const std::string& where, bool strict) {
  torch::NoGradGuard ng;
  auto own = state_of(m);
  for (auto& [name, dst] : own) {
    auto it = state.find(name);
    if (it == state.end()) fail_input("{}: no tensor '{}' for the model", where, name);
    if (it->second.sizes() != dst.sizes())
      fail_input("{}: tensor '{}' has shape {} but the model expects {}", where, name, fmt::join(it->second.sizes(), "x"),
                 fmt::join(dst.sizes(), "x"));
    dst.copy_(it->second.to(dst.dtype()));
  }
  if (strict)
    for (const auto& [name, t] : state)
      if (!own.count(name)) fail_input("{}: tensor '{}' does not belong to this model", where, name);
}

LoadedModel load_model(const std::string& path, torch::Device device) {
  ModelFile mf = ModelFile::read(path);
  LoadedModel lm;
  lm.architecture = mf.meta.at("architecture").get<std::string>();
  lm.meta = mf.meta;
  lm.module = build_model(lm.architecture, mf.meta.at("config"));
  std::map<std::string, torch::Tensor> state;
  for (const auto& t : mf.tensors) state[t.name] = from_stored(t);
  load_state(*lm.module, state, path);
  lm.module->to(device);
  lm.module->eval();
  return lm;
}

void save_model(const std::string& path, torch::nn::Module& m, const nlohmann::json& meta) {
  if (!meta.contains("architecture") || !meta.contains("config")) fail_usage("model meta needs 'architecture' and 'config'");
  ModelFile mf;
  mf.meta = meta;
  for (const auto& [name, t] : state_of(m)) mf.tensors.push_back(to_stored(name, t));
  mf.write(path);
}

namespace {

// Strips the first matching prefix from every name.
std::map<std::string, torch::Tensor> strip(const std::map<std::string, torch::Tensor>& in, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes) {
    bool any = false;
    for (const auto& [k, v] : in) any = any || k.rfind(p, 0) == 0;
    if (!any) continue;
    std::map<std::string, torch::Tensor> out;
    for (const auto& [k, v] : in)
      if (k.rfind(p, 0) == 0) out[k.substr(p.size())] = v;
    return out;
  }
  return in;
}

// DINOv2 checkpoints trained with block chunks name blocks "blocks.<chunk>.<i>": renumber them.
std::map<std::string, torch::Tensor> unchunk_blocks(const std::map<std::string, torch::Tensor>& in, const std::string& prefix) {
  std::regex chunked("^" + prefix + "blocks\\.(\\d+)\\.(\\d+)\\.(.*)$");
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : in) {
    std::smatch m;
    if (std::regex_match(k, m, chunked)) out[prefix + "blocks." + m[2].str() + "." + m[3].str()] = v;
    else out[k] = v;
  }
  return out;
}

int64_t count_blocks(const std::map<std::string, torch::Tensor>& sd, const std::string& prefix, const std::string& probe) {
  int64_t n = 0;
  while (sd.count(prefix + "blocks." + std::to_string(n) + "." + probe)) ++n;
  return n;
}

const torch::Tensor& need(const std::map<std::string, torch::Tensor>& sd, const std::string& k, const std::string& where) {
  auto it = sd.find(k);
  if (it == sd.end()) fail_input("{}: no tensor '{}' (is this the right --kind?)", where, k);
  return it->second;
}

nlohmann::json vit_config(const std::map<std::string, torch::Tensor>& sd, const std::string& p, const nlohmann::json& hp,
                          const std::string& where) {
  const auto& proj = need(sd, p + "patch_embed.proj.weight", where);  // D, C, P, P
  const auto& pos = need(sd, p + "pos_embed", where);                 // 1, 1 + N, D
  ViTConfig c;
  c.embed_dim = proj.size(0);
  c.in_chans = proj.size(1);
  c.patch_size = proj.size(2);
  c.img_size = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(pos.size(1) - 1)))) * c.patch_size;
  c.depth = count_blocks(sd, p, "norm1.weight");
  c.mlp_ratio = static_cast<double>(need(sd, p + "blocks.0.mlp.fc1.weight", where).size(0)) / c.embed_dim;
  c.layerscale_init = sd.count(p + "blocks.0.ls1.gamma") ? 1e-5 : 0.0;
  // Heads cannot be read off the weights: DINOv2 ViT-L/12 uses 16 (64 per head).
  c.num_heads = hp.value("image_num_heads", hp.value("num_heads", c.embed_dim / 64));
  return c.to_json();
}

nlohmann::json spec_config(const std::map<std::string, torch::Tensor>& sd, const std::string& p, const nlohmann::json& hp,
                           const std::string& where) {
  SpecFormerConfig c;
  const auto& de = need(sd, p + "data_embed.weight", where);  // C, input_dim
  c.embed_dim = de.size(0);
  c.input_dim = de.size(1);
  c.max_len = need(sd, p + "position_embed.weight", where).size(0);
  c.num_layers = count_blocks(sd, p, "layernorm1.weight");
  c.num_heads = hp.value("spectrum_num_heads", hp.value("num_heads", c.num_heads));
  c.section = c.input_dim - 2;
  c.overlap = hp.value("slice_overlap", c.section / 2);
  return c.to_json();
}

}  // namespace

nlohmann::json convert_checkpoint(const std::string& path, const std::string& kind, const std::string& out,
                                  const nlohmann::json& overrides) {
  Checkpoint ck = read_checkpoint(path);
  nlohmann::json hp = overrides;
  for (auto& [k, v] : ck.hyper_parameters.items())
    if (!hp.contains(k)) hp[k] = v;
  std::map<std::string, torch::Tensor> sd = std::move(ck.tensors);
  if (sd.empty()) fail_input("{}: no tensors found", path);
  sd = strip(sd, {"module.", "model."});
  std::string arch;
  nlohmann::json cfg;
  if (kind == "specformer") {
    arch = "specformer";
    cfg = spec_config(sd, "", hp, path);
  } else if (kind == "astrodino") {
    arch = "vit";
    sd = strip(sd, {"teacher.backbone.", "student.backbone.", "backbone."});
    sd = unchunk_blocks(sd, "");
    // DINO heads, mask tokens and registers are training-only.
    std::map<std::string, torch::Tensor> keep;
    for (const auto& [k, v] : sd)
      if (k != "mask_token" && k.rfind("dino_head", 0) != 0 && k.rfind("ibot_head", 0) != 0) keep[k] = v;
    sd = keep;
    cfg = vit_config(sd, "", hp, path);
  } else if (kind == "astroclip") {
    arch = "astroclip";
    sd = unchunk_blocks(sd, "image_encoder.backbone.");
    std::map<std::string, torch::Tensor> keep;
    for (const auto& [k, v] : sd)
      if (k != "image_encoder.backbone.mask_token") keep[k] = v;
    sd = keep;
    AstroClipConfig c;
    c.image = ViTConfig::from_json(vit_config(sd, "image_encoder.backbone.", hp, path));
    c.spectrum = SpecFormerConfig::from_json(spec_config(sd, "spectrum_encoder.backbone.", hp, path));
    c.embed_dim = need(sd, "image_encoder.cross_attention.query", path).size(2);
    c.mlp_hidden = need(sd, "image_encoder.mlp.encoder.weight", path).size(0);
    c.heads = hp.value("n_head", hp.value("heads", c.heads));
    c.image_residual = hp.value("image_residual", c.image_residual);
    c.spectrum_residual = hp.value("spectrum_residual", c.spectrum_residual);
    cfg = c.to_json();
  } else {
    fail_usage("unknown checkpoint kind '{}' (astroclip, specformer or astrodino)", kind);
  }
  auto module = build_model(arch, cfg);
  load_state(*module, sd, path, /*strict=*/true);
  nlohmann::json meta = {{"architecture", arch},
                         {"config", cfg},
                         {"name", std::filesystem::path(out).stem().string()},
                         {"provenance", {{"converted_from", std::filesystem::path(path).filename().string()}, {"kind", kind}}},
                         {"astrofm_version", ASTROFM_VERSION}};
  if (arch == "astroclip" || arch == "vit")
    meta["preprocessing"]["image"] = {{"kind", "legacysurvey_rgb"}, {"bands", {"DES-G", "DES-R", "DES-Z"}},
                                      {"scales", {6.0, 3.4, 2.2}}, {"offset", 0.03}, {"Q", 20.0}, {"crop", 144}};
  if (arch == "astroclip" || arch == "specformer")
    meta["preprocessing"]["spectrum"] = {{"kind", "specformer"}, {"length", 7781}};
  save_model(out, *module, meta);
  return meta;
}

}  // namespace astrofm::models
