// ServeOptions: the JSON config file and the checks on what is served.
#include <set>

#include "astrofm/strict_json.h"
#include "server_impl.h"

namespace astrofm {

// ---- options ----------------------------------------------------------------

ServeOptions ServeOptions::from_json(const json& j, const std::string& where) {
  ServeOptions d;
  json defaults = {{"host", d.host}, {"port", d.port}, {"token_file", ""}, {"models", json::array()}, {"indexes", json::object()},
                   {"data", json::object()}, {"probes", json::object()}, {"codecs", json::array()},
                   {"max_body_bytes", d.max_body_bytes}, {"max_inflight", d.max_inflight}, {"threads", d.threads},
                   {"timeout_s", d.timeout_s}, {"batch_objects", d.batch_objects}, {"batch_wait_us", d.batch_wait_us},
                   {"max_objects", d.max_objects}, {"quiet", d.quiet}};
  // Named maps hold user keys: check the top level only.
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!defaults.contains(it.key())) check_known_keys(defaults, {{it.key(), it.value()}}, where);
  ServeOptions o;
  try {
    o.host = j.value("host", o.host);
    o.port = j.value("port", o.port);
    o.token_file = j.value("token_file", o.token_file);
    o.models = j.value("models", o.models);
    o.codecs = j.value("codecs", o.codecs);
    for (const char* key : {"indexes", "data", "probes"}) {
      auto& dst = std::string(key) == "indexes" ? o.indexes : std::string(key) == "data" ? o.data : o.probes;
      if (!j.contains(key)) continue;
      if (!j[key].is_object()) fail_input("{}: {}: expected an object of NAME: PATH", where, key);
      for (auto it = j[key].begin(); it != j[key].end(); ++it) dst.emplace_back(it.key(), it.value().get<std::string>());
    }
    o.max_body_bytes = j.value("max_body_bytes", o.max_body_bytes);
    o.max_inflight = j.value("max_inflight", o.max_inflight);
    o.threads = j.value("threads", o.threads);
    o.timeout_s = j.value("timeout_s", o.timeout_s);
    o.batch_objects = j.value("batch_objects", o.batch_objects);
    o.batch_wait_us = j.value("batch_wait_us", o.batch_wait_us);
    o.max_objects = j.value("max_objects", o.max_objects);
    o.quiet = j.value("quiet", o.quiet);
  } catch (const json::exception& e) {
    fail_input("{}: {}", where, e.what());
  }
  // Relative paths in a config file are relative to the file.
  fs::path base = fs::path(where).parent_path();
  auto rel = [&](std::string& p, bool always) {
    if (!p.empty() && fs::path(p).is_relative() && (always || fs::exists(base / p))) p = (base / p).lexically_normal().string();
  };
  rel(o.token_file, true);
  for (auto* v : {&o.indexes, &o.data, &o.probes})
    for (auto& [n, p] : *v) rel(p, true);
  for (auto& m : o.models) rel(m, false);  // a shipped model's name stays a name
  for (auto& c : o.codecs) rel(c, false);
  return o;
}

void ServeOptions::check() const {
  if (!is_loopback(host) && token_file.empty())
    fail_usage("serving on {} (not loopback) requires --token-file: anyone who can reach the port could use the service", host);
  if (port < 0 || port > 65535) fail_usage("--port {} is not a port", port);
  if (max_inflight < 1 || threads < 1 || timeout_s < 1 || batch_objects < 1 || max_objects < 1 || max_body_bytes < 1024)
    fail_usage("serve limits must be positive (max_inflight {}, threads {}, timeout_s {}, batch_objects {}, max_objects {}, max_body_bytes {})",
               max_inflight, threads, timeout_s, batch_objects, max_objects, max_body_bytes);
  std::set<std::string> names;
  for (const auto* v : {&indexes, &data})
    for (const auto& [n, p] : *v) {
      if (n.empty() || n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != std::string::npos)
        fail_usage("'{}': names of indexes and datasets are letters, digits, '_', '-' and '.'", n);
      if (!names.insert(n).second) fail_usage("'{}' names two served indexes or datasets (cone search needs one name each)", n);
    }
  std::set<std::string> probe_names;
  for (const auto& [n, p] : probes)
    if (!probe_names.insert(n).second) fail_usage("'{}' names two probes", n);
}


}  // namespace astrofm
