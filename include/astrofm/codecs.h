#pragma once
// Modality tokenizers (codecs) for AION-style any-to-any models: each codec
// turns one modality's MMU columns into integer tokens and back. Kinds are a
// table (src/codecs/codec_table.cc, one file per kind): "scalar" (an
// empirical-CDF quantiser with a linear, log or arcsinh transform), "scalar-grid"
// (linear bins on a fixed range), "image" (range compression, per-band field
// embedding, MagViT autoencoder, FSQ) and "spectrum" (latent wavelength grid,
// normalisation token, ConvNeXt-1D autoencoder, LFQ). Several codecs live in one
// model file as parts named by modality (docs/codecs.md). Torch-free interface.
// Thread-safety: a loaded Codec is immutable; encode/decode may run concurrently.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/model_file.h"
#include "astrofm/modality.h"
#include "astrofm/table.h"

namespace astrofm {
class Communicator;
}

namespace astrofm::codecs {

// Token columns are int32 [N, num_tokens] named tok_<modality>; kMissing marks
// a value that was not observed (a non-finite scalar): a state, not a bin.
constexpr int32_t kMissing = -1;
std::string token_column(const std::string& modality);  // "tok_" + modality

struct CodecInfo {
  std::string kind;          // codec table entry: scalar | scalar-grid | image | spectrum | catalog
  std::string modality;      // "image", "spectrum", or the scalar's column ("Z", "FLUX_G")
  int64_t num_tokens = 1;    // tokens per object
  int64_t vocab_size = 0;    // token values are 0 .. vocab_size-1 (or kMissing)
  nlohmann::json config;     // everything that defines the codec besides its tensors
  // Per token position, when positions draw from different ranges (spectrum:
  // the normalisation bins, then the LFQ codes); empty: vocab_size everywhere.
  std::vector<int64_t> token_vocab;
  int64_t vocab_at(int64_t position) const { return token_vocab.empty() ? vocab_size : token_vocab[position]; }
  // Of the modality table: what callers dispatch on.
  ModalityKind modality_kind() const;
};

class Codec {
 public:
  virtual ~Codec() = default;
  const CodecInfo& info() const { return info_; }
  // Columns encode() reads (decode() may use some of them as context).
  virtual std::vector<std::string> input_columns() const = 0;
  // tok_<modality> int32 [N, num_tokens]. InputError naming `where` on bad input.
  virtual Column encode(const Table& batch, const std::string& where) const = 0;
  // The modality's columns back from int32 [N, num_tokens] tokens. `context`
  // (same rows, may be empty) can say how: image_band (which bands to write),
  // spectrum_lambda (the wavelength grid to write on).
  virtual Table decode(const Column& tokens, const Table& context, const std::string& where) const = 0;
  // The network's input after preprocessing (images: range-compressed on the
  // band vocabulary's channels [N, V, crop, crop]; spectra: the two channels on
  // the latent grid [N, 2, L]; scalars: the transformed values), for
  // cross-checks against AION's preprocessing.
  virtual Column preprocessed(const Table& batch, const std::string& where) const;
  // The codec as a model file part (meta: architecture = kind, config, modality, ...).
  virtual ModelFile to_part() const = 0;

 protected:
  CodecInfo info_;
};

// Whether a transformer modality of `tokens` tokens over `vocab` values takes
// this codec's tokens: the same counts, or (one-token modalities only) one
// value more than the codec makes, as AION's released tok_z (1,025) against
// its Z codec (1,024 bins): no object is ever tokenized to that value.
// A sequence modality (the catalog) takes the codec's values shifted by its vocab_offset.
inline bool model_takes(const CodecInfo& codec, int64_t tokens, int64_t vocab, int64_t vocab_offset = 0) {
  return codec.num_tokens == tokens &&
         (codec.vocab_size + vocab_offset == vocab || (tokens == 1 && vocab == codec.vocab_size + 1));
}

// One codec per modality, from one or several codec files.
class CodecSet {
 public:
  // Each file's parts (or a one-codec file itself). InputError naming the file
  // when a part is not a codec, and when two files hold the same modality.
  static CodecSet load(const std::vector<std::string>& paths);
  void add(std::shared_ptr<const Codec> c);
  const Codec& at(const std::string& modality) const;  // NotFound listing what is there
  // Exact modality, else a survey-named one's prefix: image_hsc -> image.
  const Codec* find(const std::string& modality) const;
  std::vector<std::string> modalities() const;
  // The file (and part) a modality's codec came from, for error messages ("" when built in memory).
  std::string source(const std::string& modality) const;
  bool empty() const { return codecs_.empty(); }
  // All codecs as parts of one model file (architecture "codecs"), written atomically.
  void save(const std::string& path, const nlohmann::json& meta = {}) const;
  ModelFile model_file(const nlohmann::json& meta = {}) const;  // the same file in memory
  // The codecs of the modalities present in `columns` (their input columns all there).
  std::vector<std::string> usable(const std::vector<std::string>& columns) const;

