#pragma once
// Where astrofm finds what it ships: model files (`astrofm models`) and the
// simulator's SED templates and filter curves. Each is looked up, in order:
//   1. the folder set by the caller (--models-dir / --data-dir),
//   2. the environment: ASTROFM_MODELS_DIR / ASTROFM_DATA_DIR,
//   3. the installed copy beside the running program or library:
//      <prefix>/share/astrofm/{models,data} with the binary in <prefix>/bin or
//      the library in <prefix>/lib (found through its own address, so a copy
//      installed under any prefix works), and the prefix CMake configured,
//   4. the source tree the build came from (a build that was never installed).
// Thread-safety: set_* before starting threads; lookups are read-only.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm {

void set_models_dir(const std::string& dir);  // empty: unset
void set_data_dir(const std::string& dir);

// Existing candidate folders in search order (possibly empty).
std::vector<std::filesystem::path> models_dirs();
// The first folder holding sed_templates/ and filters/; throws InputError (NotFound) listing where it looked.
std::filesystem::path data_dir();
// <prefix>/share/astrofm of this running copy, when installed (else empty).
std::filesystem::path installed_share_dir();

// The user's own models folder: ASTROFM_MODELS_DIR when set, else
// $XDG_DATA_HOME/astrofm/models (~/.local/share/astrofm/models). Searched
// after --models-dir; `astrofm models add` registers snapshots there.
std::filesystem::path user_models_dir();

// Shipped and registered models (name -> path) across models_dirs(); an
// earlier folder wins a name. A registered snapshot (NAME.snapshot.json, by
// `astrofm models add`) resolves to its folder.
std::vector<std::pair<std::string, std::string>> shipped_models();

// Registers a released snapshot folder under `name` in user_models_dir() (the
// registration records the folder and `provenance`); returns the registration
// file. InputError when the name is taken by a shipped model file.
std::string register_snapshot(const std::string& name, const std::string& folder, const nlohmann::json& provenance);
// A model file path as given, or the path of the shipped model of that name.
std::string resolve_model_path(const std::string& name_or_path);

}  // namespace astrofm
