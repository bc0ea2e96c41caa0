#include <csignal>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/serve.h"
#include "commands.h"

namespace astrofm::cli {
namespace {

Server* g_server = nullptr;
volatile std::sig_atomic_t g_stop = 0;

std::pair<std::string, std::string> name_value(const std::string& s, const char* flag) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size()) fail_usage("{} {}: expected NAME=PATH", flag, s);
  return {s.substr(0, eq), s.substr(eq + 1)};
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* c = app.add_subcommand("serve", "Serve embeddings, similarity search, probes and generation over HTTP (/v1), IVOA cone search (/scs) and a web page");
  static ServeOptions o;
  static std::string config, port_file;
  static std::vector<std::string> indexes, data, probes;
  c->add_option("--config", config, "a JSON file with the options below as keys (flags given as well override it)");
  c->add_option("--host", o.host, "address to bind; anything but loopback needs --token-file")->capture_default_str();
  c->add_option("--port", o.port, "port (0: any free port, printed)")->capture_default_str();
  c->add_option("--token-file", o.token_file, "bearer tokens, one a line (at least 16 characters each)");
  c->add_option("--model", o.models, "a model to serve (shipped name or .afm path); repeatable");
  c->add_option("--index", indexes, "NAME=DIR: a search index (astrofm index build); repeatable");
  c->add_option("--data", data, "NAME=DIR: an MMU dataset for metadata, cutouts, cone search and generation inputs; repeatable");
  c->add_option("--probe", probes, "NAME=FILE: a saved probe (astrofm probe ... --save FILE); repeatable");
  c->add_option("--codecs", o.codecs, "codecs for /v1/generate (default: the shipped ones when an AION model is served)")->delimiter(',');
  c->add_option("--max-body", o.max_body_bytes, "largest request body in bytes (413 above)")->capture_default_str();
  c->add_option("--max-inflight", o.max_inflight, "requests computing at once (503 with Retry-After above)")->capture_default_str();
  c->add_option("--threads", o.threads, "HTTP worker threads")->capture_default_str();
  c->add_option("--timeout", o.timeout_s, "seconds: socket timeouts and each request's compute deadline (504)")->capture_default_str();
  c->add_option("--batch", o.batch_objects, "dynamic batching: most objects in one forward pass")->capture_default_str();
  c->add_option("--batch-wait-us", o.batch_wait_us, "dynamic batching: how long a request waits for others to join")->capture_default_str();
  c->add_option("--port-file", port_file, "write the bound port to this file once listening (for scripts and tests)");
  c->add_flag("--quiet-log", o.quiet, "no access log");
  c->callback([c] {
    ServeOptions opt = o;
    if (!config.empty()) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(read_file(config));
      } catch (const nlohmann::json::exception& e) {
        fail_input("{}: not JSON ({})", config, e.what());
      }
      opt = ServeOptions::from_json(j, config);
      // Flags given on the command line win over the file.
      if (c->count("--host")) opt.host = o.host;
      if (c->count("--port")) opt.port = o.port;
      if (c->count("--token-file")) opt.token_file = o.token_file;
      opt.models.insert(opt.models.end(), o.models.begin(), o.models.end());
      if (c->count("--codecs")) opt.codecs = o.codecs;
      if (c->count("--max-body")) opt.max_body_bytes = o.max_body_bytes;
      if (c->count("--max-inflight")) opt.max_inflight = o.max_inflight;
      if (c->count("--threads")) opt.threads = o.threads;
      if (c->count("--timeout")) opt.timeout_s = o.timeout_s;
      if (c->count("--batch")) opt.batch_objects = o.batch_objects;
      if (c->count("--batch-wait-us")) opt.batch_wait_us = o.batch_wait_us;
      if (c->count("--quiet-log")) opt.quiet = true;
    }
    for (const auto& s : indexes) opt.indexes.push_back(name_value(s, "--index"));
    for (const auto& s : data) opt.data.push_back(name_value(s, "--data"));
    for (const auto& s : probes) opt.probes.push_back(name_value(s, "--probe"));
    Server server(opt);
    int port = server.bind();
    if (!port_file.empty()) write_file_atomic(port_file, std::to_string(port) + "\n");
    g_server = &server;
    std::signal(SIGINT, [](int) { g_stop = 1; });
    std::signal(SIGTERM, [](int) { g_stop = 1; });
    std::thread watcher([&] {
      while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      spdlog::info("stopping");
      server.stop();
    });
    server.run();
    g_stop = 1;
    watcher.join();
    g_server = nullptr;
  });
}

}  // namespace astrofm::cli
