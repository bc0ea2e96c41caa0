#pragma once
// Strict configs: every key a user writes must exist in the defaults, at any
// depth, so a misspelt key is an error instead of silently ignored.
// Thread-safety: pure functions.
#include <cmath>
#include <concepts>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/error.h"

namespace astrofm {

// InputError "<where>: augment.scale_mn: unknown key (known: ...)" for the first
// key of `user` that `defaults` lacks; objects are checked recursively.
void check_known_keys(const nlohmann::json& defaults, const nlohmann::json& user, const std::string& where);
// defaults with `user` merged in (objects recursively, other values replaced),
// after check_known_keys.
nlohmann::json merge_strict(const nlohmann::json& defaults, const nlohmann::json& user, const std::string& where);

// The integer a JSON value holds, checked: nlohmann's get<int>() on 1e30 or -1
// for an unsigned type is undefined behaviour (found by fuzz_model_file), so
// untrusted files and requests read integers through this. Integral floats
// (3.0) are accepted. Throws InputError (kind `kind`) "<what>: ... <value>".
template <std::integral T>
T json_integer(const nlohmann::json& v, const std::string& what, ErrorKind kind = ErrorKind::Corrupt) {
  auto bad = [&](const char* why) -> T {
    std::string text = v.dump();
    if (text.size() > 40) text = text.substr(0, 40) + "...";
    if (kind == ErrorKind::Corrupt) fail_corrupt("{}: {} ({})", what, why, text);
    fail_input("{}: {} ({})", what, why, text);
  };
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    return std::in_range<T>(u) ? static_cast<T>(u) : bad("integer out of range");
  }
  if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    return std::in_range<T>(i) ? static_cast<T>(i) : bad("integer out of range");
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) return bad("not an integer");
    // Exact bounds as doubles: [-2^63, 2^63) covers every int64/uint64 we read.
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return bad("integer out of range");
    auto i = static_cast<int64_t>(d);
    return std::in_range<T>(i) ? static_cast<T>(i) : bad("integer out of range");
  }
  return bad("not an integer");
}

template <std::integral T>
std::vector<T> json_integers(const nlohmann::json& v, const std::string& what, ErrorKind kind = ErrorKind::Corrupt) {
  if (!v.is_array()) {
    if (kind == ErrorKind::Corrupt) fail_corrupt("{}: not an array", what);
    fail_input("{}: not an array", what);
  }
  std::vector<T> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back(json_integer<T>(v[i], what + "[" + std::to_string(i) + "]", kind));
  return out;
}

}  // namespace astrofm
