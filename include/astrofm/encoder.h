#pragma once
// The in-memory encoder: open a model file (or a shipped model by name) and
// embed tables of modality columns, without touching the disk. This is what
// `astrofm embed`, the Python bindings and a service use. Torch-free header.
//
//   astrofm::Encoder enc("galaxy-cnn-ssl");
//   astrofm::Table t;  // image_array [N, 3, H, W] float32 and image_band [N, 3]
//   astrofm::Table e = enc.embed(t);  // embedding_image [N, D]
//
// Thread-safety: embed() is const and may be called from several threads at
// once on one Encoder (inference only; no state changes). Construction is
// not thread-safe with respect to the same object.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/table.h"

namespace astrofm {
namespace models {
struct LoadedModel;
}

struct EncoderOptions {
  std::string device = "cpu";  // cpu | cuda (InputError (Usage) when no CUDA device is there)
  std::string dtype = "float32";  // float32 | bfloat16 (AION models: bfloat16 weights, half the memory)
};

class Encoder {
 public:
  // A model file path or a shipped model name (see resources.h).
  explicit Encoder(const std::string& model, EncoderOptions opt = {});
  // A model already loaded at `path`, onto opt.device: its weights are shared,
  // not copied (AION's one object hands them to its generator too).
  Encoder(const models::LoadedModel& loaded, const std::string& path, EncoderOptions opt = {});
  ~Encoder();
  Encoder(Encoder&&) noexcept;
  Encoder& operator=(Encoder&&) noexcept;

  const std::string& name() const;          // the model file's "name" (else its stem)
  const std::string& path() const;
  const std::string& architecture() const;
  const nlohmann::json& meta() const;       // the whole model-file header
  std::vector<std::string> modalities() const;  // those the model embeds
  // Which of the model's modalities `columns` can feed.
  std::vector<std::string> modalities_for(const std::vector<std::string>& columns) const;
  // The data columns embedding reads, of those in `columns` (main columns and
  // image_band; an AION model's token columns).
  std::vector<std::string> input_columns(const std::vector<std::string>& columns) const;

  // Embeds every modality of the model that `batch` holds: columns
  // embedding_<modality> [N, D] float32, and with `tokens`
  // tokens_<modality> [N, T, D]. InputError naming the column and value for
  // bad input (a missing band, a wrong shape, no modality to embed).
  Table embed(const Table& batch, bool tokens = false) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace astrofm
