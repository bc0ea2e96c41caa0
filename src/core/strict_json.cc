#include "astrofm/strict_json.h"

#include <vector>

#include "astrofm/error.h"

namespace astrofm {
namespace {

void check(const nlohmann::json& d, const nlohmann::json& u, const std::string& path, const std::string& where) {
  if (!u.is_object()) return;
  if (!d.is_object()) fail_input("{}: {}: expected a value, not an object", where, path.empty() ? "(top level)" : path);
  for (const auto& [k, v] : u.items()) {
    std::string p = path.empty() ? k : path + "." + k;
    if (!d.contains(k)) {
      std::vector<std::string> known;
      for (const auto& [dk, dv] : d.items()) known.push_back(dk);
      fail_input("{}: {}: unknown key (known at this level: {})", where, p, fmt::join(known, ", "));
    }
    if (v.is_object()) check(d[k], v, p, where);
  }
}

}  // namespace

void check_known_keys(const nlohmann::json& defaults, const nlohmann::json& user, const std::string& where) {
  if (!user.is_object()) fail_input("{}: expected a JSON object at the top level", where);
  check(defaults, user, "", where);
}

nlohmann::json merge_strict(const nlohmann::json& defaults, const nlohmann::json& user, const std::string& where) {
  check_known_keys(defaults, user, where);
  nlohmann::json out = defaults;
  out.merge_patch(user);  // objects merge recursively; user values replace
  return out;
}

}  // namespace astrofm
