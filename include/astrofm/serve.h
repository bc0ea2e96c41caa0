#pragma once
// `astrofm serve`: embeddings, similarity search, probes and generation
// behind an HTTP API (/v1, JSON and .npy; docs/api.md, docs/openapi.yaml),
// IVOA Simple Cone Search 1.03 (/scs/<name>) and a web page (/), from one
// binary. Torch-free header.
//
//   astrofm::ServeOptions o;
//   o.models = {"clip-sim"};
//   o.indexes = {{"spectra", "out/demo/spec_index"}};
//   astrofm::Server s(o);   // loads everything; InputError for bad options or files
//   s.run();                // blocks until stop() (or SIGINT/SIGTERM in the CLI)
//
// Thread-safety: run() serves requests on a thread pool; stop() may be called
// from any thread (or a signal-safe flag watcher).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm {

struct ServeOptions {
  std::string host = "127.0.0.1";  // any other address requires token_file
  int port = 8080;                 // 0: any free port (see Server::port())
  std::string token_file;          // one bearer token a line; empty: no auth (loopback only)
  std::vector<std::string> models;                            // names or paths: embedding models (and AION for /v1/generate)
  std::vector<std::pair<std::string, std::string>> indexes;  // NAME, index folder (astrofm index build)
  std::vector<std::pair<std::string, std::string>> data;     // NAME, MMU dataset (metadata, cutouts, cone search, generate inputs)
  std::vector<std::pair<std::string, std::string>> probes;   // NAME, probe file (astrofm probe --save)
  std::vector<std::string> codecs;  // for /v1/generate: codec files or names; default the shipped ones
  size_t max_body_bytes = 64 << 20;  // larger bodies: 413
  int max_inflight = 128;           // requests computing at once; more: 503 with Retry-After
  int threads = 144;                // HTTP worker threads (connections served at once)
  int timeout_s = 30;               // socket read/write timeout and the compute deadline of a request (504)
  int64_t batch_objects = 256;      // dynamic batching: most objects in one forward pass
  int batch_wait_us = 2000;         // how long the first request of a batch waits for company
  int64_t max_objects = 4096;       // objects in one request
  bool quiet = false;               // no access log
  // A JSON config file (`astrofm serve --config FILE`) with these names as
  // keys ("indexes": {"NAME": "DIR"}, ...); unknown keys are an error.
  static ServeOptions from_json(const nlohmann::json& j, const std::string& where);
  void check() const;  // UsageError: a non-loopback host without tokens, duplicate names, bad limits
};

class Server {
 public:
  explicit Server(const ServeOptions& o);
  ~Server();
  // Binds (port 0: any free port) and serves until stop(). Returns when stopped.
  void run();
  // Binds now and returns the port; run() then serves on it.
  int bind();
  void stop();
  int port() const;
  // What is served, as GET /v1/models returns it.
  nlohmann::json catalogue() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace astrofm
