#pragma once
// `astrofm embed`: a model over an MMU dataset, written as an embedding
// catalogue (object_id, ra, dec, healpix, one column per embedding kind,
// model_id) in the MMU layout or as a FITS table. Torch-free interface.
// Thread-safety: embed_dataset() may run concurrently with other work, but two runs must not write
// the same output.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "astrofm/resources.h"
#include "astrofm/table.h"

namespace astrofm {

class Communicator;

struct EmbedOptions {
  std::string model;           // model file path or shipped model name
  std::string data;            // MMU dataset
  std::string out;             // output root (hdf5) or .fits file
  std::string format = "hdf5";  // hdf5 | hats | fits
  int64_t batch = 64;
  bool overwrite = false;
  bool resume = false;          // hdf5 only: continue an interrupted run
  std::string device = "cpu";   // cpu | cuda
  std::string dtype = "float32"; // float32 | bfloat16 (AION models)
  bool tokens = false;          // also write tokens_image / tokens_spectrum [T, D]: the backbones' token outputs
  // Only these input columns (empty: every one the model reads that the data
  // holds); for an AION model, which token modalities are embedded together:
  // {"tok_image"}, {"tok_image", "tok_FLUX_G"}.
  std::vector<std::string> inputs;
  int64_t checkpoint_rows = 1024;  // hdf5: objects between checkpoints (what a SIGKILL can cost)
  double checkpoint_seconds = 30;  // and seconds at most between them
  // mpirun: ranks share the HEALPix partitions (stream_job.h); null: one process.
  std::shared_ptr<Communicator> comm;
};

struct EmbedResult {
  int64_t objects = 0;
  std::vector<std::string> columns;  // embedding columns written
  int64_t resumed_at = 0;            // this rank's objects already embedded before a --resume
};

EmbedResult embed_dataset(const EmbedOptions& opt);

// The in-memory core of `astrofm embed`, built once per model (the file job,
// Python and the Dask entry point wrap it): given the columns a dataset
// holds, which to read, and rows in -> embedding-catalogue rows out
// (object_id, ra, dec, one column per embedding kind, model_id). Uses
// opt.model, device, dtype, tokens and inputs. Thread-safety: embed() may be
// called from one thread at a time.
class CatalogueEmbedder {
 public:
  CatalogueEmbedder(const EmbedOptions& opt, const std::vector<std::string>& have, const std::string& where);
  const std::vector<std::string>& columns() const;  // input columns embed() reads
  const std::string& model_id() const;
  Table embed(const Table& batch) const;

 private:
  struct State;
  std::shared_ptr<State> st_;
};

// Model names resolve through resources.h (shipped_models, resolve_model_path).

}  // namespace astrofm
