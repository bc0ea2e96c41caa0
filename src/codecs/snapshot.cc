// Released snapshots' codecs, and bundles (include/astrofm/bundle.h).
#include <algorithm>
#include <filesystem>

#include "astrofm/bundle.h"
#include "astrofm/codecs.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/aion.h"
#include "astrofm/models/snapshot.h"
#include "codecs/codec_table.h"

namespace astrofm {
namespace fs = std::filesystem;

namespace codecs {

std::shared_ptr<const Codec> codec_from_snapshot(const aion::SnapshotCodec& c) {
  const StateDict sd = models::read_weights(c.weights_path);
  nlohmann::json hp = c.config;
  std::string kind;
  if (c.codec_class == "ImageCodec") kind = "aion-codec-image";
  else if (c.codec_class == "SpectrumCodec") kind = "aion-codec-spectrum";
  else if (c.codec_class == "ScalarCodec") kind = "aion-codec-scalar", hp["transform"] = "linear";
  else if (c.codec_class == "LogScalarCodec") kind = "aion-codec-scalar", hp["transform"] = "log";
  else if (c.codec_class == "GridScalarCodec") kind = "aion-codec-scalar";
  else if (c.codec_class == "CatalogCodec") kind = "aion-codec-catalog";
  else if (c.codec_class == "ScalarFieldCodec") kind = "aion-codec-field";
  else if (c.codec_class == "MultiScalarCodec") {
    kind = "aion-codec-scalar";
    auto fns = c.config.value("compression_fns", nlohmann::json::array({"arcsinh"}));
    for (const auto& f : fns)
      if (f != "arcsinh") fail_input("{}: compression_fns {}: astrofm's vector scalar codec compresses with arcsinh only", c.config_path, fns.dump());
    hp["transform"] = "arcsinh";
  } else {
    fail_input("{}: the {} codec ({}) is not one astrofm has yet", c.config_path, c.name, c.codec_class);
  }
  if (!hp.contains("modality")) hp["modality"] = c.name;
  const CodecSpec* spec = codec_table().for_convert_kind(kind);
  try {
    auto codec = spec->convert(kind, sd, hp, c.weights_path);
    // The settings file and the weights must describe one codec.
    const auto& info = codec->info();
    if (c.config.contains("codebook_size")) {
      const int64_t said = c.config["codebook_size"].get<int64_t>();
      const int64_t made = info.config.value("codebook_size", info.config.value("bins", info.vocab_size));
      if (said != made)
        fail_input("{}: codebook_size {} but {} holds a codec of {} values", c.config_path, said, fs::path(c.weights_path).filename().string(), made);
    }
    return codec;
  } catch (const nlohmann::json::exception& e) {
    fail_input("{}: {}", c.config_path, e.what());
  } catch (const c10::Error& e) {
    fail_input("{}: {}", c.weights_path, e.what_without_backtrace());
  }
}

}  // namespace codecs

ModelFile snapshot_bundle(const std::string& dir) {
  auto snap = aion::read_snapshot(dir);
  auto t = models::snapshot_transformer(snap);
  auto cfg = models::AionConfig::from_json(t.meta.at("config"));
  ModelFile model;
  model.meta = t.meta;
  for (const auto& [name, v] : t.state) model.tensors.push_back(models::to_stored(name, v));
  ModelFile b;
  b.meta = t.meta;
  b.meta["kind"] = "bundle";
  b.add_part("model", model);
  nlohmann::json list = nlohmann::json::array();
  std::map<std::string, std::shared_ptr<const codecs::Codec>> made;  // by codec folder
  for (const auto& m : cfg.modalities) {
    const auto& sc = aion::codec_for(snap, m.key);
    if (!made.count(sc.name)) made[sc.name] = codecs::codec_from_snapshot(sc);
    const auto& info = made[sc.name]->info();
    if (!codecs::model_takes(info, m.tokens, m.vocab, m.vocab_offset))
      fail_input("{}: the {} codec makes {} tokens of {} values, but the transformer's {} takes {} of {} ({})", sc.config_path, sc.name,
                 info.num_tokens, info.vocab_size, m.key, m.tokens, m.vocab, snap.weights_path);
  }
  for (const auto& [name, c] : made) {
    b.add_part(c->info().modality, c->to_part());
    list.push_back({{"modality", c->info().modality}, {"kind", c->info().kind}, {"num_tokens", c->info().num_tokens},
                    {"vocab_size", c->info().vocab_size}, {"from", "codecs/" + name}});
  }
  b.meta["codecs"] = list;
  // Which columns each modality reads and writes, in one place.
  nlohmann::json table = nlohmann::json::array();
  for (const auto& m : cfg.modalities) {
    const auto* r = aion::find_modality(m.key);
    table.push_back({{"aion_class", r->aion_class}, {"token_key", m.key}, {"column", m.column}, {"codec", r->codec_dir}});
  }
  b.meta["modalities"] = table;
  return b;
}

nlohmann::json convert_snapshot(const std::string& dir, const std::string& out, const nlohmann::json& set) {
  ModelFile b = snapshot_bundle(dir);
  for (auto& [k, v] : set.items()) {
    if (k != "name" && k != "description") fail_usage("--set {}: a snapshot conversion sets only name and description", k);
    b.meta[k] = v;
  }
  if (!set.contains("name")) b.meta["name"] = fs::path(out).stem().string();
  b.write(out);
  nlohmann::json meta = b.meta;
  meta.erase("parts");
  return meta;
}

namespace {
std::shared_ptr<const codecs::CodecSet> own_codecs(const std::string& model_path) {
  auto paths = codecs_for_model(model_path, {});
  return paths.empty() ? nullptr : std::make_shared<const codecs::CodecSet>(codecs::CodecSet::load(paths));
}
}  // namespace

RawTokenizer::RawTokenizer(const std::string& model_path, const std::vector<std::string>& columns, const std::string& where,
                           const std::vector<std::string>& only, const std::vector<std::string>& also)
    : RawTokenizer(own_codecs(model_path), columns, where, only, also) {}

RawTokenizer::RawTokenizer(std::shared_ptr<const codecs::CodecSet> set, const std::vector<std::string>& columns, const std::string& where,
                           const std::vector<std::string>& only, const std::vector<std::string>& also)
    : where_(where) {
  if (!set) return;
  auto in = [](const std::vector<std::string>& v, const std::string& c) { return std::find(v.begin(), v.end(), c) != v.end(); };
  for (const auto& m : set->usable(columns)) {
    const std::string col = codecs::token_column(m);
    const bool image = set->at(m).info().modality_kind() == ModalityKind::Image;
    if (in(columns, col) || (image && in(columns, "tok_image_hsc"))) continue;
    const bool named = in(only, col) || (image && in(only, "tok_image_hsc"));
    const bool by_default = only.empty() && m != "Z" && m != "ra" && m != "dec";
    if (named || by_default || in(also, col)) made_[col] = m;
  }
  set_ = std::move(set);
}

std::vector<std::string> RawTokenizer::token_columns() const {
  std::vector<std::string> out;
  for (const auto& [c, m] : made_) out.push_back(c);
  return out;
}

std::vector<std::string> RawTokenizer::inputs_of(const std::string& token_column) const {
  return set_->at(made_.at(token_column == "tok_image_hsc" ? "tok_image" : token_column)).input_columns();
}

Table RawTokenizer::tokenize(const Table& batch) const {
  Table out = batch;
  for (const auto& [col, m] : made_) {
    bool read = true;  // only the token columns whose inputs the caller read
    for (const auto& in : set_->at(m).input_columns()) read = read && batch.find(in) != nullptr;
    if (!read) continue;
    Column t = set_->at(m).encode(batch, where_);
    // AION keeps HSC images apart from the Legacy Survey's (tok_image_hsc): the bands say which.
    if (set_->at(m).info().modality_kind() == ModalityKind::Image && batch.rows() > 0)
      if (const Column* b = batch.find(mmu::kImageBand); b && !b->strings.empty() && b->strings[0].rfind("HSC", 0) == 0) t.name = "tok_image_hsc";
    out.add(std::move(t));
  }
  return out;
}

std::vector<std::string> codecs_for_model(const std::string& model, const std::vector<std::string>& codecs) {
  if (!codecs.empty()) return codecs;
  if (aion::is_snapshot(model)) return {model};
  std::error_code ec;
  if (!fs::is_regular_file(model, ec)) return {};
  try {
    if (model_kind(ModelFile::read_meta(model), model) == ModelKind::Bundle) return {model};
  } catch (const Error&) {  // a PyTorch checkpoint or another format: no codecs of its own
  }
  return {};
}

}  // namespace astrofm
