// The codec table, codec sets and the helpers every codec kind shares.
#include "codecs/codec_table.h"

#include <algorithm>
#include <filesystem>

#include <cmath>

#include "astrofm/aion_release.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/registry.h"
#include "astrofm/resources.h"
#include "astrofm/models/torch_pickle.h"

namespace astrofm::codecs {
namespace fs = std::filesystem;

// The registered kinds: one line each, defined in src/codecs/<kind>.cc as register_<kind>(CodecTable&).
#define ASTROFM_CODECS(X) \
  X(scalar)               \
  X(scalar_grid)          \
  X(image)                \
  X(spectrum)             \
  /* add a codec kind above this line */

#define ASTROFM_DECLARE(name) void register_##name(CodecTable&);
ASTROFM_CODECS(ASTROFM_DECLARE)
#undef ASTROFM_DECLARE

const CodecTable& codec_table() {
  static const CodecTable t = [] {
    CodecTable t;
#define ASTROFM_REGISTER(name) register_##name(t);
    ASTROFM_CODECS(ASTROFM_REGISTER)
#undef ASTROFM_REGISTER
    return t;
  }();
  return t;
}

void CodecTable::add(CodecSpec s) {
  ASTROFM_ASSERT(!s.kind.empty() && s.load && s.default_config, "codec kind '{}' is incomplete", s.kind);
  ASTROFM_ASSERT(!table_.count(s.kind), "codec kind '{}' registered twice", s.kind);
  table_[s.kind] = std::move(s);
}

const CodecSpec& CodecTable::at(const std::string& kind) const {
  auto it = table_.find(kind);
  if (it == table_.end()) fail_not_found("unknown codec kind '{}' (known: {})", kind, fmt::join(kinds(), ", "));
  return it->second;
}

const CodecSpec* CodecTable::for_convert_kind(const std::string& kind) const {
  for (const auto& [k, s] : table_)
    for (const auto& c : s.convert_kinds)
      if (c == kind) return &s;
  return nullptr;
}

std::vector<std::string> CodecTable::kinds() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : table_) out.push_back(k);
  return out;
}

std::vector<CodecKindInfo> codec_kinds() {
  std::vector<CodecKindInfo> out;
  for (const auto& k : codec_table().kinds()) {
    const auto& s = codec_table().at(k);
    out.push_back({s.kind, s.modality_kind, s.description, s.convert_kinds});
  }
  return out;
}

bool is_codec_convert_kind(const std::string& kind) { return codec_table().for_convert_kind(kind) != nullptr; }

Column Codec::preprocessed(const Table&, const std::string&) const {
  fail_usage("the {} codec has no preprocessing to show", info_.kind);
}

std::string token_column(const std::string& modality) { return "tok_" + modality; }

// ---------------------------------------------------------------- helpers

ModelFile module_part(torch::nn::Module& m, const CodecInfo& info) {
  ModelFile f;
  f.meta = {{"architecture", info.kind}, {"config", info.config}, {"modality", info.modality},
            {"num_tokens", info.num_tokens}, {"vocab_size", info.vocab_size}};
  for (const auto& [name, t] : models::state_of(m)) f.tensors.push_back(models::to_stored(name, t));
  return f;
}

void load_module(torch::nn::Module& m, const ModelFile& part, const std::string& where) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& t : part.tensors) state[t.name] = models::from_stored(t);
  models::load_state(m, state, where);
}

const torch::Tensor& need(const StateDict& sd, const std::string& key, const std::string& where) {
  auto it = sd.find(key);
  if (it == sd.end()) fail_input("{}: no tensor '{}' (is this the right --kind?)", where, key);
  return it->second;
}

std::vector<bool> display_rows(const Table& b) {
  std::vector<bool> d(static_cast<size_t>(b.rows()), true);
  if (const Column* iv = b.find(mmu::kImageIvar)) {
    const int64_t per = iv->row_elems();
    for (int64_t i = 0; i < b.rows(); ++i)
      for (int64_t k = 0; k < per && d[i]; ++k)
        if (std::isfinite(iv->as_double(i * per + k))) d[i] = false;
  }
  return d;
}

