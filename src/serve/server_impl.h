#pragma once
// Internal to the service: the server's state (what is served, limits, the
// HDF5 lock) and the helpers its routes share. server.cc holds the routes and
// start-up, scs.cc the cone search, options.cc the options.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/aion.h"
#include "astrofm/codecs.h"
#include "astrofm/encoder.h"
#include "astrofm/generate.h"
#include "astrofm/error.h"
#include "astrofm/features.h"
#include "astrofm/mmu.h"
#include "astrofm/saved_probe.h"
#include "astrofm/search.h"
#include "astrofm/serve.h"
#include "astrofm/strict_json.h"
#include "astrofm/upload.h"
#include "batcher.h"

namespace astrofm {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace serve {

inline int http_status(ErrorKind k) {
  switch (k) {
    case ErrorKind::InvalidInput: return 400;
    case ErrorKind::NotFound: return 404;
    case ErrorKind::Corrupt: return 422;
    case ErrorKind::IO: return 500;
    case ErrorKind::Usage: return 400;
  }
  return 500;
}

inline void reply_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

inline void reply_error(httplib::Response& res, int status, const std::string& kind, const std::string& message) {
  reply_json(res, {{"error", {{"status", status}, {"kind", kind}, {"message", message}}}}, status);
}

inline bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

// Object ids are looked up in memory only, never used as paths; still, refuse what no survey id looks like.
inline std::string checked_id(const std::string& id, const char* field) {
  if (id.empty() || id.size() > 128) fail_input("{}: an object id of {} characters", field, id.size());
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f) fail_input("{}: the object id holds a control character", field);
  for (size_t i = 0; i < id.size();) {  // well-formed UTF-8 only
    unsigned char c = static_cast<unsigned char>(id[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!n || i + n > id.size()) fail_input("{}: the object id is not UTF-8", field);
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(id[i + k]) >> 6) != 2) fail_input("{}: the object id is not UTF-8", field);
    i += n;
  }
  return id;
}

// An object id inside a URL path: everything but unreserved characters percent-encoded.
inline std::string url_escape(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') o += static_cast<char>(c);
    else o += fmt::format("%{:02X}", c);
  }
  return o;
}

inline bool constant_time_equal(const std::string& a, const std::string& b) {
  volatile unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  for (size_t i = 0; i < a.size(); ++i) diff = static_cast<unsigned char>(diff | (a[i] ^ b[i % std::max<size_t>(1, b.size())]));
  return diff == 0;
}

inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> v;
  size_t p = 0;
  while (p <= s.size() && !s.empty()) {
    size_t e = s.find(',', p);
    std::string t = s.substr(p, e == std::string::npos ? std::string::npos : e - p);
    if (!t.empty()) v.push_back(t);
    if (e == std::string::npos) break;
    p = e + 1;
  }
  return v;
}

inline double number_param(const std::string& v, const char* name) {
  try {
    size_t used = 0;
    double d = std::stod(v, &used);
    if (used != v.size() || !std::isfinite(d)) throw std::invalid_argument(v);
    return d;
  } catch (const std::exception&) {
    fail_input("{}: '{}' is not a number", name, v.substr(0, 40));
  }
}

template <class T>
inline T json_get(const json& j, const char* key, T dflt) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if constexpr (std::integral<T> && !std::same_as<T, bool>) return json_integer<T>(j[key], key, ErrorKind::InvalidInput);
  try {
    return j[key].get<T>();
  } catch (const json::exception&) {
    fail_input("{}: {} has the wrong type", key, j[key].dump().substr(0, 40));
  }
}

// The JSON object of a request whose body is JSON (by its media type); nullopt for the other upload types.
// A JSON body in one SAX pass: images and spectra straight into float
// buffers, the other fields as `rest` (upload.h).
inline std::optional<JsonRequest> json_body(const httplib::Request& req, int64_t max_objects) {
  if (upload_base_type(req.get_header_value("Content-Type")) != "application/json") return std::nullopt;
  UploadOptions u;
  u.max_objects = max_objects;
  return parse_json_request(req.body, u);
}

inline json floats_json(const float* v, int64_t n) {
  json a = json::array();
  for (int64_t i = 0; i < n; ++i) a.push_back(std::isfinite(v[i]) ? json(v[i]) : json(nullptr));
  return a;
}

