// astrofm: one command-line tool, one subcommand per job.
// Exit codes: 0 ok, 1 bad input (the message names file, field, value:
// invalid, not found, corrupt, unreadable; also an interrupted job, after its
// checkpoint), 2 usage, 3 internal error (a bug: please report).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "astrofm/communicator.h"
#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/progress.h"
#include "astrofm/resources.h"
#ifdef ASTROFM_WITH_TORCH
#include "astrofm/torch_threads.h"
#endif
#include "commands.h"

namespace astrofm::cli {

void quiet_unless_rank_zero(const Communicator& comm) {
  if (comm.rank() == 0) return;
  Progress::set_quiet(true);
  spdlog::set_level(spdlog::level::warn);
}

}  // namespace astrofm::cli

namespace {

// Under mpirun a failing rank ends the whole job: its peers may be waiting in
// a collective, and MPI_Finalize would wait for them.
int finish(int rc) {
  if (rc != 0 && astrofm::launched_by_mpi()) {
    auto comm = astrofm::world_communicator();
    if (comm->size() > 1) {
      std::fprintf(stderr, "astrofm: rank %d of %d failed (exit %d): ending the job\n", comm->rank(), comm->size(), rc);
      std::fflush(stderr);
      comm->abort(rc);
    }
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef ASTROFM_WITH_TORCH
  // OpenMP reads OMP_WAIT_POLICY when the library loads, before main: with the
  // default (active spinning) torch's threads fight OpenBLAS's. Re-exec once
  // with PASSIVE unless the user chose a policy.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);  // falls through on failure
  }
  astrofm::use_available_cores();
#endif
  CLI::App app{"astrofm " ASTROFM_VERSION ": multimodal foundation models for survey astronomy"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (-q, -v) may follow the subcommand
  app.set_version_flag("--version", ASTROFM_VERSION);
  bool quiet = false, verbose = false;
  std::string models_dir, data_dir;
  app.add_flag("-q,--quiet", quiet, "no progress bars or info messages");
  app.add_option("--models-dir", models_dir, "folder of model files searched first (also ASTROFM_MODELS_DIR)");
  app.add_option("--data-dir", data_dir, "folder with sed_templates/ and filters/ for the simulator (also ASTROFM_DATA_DIR)");
  app.add_flag("-v,--verbose", verbose, "debug messages");
  app.parse_complete_callback([&] {
    astrofm::Progress::set_quiet(quiet);
    astrofm::set_models_dir(models_dir);
    astrofm::set_data_dir(data_dir);
    spdlog::set_level(quiet ? spdlog::level::warn : verbose ? spdlog::level::debug : spdlog::level::info);
  });
  spdlog::set_default_logger(spdlog::stderr_color_st("astrofm"));
  spdlog::set_pattern("astrofm: %^%l%$: %v");

  astrofm::cli::add_data_commands(app);
  astrofm::cli::add_import_commands(app);
  astrofm::cli::add_xmatch_command(app);
  astrofm::cli::add_simulate_command(app);
  astrofm::cli::add_search_commands(app);
#ifdef ASTROFM_WITH_TORCH
  astrofm::cli::add_model_commands(app);
  astrofm::cli::add_probe_command(app);
  astrofm::cli::add_photoz_commands(app);
  astrofm::cli::add_discover_commands(app);
  astrofm::cli::add_codec_commands(app);
  astrofm::cli::add_serve_command(app);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return finish(rc == 0 ? 0 : 2);
  } catch (const astrofm::UsageError& e) {
    std::fprintf(stderr, "astrofm: usage error: %s\n", e.what());
    return finish(2);
  } catch (const astrofm::InputError& e) {
    std::fprintf(stderr, "astrofm: error: %s\n", e.what());
    return finish(1);
  } catch (const std::filesystem::filesystem_error& e) {
    std::fprintf(stderr, "astrofm: error: %s\n", e.what());
    return finish(1);
  } catch (const astrofm::InternalError& e) {
    std::fprintf(stderr, "astrofm: %s\n", e.what());
    return finish(3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "astrofm: internal error (please report): %s\n", e.what());
    return finish(3);
  }
  return 0;
}