torch::Tensor column_tensor(const Column& c, const std::string& where) {
  std::vector<int64_t> shape = {c.rows};
  shape.insert(shape.end(), c.shape.begin(), c.shape.end());
  switch (c.dtype) {
    case DType::Float32:
    case DType::Float64: return models::batch_tensor(c, where);
    case DType::UInt8: return torch::from_blob(const_cast<uint8_t*>(c.data.data()), shape, torch::kUInt8).to(torch::kFloat32);
    case DType::Bool: return torch::from_blob(const_cast<uint8_t*>(c.data.data()), shape, torch::kUInt8).to(torch::kBool);
    default: {
      std::vector<float> v(static_cast<size_t>(c.rows * c.row_elems()));
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(c.as_double(static_cast<int64_t>(i)));
      if (c.dtype == DType::String) fail_input("{}: column {} holds strings, not numbers", where, c.name);
      return torch::tensor(v).reshape(shape);
    }
  }
}

Column tokens_column(const std::string& modality, const torch::Tensor& tokens) {
  auto t = tokens.to(torch::kCPU).to(torch::kInt32).contiguous();
  if (t.dim() == 1) t = t.unsqueeze(1);
  Column c(token_column(modality), DType::Int32, {t.size(1)}, t.size(0));
  std::memcpy(c.data.data(), t.data_ptr<int32_t>(), c.data.size());
  return c;
}

torch::Tensor tokens_tensor(const Column& tokens, const CodecInfo& info, bool allow_missing, const std::string& where) {
  if (!dtype_is_integer(tokens.dtype)) fail_input("{}: {} must hold integer tokens, got {}", where, tokens.name, tokens.describe());
  int64_t per = tokens.row_elems();
  if (per != info.num_tokens)
    fail_input("{}: {} has {} tokens per object; the {} codec for '{}' uses {}", where, tokens.name, per, info.kind, info.modality,
               info.num_tokens);
  std::vector<int64_t> v(static_cast<size_t>(tokens.rows * per));
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = tokens.as_int64(static_cast<int64_t>(i));
    const int64_t pos = static_cast<int64_t>(i) % per, limit = info.vocab_at(pos);
    if ((v[i] < 0 && !(allow_missing && v[i] == kMissing)) || v[i] >= limit)
      fail_input("{}: {} row {} token {} is {}, outside the codec's vocabulary 0..{}", where, tokens.name, static_cast<int64_t>(i) / per, pos,
                 v[i], limit - 1);
  }
  return torch::tensor(v, torch::kLong).reshape({tokens.rows, per});
}

// ---------------------------------------------------------------- codec sets

std::string resolve_codec_path(const std::string& name) { return resolve_model_path(name); }

namespace {
std::shared_ptr<const Codec> load_part(const ModelFile& part, const std::string& where) {
  std::string kind = part.meta.value("architecture", "");
  if (!part.meta.contains("modality")) fail_input("{}: a '{}' model, not a codec (astrofm train codec-* writes codecs)", where, kind);
  try {
    return codec_table().at(kind).load(part, where);
  } catch (const nlohmann::json::exception& e) {
    fail_corrupt("{}: codec header: {}", where, e.what());
  } catch (const c10::Error& e) {
    fail_corrupt("{}: codec tensors: {}", where, e.what_without_backtrace());
  }
}
}  // namespace

CodecSet CodecSet::load(const std::vector<std::string>& names) {
  CodecSet s;
  // A codec of a file with several (parts, or a snapshot's codecs/ folder), with where it came from.
  auto take = [&s](std::shared_ptr<const Codec> c, const std::string& path, const std::string& where) {
    if (s.find(c->info().modality)) fail_input("{}: a codec for '{}' is already loaded from another --codecs file", path, c->info().modality);
    s.sources_[c->info().modality] = where;
    s.add(std::move(c));
  };
  for (const auto& n : names) {
    std::string path = resolve_codec_path(n);
    if (aion::is_snapshot(path)) {  // a released snapshot: every codec in its codecs/ folder
      for (const auto& [name, sc] : aion::read_snapshot(path).codecs) take(codec_from_snapshot(sc), path, sc.config_path);
      continue;
    }
    ModelFile f = ModelFile::read(path);
    const bool bundle = require_model_kind(f.meta, {ModelKind::Codecs, ModelKind::Bundle}, path) == ModelKind::Bundle;
    auto parts = f.parts();
    if (bundle) parts.erase(std::remove(parts.begin(), parts.end(), "model"), parts.end());
    if (parts.empty()) {
      auto c = load_part(f, path);
      s.sources_[c->info().modality] = path;
      s.add(c);
      continue;
    }
    for (const auto& p : parts) {
      const std::string where = fmt::format("{} (part {})", path, p);
      take(load_part(f.part(p), where), path, where);
    }
  }
  return s;
}

