#pragma once
// A summary of an MMU dataset: partitions, row counts, columns.
// Thread-safety: reads HDF5 (one HDF5 caller at a time, see mmu.h).
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace astrofm {

// {"path", "config", "objects", "partitions": [{"healpix", "objects", "file"}],
//  "columns": [{"name", "dtype", "shape", "hdf5_type", "filters"}],
//  "modalities": [{"name", "kind"}]}  (image, spectrum and scalar modalities, modality.h)
nlohmann::json dataset_info(const std::string& path);
std::string format_dataset_info(const nlohmann::json& info);

}  // namespace astrofm
