#pragma once
// `astrofm generate`: any modality from any other with an AION model. A
// one-token target (a scalar: redshift, a flux) gives its whole distribution
// over the codec's bins (mean, median, mode, percentiles, the density); a
// many-token target (a spectrum, an image) is decoded iteratively (MaskGIT /
// ROAR style: each step fixes the most confident of the still-masked tokens,
// cosine schedule) and turned back into MMU columns by its codec. When the data
// holds the target's own tokens, probabilistic metrics of the prediction (PIT,
// its KS statistic, CRPS, interval coverage) go to the report.
// Thread-safety: one job at a time per output.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/metrics.h"  // probabilistic_metrics
#include "astrofm/table.h"

namespace astrofm {
namespace models {
struct LoadedModel;
}
namespace codecs {
class CodecSet;
}

struct GenerateOptions {
  std::string model;                 // an AION model file
  std::vector<std::string> codecs;   // to decode the target (and name its bins)
  std::string data;                  // a tokens dataset (astrofm tokenize)
  std::vector<std::string> from;     // input modalities ("image", "FLUX_G", or tok_ names); empty: every one but the target
  std::string to;                    // the target modality
  std::string out;                   // output dataset root
  std::string report;                // folder for metrics.json and the PIT histogram; empty: none
  std::string qp;                    // one-token targets: the distributions as a qp hist file (docs/formats/qp.md); empty: none
  int64_t steps = 8;                 // iterative decoding steps (many-token targets)
  double temperature = 1.0;          // sampling temperature; 0: the most likely token
  uint64_t seed = 1;
  int64_t batch = 32;
  std::vector<std::string> bands;    // image targets: bands to write (default: the codec's)
  bool overwrite = false;
  std::string out_format = "hdf5";   // or hats: partitioned like the input
  std::string dtype = "float32";     // float32 | bfloat16 (bfloat16 weights: half the memory)
};

struct GenerateResult {
  int64_t objects = 0;
  std::vector<std::string> columns;
  nlohmann::json metrics;  // probabilistic metrics when the truth was there
};

GenerateResult generate(const GenerateOptions& opt);

// What to generate in one call of the in-memory core.
struct GenerateRequest {
  std::vector<std::string> from;  // input modalities; empty: every one the rows hold but the target
  std::string to;                 // the target modality
  int64_t steps = 8;
  double temperature = 1.0;
  uint64_t seed = 1;
  std::vector<std::string> bands;  // image targets: bands to write
};

// The in-memory core of `astrofm generate` and of the service's
// /v1/generate: the AION model and its codecs are loaded once; generate()
// takes rows in memory (token columns, or raw MMU columns the model's own
// codecs tokenize) and returns object_id, ra, dec and the target's columns,
// the same as the file job writes. Thread-safety: generate() may be called
// from several threads; one call runs at a time (torch's seed is global).
class Generator {
 public:
  Generator(const std::string& model, const std::vector<std::string>& codecs = {}, const std::string& dtype = "float32");
  // An AION model and codecs already loaded (shared, not copied): `codecs`
  // decode the target and tokenize raw columns.
  Generator(const models::LoadedModel& loaded, const std::string& path, std::shared_ptr<const codecs::CodecSet> codecs);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;
  // `where` names the rows in errors ("request", a file).
  Table generate(const Table& rows, const GenerateRequest& r, const std::string& where = "request") const;
  const std::string& model_path() const;

 private:
  friend GenerateResult generate(const GenerateOptions& opt);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace astrofm
