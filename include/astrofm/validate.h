#pragma once
// Schema checks for MMU datasets: every violation, not just the first.
// Thread-safety: reads HDF5 (one HDF5 caller at a time, see mmu.h).
#include <string>
#include <vector>

namespace astrofm {

struct Violation {
  std::string file;
  std::string column;  // empty when about the file itself
  std::string reason;
};

// Checks mandatory columns, dtypes, row counts, sky positions against the
// partition, object_id uniqueness, and the image / spectrum modality schemas.
std::vector<Violation> validate_dataset(const std::string& path);

}  // namespace astrofm