std::string CodecSet::source(const std::string& modality) const {
  auto it = sources_.find(modality);
  return it == sources_.end() ? std::string() : it->second;
}

void CodecSet::add(std::shared_ptr<const Codec> c) {
  const auto& m = c->info().modality;
  if (codecs_.count(m)) fail_usage("two codecs for modality '{}'", m);
  codecs_[m] = std::move(c);
}

const Codec* CodecSet::find(const std::string& modality) const {
  auto it = codecs_.find(modality);
  // A survey-named token modality (image_hsc, spectrum_desi) is its codec's.
  if (it == codecs_.end())
    if (auto cut = modality.rfind('_'); cut != std::string::npos && cut > 0) it = codecs_.find(modality.substr(0, cut));
  return it == codecs_.end() ? nullptr : it->second.get();
}

const Codec& CodecSet::at(const std::string& modality) const {
  auto* c = find(modality);
  if (!c) fail_not_found("no codec for modality '{}' (the codecs cover: {})", modality, fmt::join(modalities(), ", "));
  return *c;
}

std::vector<std::string> CodecSet::modalities() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : codecs_) out.push_back(k);
  return out;
}

std::vector<std::string> CodecSet::usable(const std::vector<std::string>& columns) const {
  std::vector<std::string> out;
  for (const auto& [m, c] : codecs_) {
    bool all = true;
    for (const auto& col : c->input_columns())
      if (std::find(columns.begin(), columns.end(), col) == columns.end()) all = false;
    if (all) out.push_back(m);
  }
  return out;
}

void CodecSet::save(const std::string& path, const nlohmann::json& meta) const { model_file(meta).write(path); }

ModelFile CodecSet::model_file(const nlohmann::json& meta) const {
  ModelFile f;
  f.meta = meta.is_object() ? meta : nlohmann::json::object();
  f.meta["architecture"] = "codecs";
  f.meta["config"] = nlohmann::json::object();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [m, c] : codecs_) {
    f.add_part(m, c->to_part());
    list.push_back({{"modality", m}, {"kind", c->info().kind}, {"num_tokens", c->info().num_tokens}, {"vocab_size", c->info().vocab_size}});
  }
  f.meta["codecs"] = list;
  return f;
}

nlohmann::json convert_aion_codec(const std::string& checkpoint, const std::string& kind, const std::string& out, const nlohmann::json& hp) {
  const CodecSpec* spec = codec_table().for_convert_kind(kind);
  if (!spec) fail_usage("unknown codec checkpoint kind '{}'", kind);
  auto ck = models::read_checkpoint(checkpoint);
  StateDict sd;
  for (auto& [k, v] : ck.tensors) {
    std::string name = k;
    for (const char* p : {"module.", "model.codec."})
      if (name.rfind(p, 0) == 0) name = name.substr(std::string(p).size());
    sd[name] = v;
  }
  nlohmann::json h = ck.hyper_parameters.is_object() ? ck.hyper_parameters : nlohmann::json::object();
  if (hp.is_object()) h.merge_patch(hp);
  auto codec = spec->convert(kind, sd, h, checkpoint);
  CodecSet s;
  s.add(codec);
  nlohmann::json meta = {{"name", fs::path(out).stem().string()},
                         {"description", fmt::format("{} converted from {}", codec->info().kind, fs::path(checkpoint).filename().string())},
                         {"converted_from", {{"checkpoint", checkpoint}, {"kind", kind}}}};
  s.save(out, meta);
  return {{"architecture", "codecs"}, {"config", codec->info().config}, {"modality", codec->info().modality}};
}

}  // namespace astrofm::codecs
