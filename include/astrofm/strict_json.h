#pragma once
// Strict configs: every key a user writes must exist in the defaults, at any
// depth, so a misspelt key is an error instead of silently ignored.
// Thread-safety: pure functions.
#include <string>

#include <nlohmann/json.hpp>

namespace astrofm {

// InputError "<where>: augment.scale_mn: unknown key (known: ...)" for the first
// key of `user` that `defaults` lacks; objects are checked recursively.
void check_known_keys(const nlohmann::json& defaults, const nlohmann::json& user, const std::string& where);
// defaults with `user` merged in (objects recursively, other values replaced),
// after check_known_keys.
nlohmann::json merge_strict(const nlohmann::json& defaults, const nlohmann::json& user, const std::string& where);

}  // namespace astrofm
