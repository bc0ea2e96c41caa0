#pragma once
// The astrofm model file: one self-describing file per model (see
// docs/model-file.md). A JSON header (architecture, hyper-parameters,
// preprocessing constants, bands, training data, provenance, tensor table)
// followed by raw little-endian tensor data and a checksum. Torch-free: any
// tool can read the metadata; the models module maps tensors to modules.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm {

struct StoredTensor {
  std::string name;
  std::string dtype = "float32";  // float32 | int64
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  int64_t numel() const;
};

struct ModelFile {
  static constexpr uint32_t kFormatVersion = 1;
  nlohmann::json meta;  // everything but the tensors; "architecture" and "config" are required
  std::vector<StoredTensor> tensors;

  // Throws InputError naming the file on a bad magic, version, truncation or checksum.
  static ModelFile read(const std::string& path);
  // Only the header (fast; for `astrofm models`).
  static nlohmann::json read_meta(const std::string& path);
  // Written to path.tmp and renamed.
  void write(const std::string& path) const;
  const StoredTensor* find(const std::string& name) const;
};

}  // namespace astrofm
