#pragma once
// Shared helpers for the test suite: fixture locations, temporary folders,
// running the CLI and the independent Python references (Debian's python3-*).
#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace astrofm::test {

namespace fs = std::filesystem;

// data/sample in the source tree: always present.
std::string sample_dir();
// ../shared/data beside the checkout (or $ASTROFM_SHARED_DATA); nullopt when absent.
std::optional<std::string> shared_dir();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  std::string path(const std::string& rel = "") const { return rel.empty() ? dir_.string() : (dir_ / rel).string(); }

 private:
  fs::path dir_;
};

// True when /usr/bin/python3 can import every module in `modules` (space separated).
bool python_has(const std::string& modules);
// Runs a script with /usr/bin/python3 (argv[1..] = args); returns stdout, fails the test on error.
std::string run_python(const std::string& script, const std::string& args = "");

// A file of the source tree (relative to the repository root), or any file.
std::string read_source(const std::string& rel);
std::string read_source_abs(const std::string& path);

struct CliResult {
  int rc;
  std::string out;  // stdout and stderr together
};
CliResult run_cli(const std::string& args);         // quiet (-q)
CliResult run_cli_logged(const std::string& args);  // with info messages and progress

}  // namespace astrofm::test

#define ASTROFM_REQUIRE_PYTHON(mods)                                                    \
  do {                                                                                  \
    if (!astrofm::test::python_has(mods)) GTEST_SKIP() << "needs /usr/bin/python3 with " mods; \
  } while (0)

#define ASTROFM_REQUIRE_SHARED()                                                  \
  do {                                                                            \
    if (!astrofm::test::shared_dir()) GTEST_SKIP() << "../shared/data is absent"; \
  } while (0)
