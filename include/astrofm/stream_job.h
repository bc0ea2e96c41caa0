#pragma once
// A streaming job from one MMU dataset to another (embed, tokenize,
// detokenize): batches in partition order, a checkpoint every
// `checkpoint_rows` input rows or `checkpoint_seconds`, whichever comes
// first, so that a job killed even with SIGKILL resumes
// from its last checkpoint (inside a partition), and, under mpirun, HEALPix
// partitions shared out over the ranks (partition_owners), each rank writing
// its own partitions into one staged output that rank 0 publishes. The output
// is the same for any number of ranks. Thread-safety: one job per thread.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "astrofm/mmu.h"

namespace astrofm {

class Communicator;

struct StreamJobOptions {
  std::string data;                  // input MMU dataset
  std::string out;                   // output root
  std::string config;                // output config folder (default: the input's)
  std::vector<std::string> columns;  // input columns read
  int64_t batch = 64;                // input rows per batch
  int64_t checkpoint_rows = 1024;    // input rows between checkpoints
  double checkpoint_seconds = 30;    // and at most this long between them (slow models, big objects)
  bool overwrite = false, resume = false;
  std::string out_format = "hdf5";   // or "hats": partitioned like the input
  std::string label = "job";         // progress bar
  std::map<std::string, std::string> attributes;  // written on every partition file
  Communicator* comm = nullptr;      // null: one process
};

struct StreamJobResult {
  int64_t rows_in = 0, rows_out = 0;  // over all ranks
  int64_t resumed_at = 0;             // this rank's input rows done before a resume
};

// `job(batch, where)` turns a batch of input rows into output rows (possibly
// none); `where` names the dataset and rows for error messages.
using StreamJobFn = std::function<Table(const Table& batch, const std::string& where)>;
StreamJobResult run_stream_job(const StreamJobOptions& opt, const StreamJobFn& job);

}  // namespace astrofm
