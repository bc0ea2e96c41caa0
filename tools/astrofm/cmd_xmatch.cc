#include <spdlog/spdlog.h>

#include "astrofm/xmatch.h"
#include "commands.h"

namespace astrofm::cli {

void add_xmatch_command(CLI::App& app) {
  auto* c = app.add_subcommand("xmatch", "Cross-match datasets by sky position (nearest neighbour within a radius)");
  static std::vector<std::string> inputs;
  static std::string out;
  static XmatchOptions o;
  c->add_option("DATASETS", inputs, "two or more datasets; the first is the reference (its positions and ids are kept)")
      ->required()->expected(2, 64);
  c->add_option("--radius", o.radius_arcsec, "match radius in arcsec")->required()->check(CLI::PositiveNumber);
  c->add_option("--out", out, "output dataset root")->required();
  c->add_option("--config", o.config, "output config name")->capture_default_str();
  c->add_option("--prefix", o.prefixes, "column prefix per input for clashing names (default: <config>_)")->delimiter(',');
  c->add_option("--compression", o.write.compression, "none, gzip or lzf")->capture_default_str();
  c->add_flag("--overwrite", o.write.overwrite, "replace an existing output");
  c->add_option("--out-format", o.write.format, "hdf5 (MMU v1 layout) or hats (a HATS catalogue LSDB opens)")->capture_default_str();
  c->callback([] {
    auto r = xmatch_datasets(inputs, out, o);
    spdlog::info("{} of {} reference objects matched within {}\" in every other input", r.matched, r.input_rows[0], o.radius_arcsec);
  });
}

}  // namespace astrofm::cli
