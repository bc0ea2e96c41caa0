#include "astrofm/info.h"

#include <nlohmann/json.hpp>

#include "astrofm/modality.h"

#include "astrofm/mmu.h"

namespace astrofm {

nlohmann::json dataset_info(const std::string& path) {
  Dataset ds = Dataset::open(path);
  nlohmann::json j;
  j["path"] = ds.path();
  j["config"] = ds.config();
  j["objects"] = ds.rows();
  j["format"] = ds.format() == DatasetFormat::Hats ? "hats" : "hdf5";
  j["partitions"] = nlohmann::json::array();
  for (const auto& p : ds.partitions())
    j["partitions"].push_back({{"healpix", p.healpix}, {"order", p.order}, {"objects", p.rows}, {"file", p.path}});
  j["columns"] = nlohmann::json::array();
  for (const auto& c : ds.schema())
    j["columns"].push_back({{"name", c.name}, {"dtype", dtype_name(c.dtype)}, {"shape", c.shape},
                            {j["format"] == "hats" ? "arrow_type" : "hdf5_type", c.hdf5_type}, {"filters", c.filters}});
  // What the columns hold, by the modality table.
  auto schema = ds.schema();
  std::vector<std::string> names;
  for (const auto& c : schema) names.push_back(c.name);
  j["modalities"] = nlohmann::json::array();
  for (const auto& m : modalities_in(names, schema))
    j["modalities"].push_back({{"name", m.name}, {"kind", modality_kind_name(m.kind)}});
  return j;
}

std::string format_dataset_info(const nlohmann::json& j) {
  const bool hats = j.value("format", "hdf5") == "hats";
  std::string s = fmt::format("dataset   {}\nconfig    {}\nobjects   {}\npartitions {} ({})\n", j["path"].get<std::string>(),
                              j["config"].get<std::string>(), j["objects"].get<int64_t>(), j["partitions"].size(),
                              hats ? "HATS catalogue: HEALPix nested pixels of several orders" : "HEALPix NSIDE 16, nested");
  for (const auto& p : j["partitions"]) {
    if (hats)
      s += fmt::format("  Norder={:<2} Npix={:<8} {:>10} objects\n", p["order"].get<int>(), p["healpix"].get<int64_t>(), p["objects"].get<int64_t>());
    else
      s += fmt::format("  healpix={:<6} {:>10} objects\n", p["healpix"].get<int64_t>(), p["objects"].get<int64_t>());
  }
  if (j.contains("modalities")) {
    std::vector<std::string> ms;
    for (const auto& m : j["modalities"])
      ms.push_back(m["kind"] == "scalar" ? m["name"].get<std::string>() : m["name"].get<std::string>() + " (" + m["kind"].get<std::string>() + ")");
    s += fmt::format("modalities {}\n", ms.empty() ? std::string("none") : fmt::format("{}", fmt::join(ms, ", ")));
  }
  s += fmt::format("columns   {}\n", j["columns"].size());
  for (const auto& c : j["columns"]) {
    auto shape = c["shape"].get<std::vector<int64_t>>();
    auto filters = c["filters"].get<std::vector<std::string>>();
    s += fmt::format("  {:<22} {:<8} per-object shape [{}]  stored as {}{}\n", c["name"].get<std::string>(),
                     c["dtype"].get<std::string>(), fmt::join(shape, ","), c.value(hats ? "arrow_type" : "hdf5_type", ""),
                     filters.empty() ? "" : " (" + fmt::format("{}", fmt::join(filters, "+")) + ")");
  }
  return s;
}

}  // namespace astrofm
