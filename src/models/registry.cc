#include "astrofm/models/registry.h"

#include <filesystem>
#include <fstream>
#include <regex>

#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/models/architecture.h"
#include "astrofm/models/snapshot.h"
#include "astrofm/safetensors.h"
#include "astrofm/models/specformer.h"
#include "astrofm/models/vit.h"
#include "convert_util.h"
#include "astrofm/models/torch_pickle.h"

namespace astrofm::models {
namespace {

// torch.save's format is a zip archive.
bool is_zip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char b[2] = {};
  return static_cast<bool>(in.read(b, 2)) && b[0] == 'P' && b[1] == 'K';
}

torch::ScalarType torch_type(TensorDType d) {
  switch (d) {
    case TensorDType::F32: return torch::kFloat32;
    case TensorDType::F16: return torch::kFloat16;
    case TensorDType::BF16: return torch::kBFloat16;
    case TensorDType::I64: return torch::kLong;
    case TensorDType::I32: return torch::kInt;
    case TensorDType::U8: return torch::kByte;
  }
  ASTROFM_ASSERT(false, "unhandled tensor dtype");
}

}  // namespace

StoredTensor to_stored(const std::string& name, const torch::Tensor& t) {
  StoredTensor s;
  s.name = name;
  auto c = t.detach().to(torch::kCPU).contiguous();
  switch (c.scalar_type()) {
    case torch::kFloat16: s.dtype = TensorDType::F16; break;
    case torch::kBFloat16: s.dtype = TensorDType::BF16; break;
    case torch::kLong: s.dtype = TensorDType::I64; break;
    case torch::kInt: s.dtype = TensorDType::I32; break;
    case torch::kByte: s.dtype = TensorDType::U8; break;
    default: c = c.to(torch::kFloat32), s.dtype = TensorDType::F32;
  }
  s.shape = c.sizes().vec();
  std::vector<uint8_t> bytes(c.numel() * c.element_size());
  if (!bytes.empty()) std::memcpy(bytes.data(), c.data_ptr(), bytes.size());
  s.set_bytes(std::move(bytes));
  return s;
}

torch::Tensor from_stored(const StoredTensor& s) {
  auto t = torch::empty(s.shape, torch::TensorOptions().dtype(torch_type(s.dtype)));
  auto b = s.bytes();
  ASTROFM_ASSERT(b.size() == static_cast<size_t>(t.numel() * t.element_size()), "tensor '{}' size", s.name);
  if (!b.empty()) std::memcpy(t.data_ptr(), b.data(), b.size());
  return t;
}

torch::Tensor view_stored(const StoredTensor& s, std::shared_ptr<const void> keep) {
  auto b = s.bytes();
  auto opts = torch::TensorOptions().dtype(torch_type(s.dtype));
  if (b.empty()) return torch::empty(s.shape, opts);
  // Read-only use: the data is copied into the module's parameters.
  return torch::from_blob(const_cast<uint8_t*>(b.data()), s.shape, [keep](void*) {}, opts);
}

std::vector<std::string> architectures() { return architecture_table().names(); }

torch::ScalarType parse_model_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  fail_usage("--dtype must be float32 or bfloat16, got '{}'", name);
}