struct ModelEntry {
  std::string name;
  // AION models: one object, built at start-up, whose transformer and codecs
  // serve /v1/embeddings and /v1/generate alike; other models: an encoder.
  std::unique_ptr<Aion> aion;
  std::unique_ptr<Encoder> own_enc;
  const Encoder* enc = nullptr;  // the one embedding: own_enc, or aion's
  std::unique_ptr<serve::Batcher> batcher;
};


struct DataEntry {
  std::string name;
  Dataset ds;
  std::unique_ptr<ObjectLookup> lookup;  // its catalogue: ids, positions, the id -> row map, cones
  const Catalogue& cat() const { return lookup->catalogue(); }
  std::vector<std::string> scalar_columns;  // for metadata and cone search
  bool images = false, tokens = false;
};

struct IndexEntry {
  std::string name;
  SearchIndex index;
  std::string column, modality, model_id, dataset;
  std::unique_ptr<DataEntry> catalogue;  // the catalogue it was built from (cone search columns)
  std::vector<std::string> preloaded;    // its embedding columns held in memory (queries by id read only these)
  // Discovery (/v1/discover): the index column's vectors as one matrix, and
  // anomaly scores by method and k, computed on first use and kept.
  std::once_flag features_once;
  Features features;
  std::mutex anomaly_mu;
  std::map<std::string, std::shared_ptr<const std::vector<double>>> anomaly_scores;
};

struct ProbeEntry {
  std::string name, path;
  SavedProbe probe;
  // Predictions by id: the probe's features of a served catalogue, in that
  // catalogue's row order (NaN rows for objects without them), found through
  // its id map (no map of the probe's own).
  const Catalogue* cat = nullptr;
  Features features;
  std::string source;
};

}  // namespace serve
using namespace serve;  // internal header: only the service's own files include it

// ---- the server -------------------------------------------------------------

struct Server::Impl {
  ServeOptions o;
  std::vector<std::string> tokens;
  std::vector<std::unique_ptr<ModelEntry>> models;
  std::vector<std::unique_ptr<IndexEntry>> indexes;
  std::vector<std::unique_ptr<DataEntry>> data;
  std::vector<std::unique_ptr<ProbeEntry>> probes;
  std::mutex h5;  // HDF5 is not thread-safe in Debian's build: every file access holds this
  httplib::Server http;
  std::atomic<int> inflight{0};
  std::atomic<int64_t> requests{0}, rejected{0};
  Clock::time_point started = Clock::now();
  int bound_port = -1;

  std::thread trimmer;
  std::mutex trim_mu;
  std::condition_variable trim_cv;
  bool stopping = false;

  explicit Impl(const ServeOptions& opt);
  ~Impl() {
    {
      std::lock_guard<std::mutex> l(trim_mu);
      stopping = true;
    }
    trim_cv.notify_all();
    if (trimmer.joinable()) trimmer.join();
  }
  void routes();

  // The served entry of that name; with one entry served, the name may be left out.
  template <class E>
  static E& named(std::vector<std::unique_ptr<E>>& v, const std::string& name, const char* what, const char* plural) {
    if (name.empty() && v.size() == 1) return *v[0];
    for (auto& e : v)
      if (e->name == name) return *e;
    std::string have;
    for (auto& e : v) have += (have.empty() ? "" : ", ") + e->name;
    if (name.empty()) fail_input("{}: name one of the served {} ({})", what, plural, have);
    fail_not_found("{} '{}' is not served (served: {})", what, name, have.empty() ? "none" : have);
  }
  ModelEntry& model(const std::string& name) { return named(models, name, "model", "models"); }
  bool served_model(const std::string& name) const {
    return std::any_of(models.begin(), models.end(), [&](const auto& m) { return m->name == name; });
  }
  IndexEntry& index(const std::string& name) { return named(indexes, name, "index", "indexes"); }
  ProbeEntry& probe(const std::string& name) { return named(probes, name, "probe", "probes"); }
  DataEntry* dataset(const std::string& name) {
    for (auto& d : data)
      if (d->name == name) return d.get();
    return nullptr;
  }
  Clock::time_point deadline() const { return Clock::now() + std::chrono::seconds(o.timeout_s); }

