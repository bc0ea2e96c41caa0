#pragma once
// Each file under tools/astrofm registers its subcommands here; the work
// itself lives in the libraries, these are thin wrappers.
#include <CLI/CLI.hpp>

namespace astrofm {
class Communicator;
}

namespace astrofm::cli {

// Under mpirun only rank 0 shows progress bars and info messages.
void quiet_unless_rank_zero(const Communicator& comm);

void add_data_commands(CLI::App& app);      // info, validate, copy
void add_import_commands(CLI::App& app);    // import csv|images|fits-cutout|desi|sdss
void add_xmatch_command(CLI::App& app);     // xmatch
void add_simulate_command(CLI::App& app);   // simulate
void add_search_commands(CLI::App& app);    // index build|eval, search
void add_model_commands(CLI::App& app);     // models, convert, train, embed (needs torch)
void add_probe_command(CLI::App& app);      // probe (needs torch)
void add_photoz_commands(CLI::App& app);    // photoz fit|predict (needs torch)
void add_discover_commands(CLI::App& app);  // discover similar|anomalies (needs torch)
void add_codec_commands(CLI::App& app);     // tokenize, detokenize, codec eval|kinds (needs torch)
void add_serve_command(CLI::App& app);      // serve (needs torch)

}  // namespace astrofm::cli