Module build_model(const std::string& arch, const nlohmann::json& config, bool to_load, torch::ScalarType dtype) {
  const Architecture& a = architecture_table().at(arch);
  if (dtype != torch::kFloat32 && !(to_load && a.build_to_load))
    fail_usage("a '{}' model runs in float32 only ({} asked for)", arch, c10::toString(dtype));
  try {
    if (to_load && a.build_to_load) return a.build_to_load(config, dtype);
    return a.build(config);
  } catch (const c10::Error& e) {
    fail_input("architecture '{}': invalid config {}: {}", arch, config.dump(), e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    fail_input("architecture '{}': invalid config {}: {}", arch, config.dump(), e.what());
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
    dst.copy_(it->second);  // converts the dtype on the way: no intermediate tensor
  }
  if (strict)
    for (const auto& [name, t] : state)
      if (!own.count(name)) fail_input("{}: tensor '{}' does not belong to this model", where, name);
}

std::string architecture_of(const std::string& path) {
  if (aion::is_snapshot(path)) return "aion";
  if (is_zip(path)) return "";
  auto meta = ModelFile::read_meta(path);
  if (require_model_kind(meta, {ModelKind::Model, ModelKind::Bundle}, path) == ModelKind::Bundle) return "aion";
  return meta.value("architecture", "");
}

LoadedModel load_model(const std::string& path, torch::Device device, torch::ScalarType dtype) {
  if (aion::is_snapshot(path)) return load_snapshot(path, device, dtype);
  if (is_zip(path)) {  // a released PyTorch checkpoint (AstroCLIP's .ckpt files), converted in memory
    if (dtype != torch::kFloat32) fail_usage("{}: a PyTorch checkpoint runs in float32 (convert it first for bfloat16)", path);
    return load_checkpoint(path, device);
  }
  return load_model(ModelFile::read(path), path, device, dtype);
}

LoadedModel load_model(ModelFile mf, const std::string& path, torch::Device device, torch::ScalarType dtype) {
  // A bundle (a transformer with its codecs): the model is its "model" part.
  if (require_model_kind(mf.meta, {ModelKind::Model, ModelKind::Bundle}, path) == ModelKind::Bundle) mf = mf.part("model");
  LoadedModel lm;
  lm.architecture = mf.meta.at("architecture").get<std::string>();
  lm.meta = mf.meta;
  lm.module = build_model(lm.architecture, mf.meta.at("config"), /*to_load=*/true, dtype);
  // One copy: from the file's map straight into the parameters.
  auto keep = std::make_shared<const ModelFile>(std::move(mf));
  std::map<std::string, torch::Tensor> state;
  for (const auto& t : keep->tensors) state[t.name] = view_stored(t, keep);
  load_state(*lm.module, state, path);
  lm.module->to(device);
  lm.module->eval();
  return lm;
}

ModelFile model_file_of(torch::nn::Module& m, const nlohmann::json& meta) {
  if (!meta.contains("architecture") || !meta.contains("config")) fail_usage("model meta needs 'architecture' and 'config'");
  ModelFile mf;
  mf.meta = meta;
  for (const auto& [name, t] : state_of(m)) mf.tensors.push_back(to_stored(name, t));
  return mf;
}

void save_model(const std::string& path, torch::nn::Module& m, const nlohmann::json& meta) { model_file_of(m, meta).write(path); }

// Strips the first matching prefix from every name.
StateDict strip_prefix(const StateDict& in, const std::vector<std::string>& prefixes) {
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
StateDict unchunk_blocks(const StateDict& in, const std::string& prefix) {
  std::regex chunked("^" + prefix + "blocks\\.(\\d+)\\.(\\d+)\\.(.*)$");
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : in) {
    std::smatch m;
    if (std::regex_match(k, m, chunked)) out[prefix + "blocks." + m[2].str() + "." + m[3].str()] = v;
    else out[k] = v;
  }
  return out;
}

int64_t count_blocks(const StateDict& sd, const std::string& prefix, const std::string& probe) {
  int64_t n = 0;
  while (sd.count(prefix + "blocks." + std::to_string(n) + "." + probe)) ++n;
  return n;
}

const torch::Tensor& need_tensor(const StateDict& sd, const std::string& k, const std::string& where) {
  auto it = sd.find(k);
  if (it == sd.end()) fail_input("{}: no tensor '{}' (is this the right --kind?)", where, k);
  return it->second;
}

nlohmann::json vit_config_from(const StateDict& sd, const std::string& p, const nlohmann::json& hp,
                          const std::string& where) {
  const auto& proj = need_tensor(sd, p + "patch_embed.proj.weight", where);  // D, C, P, P
  const auto& pos = need_tensor(sd, p + "pos_embed", where);                 // 1, 1 + N, D
  ViTConfig c;
  c.embed_dim = proj.size(0);
  c.in_chans = proj.size(1);
  c.patch_size = proj.size(2);
  c.img_size = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(pos.size(1) - 1)))) * c.patch_size;
  c.depth = count_blocks(sd, p, "norm1.weight");
  c.mlp_ratio = static_cast<double>(need_tensor(sd, p + "blocks.0.mlp.fc1.weight", where).size(0)) / c.embed_dim;
  c.layerscale_init = sd.count(p + "blocks.0.ls1.gamma") ? 1e-5 : 0.0;
  // Heads cannot be read off the weights: DINOv2 ViT-L/12 uses 16 (64 per head).
  c.num_heads = hp.value("image_num_heads", hp.value("num_heads", c.embed_dim / 64));
  return c.to_json();
}

nlohmann::json specformer_config_from(const StateDict& sd, const std::string& p, const nlohmann::json& hp,
                           const std::string& where) {
  SpecFormerConfig c;
  const auto& de = need_tensor(sd, p + "data_embed.weight", where);  // C, input_dim
  c.embed_dim = de.size(0);
  c.input_dim = de.size(1);
  c.max_len = need_tensor(sd, p + "position_embed.weight", where).size(0);
  c.num_layers = count_blocks(sd, p, "layernorm1.weight");
  c.num_heads = hp.value("spectrum_num_heads", hp.value("num_heads", c.num_heads));
  c.section = c.input_dim - 2;
  c.overlap = hp.value("slice_overlap", c.section / 2);
  return c.to_json();
}


