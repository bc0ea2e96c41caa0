#include "astrofm/resources.h"

#include "astrofm/aion_release.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>

#include <spdlog/spdlog.h>

#include "astrofm/config.h"
#include "astrofm/error.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

std::string g_models_dir, g_data_dir;

fs::path self_path() {
  // The shared object or executable this code lives in (the Python module,
  // libastrofm.so or the astrofm binary).
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&self_path), &info) && info.dli_fname && info.dli_fname[0] == '/')
    return fs::weakly_canonical(info.dli_fname);
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec);
}

std::vector<fs::path> share_candidates() {
  std::vector<fs::path> out;
  fs::path self = self_path();
  if (!self.empty()) {
    fs::path dir = self.parent_path();
    // <prefix>/bin/astrofm, <prefix>/lib/libastrofm*.so, or a Python package
    // <prefix>/lib/pythonX/site-packages/astrofm/_core.so carrying share/ inside.
    out.push_back(dir / "share");
    out.push_back(dir.parent_path() / "share" / "astrofm");
    for (fs::path p = dir; p.has_parent_path() && p != p.parent_path(); p = p.parent_path())
      if (p.filename() == "lib" || p.filename() == "lib64") out.push_back(p.parent_path() / "share" / "astrofm");
  }
  out.push_back(fs::path(ASTROFM_INSTALL_PREFIX) / "share" / "astrofm");
  return out;
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return !p.empty() && fs::is_directory(p, ec);
}

}  // namespace

void set_models_dir(const std::string& dir) { g_models_dir = dir; }
void set_data_dir(const std::string& dir) { g_data_dir = dir; }

fs::path installed_share_dir() {
  for (const auto& c : share_candidates())
    if (is_dir(c / "models") || is_dir(c / "data")) return c;
  return {};
}

std::vector<fs::path> models_dirs() {
  std::vector<fs::path> out;
  auto add = [&](const fs::path& p) {
    if (is_dir(p) && std::find(out.begin(), out.end(), fs::weakly_canonical(p)) == out.end()) out.push_back(fs::weakly_canonical(p));
  };
  if (!g_models_dir.empty()) {
    if (!is_dir(g_models_dir)) fail_io("--models-dir {}: no such folder", g_models_dir);
    add(g_models_dir);
  }
  // ASTROFM_MODELS_DIR is searched before the shipped models; the default user
  // folder (where `models add` registers) after them, so it never shadows one.
  const char* env = std::getenv("ASTROFM_MODELS_DIR");
  if (env && *env) add(env);
  for (const auto& c : share_candidates()) add(c / "models");
  add(fs::path(ASTROFM_SOURCE_DIR) / "models");
  if (!(env && *env)) add(user_models_dir());
  return out;
}

fs::path data_dir() {
  std::vector<fs::path> tried;
  auto ok = [&](const fs::path& p) {
    tried.push_back(p);
    return is_dir(p / "sed_templates") && is_dir(p / "filters");
  };
  if (!g_data_dir.empty()) {
    if (ok(g_data_dir)) return g_data_dir;
    fail_not_found("--data-dir {}: needs sed_templates/ and filters/", g_data_dir);
  }
  if (const char* e = std::getenv("ASTROFM_DATA_DIR"); e && *e && ok(e)) return e;
  for (const auto& c : share_candidates())
    if (ok(c / "data")) return c / "data";
  if (ok(fs::path(ASTROFM_SOURCE_DIR) / "data" / "sample")) return fs::path(ASTROFM_SOURCE_DIR) / "data" / "sample";
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t.string();
  fail_not_found("no simulator data (sed_templates/ and filters/) found; looked in {} (pass --data-dir or set ASTROFM_DATA_DIR)", where);
}

fs::path user_models_dir() {
  if (const char* e = std::getenv("ASTROFM_MODELS_DIR"); e && *e) return e;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return fs::path(x) / "astrofm" / "models";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".local" / "share" / "astrofm" / "models";
  return {};
}

namespace {
constexpr std::string_view kSnapshotSuffix = ".snapshot.json";

// A registration's folder; InputError when the folder has gone.
std::string registered_folder(const fs::path& reg) {
  std::ifstream in(reg);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    fail_corrupt("{}: not a snapshot registration: {}", reg.string(), e.what());
  }
  if (!j.is_object() || !j.contains("path") || !j["path"].is_string()) fail_corrupt("{}: not a snapshot registration (no path)", reg.string());
  return j["path"].get<std::string>();
}
}  // namespace

std::string register_snapshot(const std::string& name, const std::string& folder, const nlohmann::json& provenance) {
  if (name.empty() || name.find('/') != std::string::npos || name.front() == '.')
    fail_usage("--name '{}': a model name is a plain file name", name);
  const fs::path dir = user_models_dir();
  if (dir.empty()) fail_usage("no folder for your models: set ASTROFM_MODELS_DIR or HOME");
  for (const auto& d : models_dirs())
    if (fs::is_regular_file(d / (name + ".afm"))) fail_input("the name '{}' is taken by {}", name, (d / (name + ".afm")).string());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail_io("{}: cannot create: {}", dir.string(), ec.message());
  const fs::path reg = dir / (name + std::string(kSnapshotSuffix));
  nlohmann::json j = {{"name", name}, {"path", fs::absolute(folder).lexically_normal().string()}, {"provenance", provenance}};
  const fs::path tmp = reg.string() + ".tmp";
  {
    std::ofstream o(tmp);
    o << j.dump(2) << "\n";
    if (!o.flush()) fail_io("{}: cannot write", tmp.string());
  }
  fs::rename(tmp, reg, ec);
  if (ec) fail_io("{}: cannot write: {}", reg.string(), ec.message());
  return reg.string();
}

std::vector<std::pair<std::string, std::string>> shipped_models() {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  for (const auto& dir : models_dirs()) {
    std::vector<std::pair<std::string, std::string>> here;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string f = e.path().filename().string();
      if (f.ends_with(kSnapshotSuffix)) {
        const std::string n = f.substr(0, f.size() - kSnapshotSuffix.size());
        if (seen.count(n)) continue;
        try {
          here.push_back({n, registered_folder(e.path())});
        } catch (const Error& err) {
          spdlog::warn("{} (skipped)", err.what());
        }
        continue;
      }
      if (e.path().extension() == ".afm" && !seen.count(e.path().stem().string())) here.push_back({e.path().stem().string(), e.path().string()});
    }
    std::sort(here.begin(), here.end());
    for (auto& h : here) seen.insert(h.first), out.push_back(h);
  }
  return out;
}

std::string resolve_model_path(const std::string& name) {
  std::error_code ec;
  if (fs::is_regular_file(name, ec) || aion::is_snapshot(name)) return name;
  for (const auto& [n, p] : shipped_models())
    if (n == name) {
      if (!std::string_view(p).ends_with(".afm") && !aion::is_snapshot(p))
        fail_io("model '{}' is registered at {}, which is no longer a snapshot folder (run `astrofm models add` again)", name, p);
      return p;
    }
  if (name.find('/') != std::string::npos || name.ends_with(".afm")) fail_io("{}: no such model file", name);
  fail_not_found("no model file or shipped model named '{}' (see `astrofm models`)", name);
}

}  // namespace astrofm
