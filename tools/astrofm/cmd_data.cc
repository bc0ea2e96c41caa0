#include <cstdio>

#include <nlohmann/json.hpp>

#include "astrofm/error.h"
#include "astrofm/info.h"
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
}

}  // namespace astrofm::cli