namespace {

// A released checkpoint's kind, read off its tensor names (prefixes stripped).
std::string guess_kind(const StateDict& sd, const std::string& where) {
  auto any = [&](const std::string& part) {
    for (const auto& [k, v] : sd)
      if (k.find(part) != std::string::npos) return true;
    return false;
  };
  if (any("image_encoder.") && any("spectrum_encoder.")) return "astroclip";
  if (any("encoder_embeddings.") && any("decoder_embeddings.")) return "aion";
  if (any("patch_embed.proj.weight")) return "astrodino";
  if (any("data_embed.weight")) return "specformer";
  fail_input("{}: cannot tell which model this checkpoint holds (AstroCLIP, AstroDINO, SpecFormer or AION); convert it with --kind", where);
}

struct InMemory {
  nlohmann::json meta;
  Module module;
};

// A checkpoint converted in memory (kind "auto": guessed from the tensor names).
InMemory convert_in_memory(const std::string& path, std::string kind, const nlohmann::json& overrides) {
  Checkpoint ck;
  if (is_safetensors_file(path)) ck.tensors = read_weights(path);
  else ck = read_checkpoint(path);
  nlohmann::json hp = overrides;
  for (auto& [k, v] : ck.hyper_parameters.items())
    if (!hp.contains(k)) hp[k] = v;
  StateDict sd = std::move(ck.tensors);
  if (sd.empty()) fail_input("{}: no tensors found", path);
  sd = strip_prefix(sd, {"module.", "model."});
  if (kind == "auto") {
    kind = guess_kind(sd, path);
    // Heads cannot be read off the weights (except through AION's per-head QK norms): never guess them here.
    const bool image = hp.contains("image_num_heads") || hp.contains("num_heads");
    const bool spectrum = hp.contains("spectrum_num_heads") || hp.contains("num_heads");
    const bool known = kind == "astroclip"    ? image && spectrum
                       : kind == "astrodino"  ? image
                       : kind == "specformer" ? spectrum
                                              : hp.contains("num_heads") || sd.count("encoder.0.attn.q_norm.weight") > 0;
    if (!known)
      fail_input("{}: a {} checkpoint without its number of attention heads; convert it with `astrofm convert {} --kind {} --set num_heads=N`",
                 path, kind, path, kind);
  }
  const Architecture* arch = architecture_table().for_convert_kind(kind);
  if (!arch) {
    std::vector<std::string> kinds;
    for (const auto& n : architecture_table().names())
      for (const auto& k : architecture_table().at(n).convert_kinds) kinds.push_back(k);
    fail_usage("unknown checkpoint kind '{}' ({})", kind, fmt::join(kinds, ", "));
  }
  Converted c = arch->convert(kind, std::move(sd), hp, path);
  InMemory m;
  m.module = build_model(arch->name, c.config, /*to_load=*/true);
  load_state(*m.module, c.state, path, /*strict=*/true);
  m.meta = {{"architecture", arch->name},
            {"config", c.config},
            {"name", std::filesystem::path(path).stem().string()},
            {"preprocessing", arch->preprocessing(c.config)},
            {"provenance", {{"converted_from", std::filesystem::path(path).filename().string()}, {"kind", kind}}},
            {"astrofm_version", ASTROFM_VERSION}};
  return m;
}

}  // namespace

LoadedModel load_checkpoint(const std::string& path, torch::Device device) {
  auto m = convert_in_memory(path, "auto", nlohmann::json::object());
  LoadedModel lm;
  lm.architecture = m.meta["architecture"];
  lm.meta = m.meta;
  lm.module = m.module;
  lm.module->to(device);
  lm.module->eval();
  return lm;
}

nlohmann::json convert_checkpoint(const std::string& path, const std::string& kind, const std::string& out,
                                  const nlohmann::json& overrides) {
  auto m = convert_in_memory(path, kind, overrides);
  m.meta["name"] = std::filesystem::path(out).stem().string();
  save_model(out, *m.module, m.meta);
  return m.meta;
}

nlohmann::json store_float16(const std::string& in, const std::string& out, const nlohmann::json& set) {
  ModelFile mf = ModelFile::read(in);
  for (auto& [k, v] : set.items()) {
    if (k != "name" && k != "description") fail_usage("--set {}: float16 conversion sets only name and description", k);
    mf.meta[k] = v.is_string() ? v : nlohmann::json(v.dump());
  }
  if (mf.meta.value("storage", "") == "float16") fail_input("{}: already stored as float16", in);
  for (auto& t : mf.tensors)
    if (t.dtype == TensorDType::F32) {
      auto h = from_stored(t).to(torch::kFloat16);
      if (!torch::isfinite(h).all().item<bool>()) fail_input("{}: tensor '{}' overflows float16", in, t.name);
      t = to_stored(t.name, h);
    }
  mf.meta["storage"] = "float16";
  mf.write(out);
  return mf.meta;
}

}  // namespace astrofm::models
