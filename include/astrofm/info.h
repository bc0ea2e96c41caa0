#pragma once
// A summary of an MMU dataset: partitions, row counts, columns.
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace astrofm {

// {"path", "config", "objects", "partitions": [{"healpix", "objects", "file"}],
//  "columns": [{"name", "dtype", "shape", "hdf5_type", "filters"}]}
nlohmann::json dataset_info(const std::string& path);
std::string format_dataset_info(const nlohmann::json& info);

}  // namespace astrofm
