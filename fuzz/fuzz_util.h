#pragma once
// Shared by the harnesses: inputs go through a file, as users' files do.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <spdlog/spdlog.h>

#include "astrofm/error.h"
#include "astrofm/progress.h"

namespace astrofm::fuzz {

inline std::string scratch_dir() {
  static std::string dir = [] {
    std::string d = (std::filesystem::exists("/dev/shm") ? std::string("/dev/shm") : std::filesystem::temp_directory_path().string()) +
                    "/astrofm-fuzz-" + std::to_string(getpid());
    std::filesystem::create_directories(d);
    Progress::set_quiet(true);
    spdlog::set_level(spdlog::level::off);
    return d;
  }();
  return dir;
}

inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  std::string path = scratch_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

// Bad input must surface as InputError/UsageError; anything else escapes and
// is reported by libFuzzer as a crash.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const InputError&) {
  } catch (const UsageError&) {
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch_dir() + "/out", ec);
  std::filesystem::remove_all(scratch_dir() + "/out.partial", ec);
}

}  // namespace astrofm::fuzz
