#include "astrofm/info.h"

#include <nlohmann/json.hpp>

#include "astrofm/mmu.h"

namespace astrofm {

nlohmann::json dataset_info(const std::string& path) {
  Dataset ds = Dataset::open(path);
  nlohmann::json j;
  j["path"] = ds.path();
  j["config"] = ds.config();
  j["objects"] = ds.rows();
  j["partitions"] = nlohmann::json::array();
  for (const auto& p : ds.partitions())
    j["partitions"].push_back({{"healpix", p.healpix}, {"objects", p.rows}, {"file", p.path}});
  j["columns"] = nlohmann::json::array();
  for (const auto& c : ds.schema())
    j["columns"].push_back({{"name", c.name}, {"dtype", dtype_name(c.dtype)}, {"shape", c.shape},
                            {"hdf5_type", c.hdf5_type}, {"filters", c.filters}});
  return j;
}

std::string format_dataset_info(const nlohmann::json& j) {
  std::string s = fmt::format("dataset   {}\nconfig    {}\nobjects   {}\npartitions {} (HEALPix NSIDE 16, nested)\n",
                              j["path"].get<std::string>(), j["config"].get<std::string>(),
                              j["objects"].get<int64_t>(), j["partitions"].size());
  for (const auto& p : j["partitions"])
    s += fmt::format("  healpix={:<6} {:>10} objects\n", p["healpix"].get<int64_t>(), p["objects"].get<int64_t>());
  s += fmt::format("columns   {}\n", j["columns"].size());
  for (const auto& c : j["columns"]) {
    auto shape = c["shape"].get<std::vector<int64_t>>();
    auto filters = c["filters"].get<std::vector<std::string>>();
    s += fmt::format("  {:<22} {:<8} per-object shape [{}]  stored as {}{}\n", c["name"].get<std::string>(),
                     c["dtype"].get<std::string>(), fmt::join(shape, ","), c["hdf5_type"].get<std::string>(),
                     filters.empty() ? "" : " (" + fmt::format("{}", fmt::join(filters, "+")) + ")");
  }
  return s;
}

}  // namespace astrofm
