#pragma once
// The astrofm model file (.afm): one self-describing, memory-mappable file per
// model; byte layout in docs/formats/model-file.md. A JSON header
// (architecture, config, preprocessing, training, provenance, tensor index
// with offsets) then little-endian tensor data, each tensor aligned to 64
// bytes. Several parts (codecs, a transformer) can share one file under name
// prefixes ("parts" in the header). Format 1 files (no offsets) still load.
// Torch-free: any tool can read the metadata; the models module maps tensors
// to modules.
// Thread-safety: a ModelFile is immutable after read(); concurrent readers of
// one instance are safe.
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm {

enum class TensorDType : uint8_t { F32, F16, BF16, I64, I32, U8 };
const char* tensor_dtype_name(TensorDType t);  // "float32", "float16", "bfloat16", "int64", "int32", "uint8"
TensorDType tensor_dtype_from_name(const std::string& name, const std::string& where);
size_t tensor_dtype_size(TensorDType t);

struct StoredTensor {
  std::string name;
  TensorDType dtype = TensorDType::F32;
  std::vector<int64_t> shape;
  int64_t numel() const;
  // The little-endian bytes: owned (when built for writing, or read from a
  // format-1 file) or a view into the file's memory map.
  std::span<const uint8_t> bytes() const { return view_.data() ? view_ : std::span<const uint8_t>(owned_); }
  void set_bytes(std::vector<uint8_t> b) { owned_ = std::move(b), view_ = {}; }
  void set_view(std::span<const uint8_t> v) { view_ = v, owned_.clear(); }

 private:
  std::vector<uint8_t> owned_;
  std::span<const uint8_t> view_;
};

// What a model file holds: its header's "kind", decided here and nowhere
// else. Every file written gets the key; older files without it are read off
// their "architecture" ("codecs", "probe", "photoz"; anything else a model).
enum class ModelKind {
  Model,   // an encoder or transformer of the architecture table: --model
  Codecs,  // modality tokenizers: --codecs
  Probe,   // a probe saved by `astrofm probe ... --save`: --probe
  Photoz,  // a photo-z estimator: `astrofm photoz predict --model`
  Bundle,  // AION: a transformer with its codecs in one file: --model
};
const char* model_kind_name(ModelKind k);  // "model", "codecs", "probe", "photoz", "bundle"
// CorruptError naming `where` and the value for an unknown "kind".
ModelKind model_kind(const nlohmann::json& meta, const std::string& where);
// InputError unless the file is one of `want`: "<where>: a codecs file
// (modality tokenizers: --codecs), not a model or bundle".
ModelKind require_model_kind(const nlohmann::json& meta, std::initializer_list<ModelKind> want, const std::string& where);

struct ModelFile;
ModelFile read_safetensors(const std::string& path);  // astrofm/safetensors.h

struct ModelFile {
  static constexpr uint32_t kFormatVersion = 2;
  static constexpr size_t kAlignment = 64;
  nlohmann::json meta;  // everything but the tensor index; "architecture" and "config" are required
  std::vector<StoredTensor> tensors;

  // Throws InputError (Corrupt) naming the file on a bad magic, a newer
  // version, truncation, an offset out of bounds or a checksum mismatch; (IO)
  // when it cannot be opened. Format 2 tensors are views into a read-only map
  // held by the ModelFile.
  static ModelFile read(const std::string& path);
  // Only the header (fast; for `astrofm models`).
  static nlohmann::json read_meta(const std::string& path);
  // Format 2, written to path.tmp and renamed.
  void write(const std::string& path) const;
  // The same bytes in memory (for pickling, uploads); from_bytes() keeps its
  // own copy and checks it as read() does, `name` standing in for the path.
  std::string to_bytes() const;
  static ModelFile from_bytes(std::string bytes, const std::string& name);
  const StoredTensor* find(const std::string& name) const;
  int format() const { return format_; }

  // Sub-models: meta["parts"][prefix] holds a part's own architecture/config;
  // its tensors are named "<prefix>.<name>". part() returns that part as a
  // ModelFile of its own (tensor names without the prefix, sharing the map).
  std::vector<std::string> parts() const;
  ModelFile part(const std::string& prefix) const;
  // Adds `m` as part `prefix` (its meta under parts[prefix], its tensors prefixed).
  void add_part(const std::string& prefix, const ModelFile& m);

 private:
  friend ModelFile read_safetensors(const std::string& path);
  static ModelFile parse(const uint8_t* p, size_t n, std::shared_ptr<const void> keep, const std::string& path);
  void write_to(std::ostream& out, const std::string& path) const;
  std::shared_ptr<const void> map_;  // keeps the memory map alive for the views
  int format_ = kFormatVersion;
};

}  // namespace astrofm