 private:
  std::map<std::string, std::shared_ptr<const Codec>> codecs_;
  std::map<std::string, std::string> sources_;
};

// The codec table's kinds ("image", "scalar", ...) and what each converts.
struct CodecKindInfo {
  std::string kind, modality_kind, description;
  std::vector<std::string> convert_kinds;
};
std::vector<CodecKindInfo> codec_kinds();
bool is_codec_convert_kind(const std::string& kind);

// AION's codec state dicts (torch.save of codec.state_dict()) -> a codec file.
// kind: aion-codec-image | aion-codec-spectrum | aion-codec-scalar. `hp`:
// settings the weights do not reveal (scalars: "modality" = AION's modality
// class name or "transform"; "column" = the MMU column it tokenizes).
nlohmann::json convert_aion_codec(const std::string& checkpoint, const std::string& kind, const std::string& out,
                                  const nlohmann::json& hp = {});

// `astrofm train codec-scalar`: empirical-CDF codecs for catalogue columns,
// streamed over the datasets with a reservoir sample.
struct ScalarFitOptions {
  std::vector<std::string> data;
  // COLUMN or COLUMN:TRANSFORM, TRANSFORM one of linear, log, arcsinh, grid.
  // Without one: log for fluxes (FLUX_*) and SHAPE_R, grid for Z, else linear (AION's choices).
  std::vector<std::string> columns;
  int64_t bins = 1024;
  int64_t reservoir = 100000;
  double min_log = -3;                      // log: values below e^min_log are floored there
  std::vector<double> grid_range = {0, 1};  // grid: AION's redshift range
  uint64_t seed = 1;
  std::string out;
  bool overwrite = false;
};
// Returns the written file's meta.
nlohmann::json fit_scalar_codecs(const ScalarFitOptions& opt);

// `astrofm tokenize`: tok_<modality> columns (plus object_id, ra, dec and
// image_band) for every modality a codec covers; streaming and resumable.
struct TokenizeOptions {
  std::vector<std::string> codecs;  // codec files (or shipped names)
  std::vector<std::string> data;
  std::string out;                  // one dataset: its root; several: out/<name of each>
  std::vector<std::string> modalities;  // empty: every one the codecs and the data share
  // Token modality names: codec modality -> name (image -> image_hsc writes
  // tok_image_hsc), so one dataset can hold two surveys' images, as AION's
  // tok_image (Legacy Survey) and tok_image_hsc. Codecs find such names by
  // their prefix (CodecSet::find).
  std::map<std::string, std::string> names;
  // "" (all rows), "train" or "test": the fixed split by object_id that
  // `astrofm probe` uses without --test (in_fixed_test_split).
  std::string split;
  // Modality -> N: its tokens are kept for N objects only (chosen by a hash
  // of object_id, the same for every run) and missing (kMissing) elsewhere;
  // for pre-training that sees a label for few objects.
  std::map<std::string, int64_t> keep;
  int64_t batch = 64;
  bool overwrite = false, resume = false;
  std::string out_format = "hdf5";  // or hats
  std::shared_ptr<Communicator> comm;  // mpirun: ranks share the partitions (stream_job.h)
};
struct TokenizeResult {
  int64_t objects = 0;
  std::vector<std::string> columns;
};
TokenizeResult tokenize(const TokenizeOptions& opt);

// The in-memory core of `astrofm tokenize` (the file job, Python and Dask
// wrap it): for codecs and the columns a dataset holds, which columns to
// read and, per batch, object_id, ra, dec and one tok_<name> column per
// modality (plus the image bands detokenize needs). Thread-safety: const.
class CatalogueTokenizer {
 public:
  // modalities empty: every one the codecs and the columns share; names as
  // TokenizeOptions::names. InputError naming `where` when nothing fits.
  CatalogueTokenizer(const CodecSet& codecs, const std::vector<std::string>& have, const std::vector<std::string>& modalities,
                     const std::map<std::string, std::string>& names, const std::string& where);
  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<std::string>& modalities() const { return mods_; }
  std::string token_name(const std::string& modality) const;  // tok_<name>
  Table tokenize(const Table& batch, const std::string& where) const;

 private:
  CodecSet set_;
  std::vector<std::string> mods_, columns_;
  std::map<std::string, std::string> names_;
};

// `astrofm detokenize`: the modality columns back from tok_ columns.
struct DetokenizeOptions {
  std::vector<std::string> codecs;
  std::string data;   // a tokens dataset
  std::string out;
  int64_t batch = 64;
  bool overwrite = false, resume = false;
  std::string out_format = "hdf5";  // or hats
  std::shared_ptr<Communicator> comm;
};
TokenizeResult detokenize(const DetokenizeOptions& opt);

// `astrofm codec eval`: reconstruction quality on a dataset (docs/codecs.md).
struct CodecEvalOptions {
  std::vector<std::string> codecs;
  std::string data;
  std::string report;  // folder: index.html (Vega-Lite figures), metrics.json, reconstruction cutouts; empty: none
  int64_t max_objects = 2000;
  int64_t figures = 6;  // objects shown per modality
  int64_t batch = 32;
};
nlohmann::json evaluate_codecs(const CodecEvalOptions& opt);

std::string resolve_codec_path(const std::string& name_or_path);

}  // namespace astrofm::codecs
