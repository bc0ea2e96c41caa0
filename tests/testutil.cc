#include "testutil.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "astrofm/config.h"
#include "astrofm/progress.h"

namespace astrofm::test {

std::string sample_dir() { return std::string(ASTROFM_SOURCE_DIR) + "/data/sample"; }

std::optional<std::string> shared_dir() {
  if (const char* env = std::getenv("ASTROFM_SHARED_DATA")) {
    if (fs::exists(env)) return std::string(env);
    return std::nullopt;
  }
  fs::path p = fs::path(ASTROFM_SOURCE_DIR) / ".." / "shared" / "data";
  if (fs::exists(p / "README.md")) return fs::canonical(p).string();
  return std::nullopt;
}

TempDir::TempDir() {
  Progress::set_quiet(true);
  std::random_device rd;
  dir_ = fs::temp_directory_path() / ("astrofm-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(dir_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

namespace {
CliResult run_shell(const std::string& cmd) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}
}  // namespace

bool python_has(const std::string& modules) {
  static std::map<std::string, bool> cache;
  auto it = cache.find(modules);
  if (it != cache.end()) return it->second;
  std::string code = "import sys\n";
  std::istringstream ss(modules);
  std::string m;
  while (ss >> m) code += "import " + m + "\n";
  bool ok = fs::exists("/usr/bin/python3") && run_shell("/usr/bin/python3 -c '" + code + "'").rc == 0;
  return cache[modules] = ok;
}

std::string run_python(const std::string& script, const std::string& args) {
  TempDir tmp;
  std::string file = tmp.path("script.py");
  std::ofstream(file) << script;
  auto r = run_shell("/usr/bin/python3 " + file + " " + args);
  EXPECT_EQ(r.rc, 0) << "python reference failed:\n" << r.out;
  return r.out;
}

std::string read_source_abs(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_source(const std::string& rel) { return read_source_abs(std::string(ASTROFM_SOURCE_DIR) + "/" + rel); }

CliResult run_cli(const std::string& args) { return run_shell(std::string(ASTROFM_BIN) + " -q " + args); }
CliResult run_cli_logged(const std::string& args) { return run_shell(std::string(ASTROFM_BIN) + " " + args); }

}  // namespace astrofm::test
