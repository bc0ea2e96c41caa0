#include <cstdio>

#include <nlohmann/json.hpp>

#include "astrofm/error.h"
#include "astrofm/info.h"
#include "astrofm/mmu.h"
#include "astrofm/validate.h"
#include "commands.h"

namespace astrofm::cli {

void add_data_commands(CLI::App& app) {
  auto* info = app.add_subcommand("info", "Summarise an MMU dataset: objects per partition, columns, dtypes, shapes");
  static std::string info_path;
  static bool as_json = false;
  info->add_option("DIR", info_path, "dataset folder (a config, a root with one config, or one .hdf5 file)")->required();
  info->add_flag("--json", as_json, "machine-readable output");
  info->callback([] {
    auto j = dataset_info(info_path);
    std::fputs(as_json ? (j.dump(2) + "\n").c_str() : format_dataset_info(j).c_str(), stdout);
  });

  auto* val = app.add_subcommand("validate", "Check an MMU dataset against the schema; lists every violation");
  static std::string val_path;
  val->add_option("DIR", val_path, "dataset folder")->required();
  val->callback([] {
    auto v = validate_dataset(val_path);
    for (const auto& x : v)
      std::fprintf(stdout, "%s: %s%s%s\n", x.file.c_str(), x.column.c_str(), x.column.empty() ? "" : ": ", x.reason.c_str());
    if (!v.empty()) fail_input("{}: {} schema violation(s)", val_path, v.size());
    std::fprintf(stdout, "%s: valid\n", val_path.c_str());
  });

  auto* copy = app.add_subcommand("copy", "Copy a dataset between the MMU v1 HDF5 layout and a HATS catalogue, losslessly");
  static std::string copy_src, copy_out;
  static WriteOptions copy_opt{.format = "hats"};
  copy->add_option("DATA", copy_src, "dataset: an MMU folder or .hdf5 file, or a HATS catalogue or collection")->required();
  copy->add_option("--out", copy_out, "output: a HATS catalogue folder, or an MMU root")->required();
  copy->add_option("--out-format", copy_opt.format, "hats or hdf5")->capture_default_str();
  copy->add_option("--compression", copy_opt.compression, "hdf5: none, gzip or lzf")->capture_default_str();
  copy->add_flag("--overwrite", copy_opt.overwrite, "replace an existing output");
  copy->callback([] {
    int64_t n = convert_dataset(copy_src, copy_out, copy_opt);
    std::fprintf(stdout, "%s: %lld objects (%s)\n", copy_out.c_str(), static_cast<long long>(n), copy_opt.format.c_str());
  });
}

}  // namespace astrofm::cli