  // Request data as a table: a JSON object's fields, or the whole body in another format.
  Table request_table(const httplib::Request& req, JsonRequest* body, const std::vector<std::string>& bands_default) {
    UploadOptions u;
    u.max_objects = o.max_objects;
    u.bands = req.has_param("bands") ? split_list(req.get_param_value("bands")) : bands_default;
    if (req.has_param("modality")) u.modality = req.get_param_value("modality");
    if (body) return table_from_json(std::move(*body), u);
    std::string type = upload_base_type(req.get_header_value("Content-Type"));
    u.reader_seconds = o.timeout_s;
    // HDF5 is read from memory in a child process that contains libhdf5's
    // crashes (the lock only while forking); .npy, FITS, PNG, JPEG are decoded
    // here. No upload touches a file.
    u.hdf5_lock = &h5;
    return parse_upload(req.body, type, u);
  }

  // Embeddings of uploaded objects with a served model: AION tokenizes raw
  // columns with its codecs and embeds, all in memory and without the file
  // lock (its methods are const and safe from several request threads);
  // other models go through the dynamic batcher.
  Table embed(ModelEntry& m, const Table& t) {
    if (m.aion) return m.aion->embed(t);
    return m.batcher->embed(t, deadline());
  }

  static std::string modality_of_column(const std::string& col) {
    return col.rfind("embedding_", 0) == 0 ? col.substr(10) : col;
  }

  json search_json(IndexEntry& ix, const SearchRequest& r, const json& query) {
    auto hits = ix.index.search(r);
    json h = json::array();
    int rank = 1;
    for (const auto& x : hits)
      h.push_back({{"rank", rank++}, {"object_id", x.object_id}, {"ra", x.ra}, {"dec", x.dec}, {"score", x.score},
                   {"links", {{"object", "/v1/objects/" + url_escape(x.object_id)}}}});
    return {{"index", ix.name}, {"column", ix.column}, {"metric", ix.index.meta()["options"].value("metric", "cosine")}, {"query", query},
            {"k", r.k}, {"hits", h}};
  }

  json catalogue_json() const {
    json ms = json::array(), is = json::array(), ds = json::array(), ps = json::array();
    for (const auto& m : models) {
      const json& meta = m->enc->meta();
      ms.push_back({{"name", m->name}, {"architecture", m->enc->architecture()}, {"modalities", m->enc->modalities()},
                    {"description", meta.value("description", "")}, {"aion", m->aion != nullptr},
                    {"preprocess", meta.value("preprocess", json::object())}});
    }
    for (const auto& i : indexes)
      is.push_back({{"name", i->name}, {"column", i->column}, {"modality", i->modality}, {"objects", i->index.size()},
                    {"dim", i->index.meta()["dim"]}, {"kind", i->index.meta()["options"].value("kind", "")},
                    {"metric", i->index.meta()["options"].value("metric", "")}, {"model", i->model_id},
                    {"cone_search", "/scs/" + i->name}});
    for (const auto& d : data)
      ds.push_back({{"name", d->name}, {"objects", d->cat().size()}, {"images", d->images}, {"tokens", d->tokens},
                    {"columns", d->scalar_columns}, {"cone_search", "/scs/" + d->name}});
    for (const auto& p : probes)
      ps.push_back({{"name", p->name}, {"target", p->probe.target()}, {"task", p->probe.classification() ? "classification" : "regression"},
                    {"classes", p->probe.class_names()}, {"features", p->probe.feature_columns()}, {"model", p->probe.model_id()},
                    {"kind", p->probe.meta()["config"].value("kind", "")}, {"by_id_from", p->source}});
    return {{"models", ms}, {"indexes", is}, {"datasets", ds}, {"probes", ps}};
  }

  void handle_embeddings(const httplib::Request& req, httplib::Response& res);
  void handle_search(const httplib::Request& req, httplib::Response& res);
  void handle_object(const httplib::Request& req, httplib::Response& res);
  void handle_cutout(const httplib::Request& req, httplib::Response& res);
  void handle_predict(const httplib::Request& req, httplib::Response& res);
  void handle_generate(const httplib::Request& req, httplib::Response& res);
  void handle_scs(const httplib::Request& req, httplib::Response& res);
  void handle_discover(const httplib::Request& req, httplib::Response& res);
};

}  // namespace astrofm
