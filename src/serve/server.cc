// The HTTP service: start-up, routes, authentication, limits, and what each
// route computes with the library (Encoder through the batcher, SearchIndex);
// the model routes (SavedProbe, Generator) are in model_routes.cc. Formats of
// requests and answers: docs/api.md.
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <set>

#include <spdlog/spdlog.h>

#include "astrofm/bundle.h"
#include "astrofm/config.h"
#include "astrofm/fsutil.h"
#include "astrofm/npy.h"
#include "astrofm/resources.h"
#include "astrofm/vega.h"
#include "server_impl.h"
#include "web_assets.h"

namespace astrofm {
namespace {

// A probe's features rearranged into a served catalogue's rows (NaN rows
// where the catalogue holds an object the features lack), so predictions by
// id go through the catalogue's one id map.
Features in_catalogue_order(const FeatureSet& f, const Catalogue& cat) {
  Features x;
  x.n = cat.size(), x.d = f.x.d;
  x.x.assign(static_cast<size_t>(x.n * x.d), NAN);
  const auto& ids = f.rows.at(mmu::kObjectId).strings;
  for (int64_t i = 0; i < f.x.n; ++i)
    if (int64_t r = cat.row(ids[i]); r >= 0) std::copy(f.x.row(i), f.x.row(i) + f.x.d, x.x.begin() + r * x.d);
  return x;
}

}  // namespace


Server::Impl::Impl(const ServeOptions& opt) : o(opt) {
  o.check();
  if (!o.token_file.empty()) {
    std::ifstream f(o.token_file);
    if (!f) fail_io("{}: cannot read the token file", o.token_file);
    std::string line;
    while (std::getline(f, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      if (line.size() < 16) fail_input("{}: a token of {} characters; use at least 16 (e.g. `openssl rand -hex 24`)", o.token_file, line.size());
      tokens.push_back(line);
    }
    if (tokens.empty()) fail_input("{}: no tokens (one a line)", o.token_file);
  }
  // AION's codecs: those given, else the model's own (a bundle or a
  // snapshot), else the shipped ones.
  std::vector<std::string> given = o.codecs;
  for (auto& c : given) c = resolve_model_path(c);
  for (const auto& name : o.models) {
    auto m = std::make_unique<ModelEntry>();
    const std::string path = resolve_model_path(name);
    if (is_aion_model(path)) {
      AionOptions ao{.codecs = given};
      if (given.empty() && codecs_for_model(path, {}).empty())
        for (const char* c : {"codecs-scalar", "codec-image", "codec-spectrum"}) ao.codecs.push_back(resolve_model_path(c));
      m->aion = std::make_unique<Aion>(path, ao);
      m->enc = &m->aion->encoder();
    } else {
      m->own_enc = std::make_unique<Encoder>(path);
      m->enc = m->own_enc.get();
      m->batcher = std::make_unique<serve::Batcher>(*m->enc, o.batch_objects, std::chrono::microseconds(o.batch_wait_us));
    }
    m->name = m->enc->name();
    spdlog::info("model {} ({}): {}", m->name, m->enc->architecture(), fmt::join(m->enc->modalities(), ", "));
    models.push_back(std::move(m));
  }
  for (const auto& [name, dir] : o.indexes) {
    auto e = std::make_unique<IndexEntry>();
    e->name = name;
    e->index = SearchIndex::open(dir);
    e->column = e->index.meta()["column"];
    e->dataset = e->index.meta()["dataset"];
    e->modality = modality_of_column(e->column);
    // Every embedding column of the catalogue, for cross-modal queries by id.
    std::vector<std::string> more;
    Dataset cat = Dataset::open(e->dataset);
    for (const auto& c : cat.schema())
      if (c.name.rfind("embedding_", 0) == 0) more.push_back(c.name);
    e->index.preload(more);
    e->preloaded = more;
    e->catalogue = std::make_unique<DataEntry>();
    e->catalogue->ds = cat;
    e->catalogue->lookup = std::make_unique<ObjectLookup>(cat);
    if (cat.has_column("model_id") && !cat.partitions().empty()) {
      for (const auto& p : cat.partitions())
        if (p.rows > 0) {
          e->model_id = read_rows(cat, &p - &cat.partitions()[0], 0, 1, {"model_id"}).at("model_id").strings.at(0);
          break;
        }
    }
    spdlog::info("index {}: {} objects of {} ({}), model {}", name, e->index.size(), e->column, e->index.meta()["options"].value("kind", ""),
                 e->model_id.empty() ? "?" : e->model_id);
    indexes.push_back(std::move(e));
  }
  for (const auto& [name, dir] : o.data) {
    auto d = std::make_unique<DataEntry>();
    d->name = name;
    d->ds = Dataset::open(dir);
    d->lookup = std::make_unique<ObjectLookup>(d->ds);
    for (const auto& c : d->ds.schema()) {
      if (c.shape.empty() && c.name != mmu::kObjectId && c.name != mmu::kRa && c.name != mmu::kDec) d->scalar_columns.push_back(c.name);
      if (c.name == mmu::kImageArray) d->images = true;
      if (c.name.rfind("tok_", 0) == 0) d->tokens = true;
    }
    spdlog::info("dataset {}: {} objects{}{}", name, d->cat().size(), d->images ? ", images" : "", d->tokens ? ", tokens" : "");
    data.push_back(std::move(d));
  }
  for (const auto& [name, path] : o.probes) {
    auto p = std::make_unique<ProbeEntry>(ProbeEntry{name, path, SavedProbe::load(path), nullptr, {}, ""});
    // Predictions by object id: the probe's features from the first served catalogue that has them.
    std::vector<std::pair<std::string, const Catalogue*>> sources;
    for (auto& d : data) sources.emplace_back(d->ds.path(), &d->cat());
    for (auto& i : indexes) sources.emplace_back(i->dataset, &i->index.catalogue());
    for (const auto& [s, cat] : sources) {
      try {
        FeatureSet f = load_features(s, p->probe.feature_columns());
        if (f.x.d != p->probe.input_dim()) continue;
        p->features = in_catalogue_order(f, *cat);
        p->cat = cat;
        p->source = s;
        break;
      } catch (const InputError&) {
      }
    }
    spdlog::info("probe {}: {} of {} from {}{}", name, p->probe.meta()["config"].value("kind", ""), p->probe.target(),
                 fmt::join(p->probe.feature_columns(), ","), p->source.empty() ? " (no served catalogue has them: by upload only)" : " of " + p->source);
    probes.push_back(std::move(p));
  }
  routes();
  // glibc keeps what the HTTP threads' arenas freed (varying batch and body
  // sizes): resident memory grew under sustained load (bench/README.md).
  // Returning free pages once a second keeps it flat; fewer arenas did too but
  // halved search throughput through lock contention.
  trimmer = std::thread([this] {
    std::unique_lock<std::mutex> l(trim_mu);
    while (!trim_cv.wait_for(l, std::chrono::seconds(1), [this] { return stopping; })) ::malloc_trim(0);
  });
}

void Server::Impl::handle_embeddings(const httplib::Request& req, httplib::Response& res) {
  auto parsed = json_body(req, o.max_objects);
  bool is_json = parsed.has_value();
  json body = is_json ? parsed->rest : json::object();
  std::string name = is_json ? json_get<std::string>(body, "model", "") : req.get_param_value("model");
  ModelEntry& m = model(name);
  Table t = request_table(req, is_json ? &*parsed : nullptr, {});
  if (!t.rows()) fail_input("request: no \"images\" or \"spectra\" to embed");
  Table e = embed(m, t);
  std::string want = is_json ? json_get<std::string>(body, "modality", "") : "";
  if (want.empty() && req.has_param("modality") && !is_json) want = req.get_param_value("modality");
  const Column* pick = nullptr;
  json by = json::object();
  for (const auto& c : e.columns())
    if (c.name.rfind("embedding_", 0) == 0) {
      std::string mod = c.name.substr(10);
      // An AION model embeds every input jointly: `modality` names an input, not an output.
      if (!pick && (want.empty() || want == mod || m.aion)) pick = &c;
      json rows = json::array();
      for (int64_t i = 0; i < c.rows; ++i) rows.push_back(floats_json(c.ptr<float>() + i * c.row_elems(), c.row_elems()));
      by[mod] = std::move(rows);
    }
  if (!pick) fail_input("modality '{}': the model gave {}", want, by.empty() ? "no embeddings" : [&] {
      std::string k;
      for (auto it = by.begin(); it != by.end(); ++it) k += (k.empty() ? "" : ", ") + it.key();
      return k;
    }());
  std::string accept = req.get_header_value("Accept");
  if (accept.find("application/x-npy") != std::string::npos || req.get_param_value("format") == "npy") {
    res.set_content(npy_bytes(pick->ptr<float>(), {pick->rows, pick->row_elems()}), "application/x-npy");
    res.set_header("X-Astrofm-Model", m.name);
    res.set_header("X-Astrofm-Modality", pick->name.substr(10));
    return;
  }
  json out = {{"model", m.name}, {"modality", pick->name.substr(10)}, {"objects", pick->rows}, {"dim", pick->row_elems()},
              {"embeddings", by[pick->name.substr(10)]}};
  if (by.size() > 1) out["by_modality"] = by;
  reply_json(res, out);
}

void Server::Impl::handle_search(const httplib::Request& req, httplib::Response& res) {
  auto parsed = json_body(req, o.max_objects);
  bool is_json = parsed.has_value();
  json body = is_json ? parsed->rest : json::object();
  if (!is_json) {  // an uploaded image or spectrum; the rest in the query string
    for (const char* k : {"index", "id", "query_modality"})
      if (req.has_param(k)) body[k] = req.get_param_value(k);
    for (const char* k : {"k", "dedup_arcsec"})
      if (req.has_param(k)) body[k] = number_param(req.get_param_value(k), k);
    if (req.has_param("ra") || req.has_param("dec") || req.has_param("radius"))
      body["cone"] = {number_param(req.get_param_value("ra"), "ra"), number_param(req.get_param_value("dec"), "dec"),
                      number_param(req.get_param_value("radius"), "radius")};
  }
  IndexEntry& ix = index(json_get<std::string>(body, "index", ""));
  SearchRequest r;
  double k = json_get<double>(body, "k", 10);
  if (!(k >= 1 && k <= 1000 && k == std::floor(k))) fail_input("k: {} is not a whole number in 1..1000", k);
  r.k = static_cast<int>(k);
  r.dedup_arcsec = json_get<double>(body, "dedup_arcsec", 0.0);
  if (!(r.dedup_arcsec >= 0 && r.dedup_arcsec <= 3600)) fail_input("dedup_arcsec: {} is not in 0..3600", r.dedup_arcsec);
  r.exclude_query = json_get<bool>(body, "exclude_query", true);
  if (body.contains("cone") && !body["cone"].is_null()) {
    const auto& c = body["cone"];
    double ra, dec, rad;
    if (c.is_array() && c.size() == 3 && c[0].is_number() && c[1].is_number() && c[2].is_number()) ra = c[0], dec = c[1], rad = c[2];
    else if (c.is_object() && c.contains("ra") && c.contains("dec") && c.contains("radius") && c["ra"].is_number() && c["dec"].is_number() && c["radius"].is_number())
      ra = c["ra"], dec = c["dec"], rad = c["radius"];
    else fail_input("cone: expected [ra, dec, radius] or {{\"ra\", \"dec\", \"radius\"}} in degrees, got {}", c.dump().substr(0, 60));
    if (!(dec >= -90 && dec <= 90) || !std::isfinite(ra) || !(rad > 0 && rad <= 180))
      fail_input("cone: ra {}, dec {}, radius {} (dec in -90..90, radius in (0, 180] degrees)", ra, dec, rad);
    r.cone = std::array<double, 3>{ra, dec, rad};
  }
  json query;
  std::string qmod = json_get<std::string>(body, "query_modality", "");
  if (body.contains("id") && !body["id"].is_null()) {
    r.id = checked_id(json_get<std::string>(body, "id", ""), "id");
    if (!ix.index.contains(r.id)) fail_not_found("id: object '{}' is not in index '{}'", r.id, ix.name);
    if (!qmod.empty()) {
      r.query_column = "embedding_" + qmod;
      if (std::find(ix.preloaded.begin(), ix.preloaded.end(), r.query_column) == ix.preloaded.end())
        fail_input("query_modality: '{}': the catalogue of index '{}' has {}", qmod, ix.name, fmt::join(ix.preloaded, ", "));
    }
    query = {{"id", r.id}, {"modality", qmod.empty() ? ix.modality : qmod}};
  } else if (body.contains("vector")) {
    r.vector = json_get<std::vector<float>>(body, "vector", {});
    query = {{"vector_dim", r.vector.size()}};
  } else {
    Table t = request_table(req, is_json ? &*parsed : nullptr, {});
    if (t.rows() != 1) fail_input("request: search with one object (an \"id\", a \"vector\", or one image or spectrum), got {}", t.rows());
    if (ix.model_id.empty()) fail_input("index '{}': its catalogue does not name the model that made it; search it by id or vector", ix.name);
    if (!served_model(ix.model_id))
      fail_input("index '{}' holds embeddings of model '{}', which this server does not serve: search it by id or vector", ix.name, ix.model_id);
    Table e = embed(model(ix.model_id), t);
    std::string col = t.has(mmu::kImageArray) && e.has("embedding_image") ? "embedding_image" : "embedding_spectrum";
    if (!e.has(col)) fail_input("model '{}' gave no embedding of the uploaded object", ix.model_id);
    const Column& c = e.at(col);
    r.vector.assign(c.ptr<float>(), c.ptr<float>() + c.row_elems());
    query = {{"upload", modality_of_column(col)}, {"model", ix.model_id}};
  }
  if (r.cone) query["cone"] = {(*r.cone)[0], (*r.cone)[1], (*r.cone)[2]};
  reply_json(res, search_json(ix, r, query));
}

void Server::Impl::routes() {
  http.set_payload_max_length(o.max_body_bytes);
  http.set_read_timeout(o.timeout_s, 0);
  http.set_write_timeout(o.timeout_s, 0);
  http.set_keep_alive_max_count(10000);
  http.set_keep_alive_timeout(5);
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle and
  // the client's delayed ACK add ~40 ms to every keep-alive answer.
  http.set_tcp_nodelay(true);  // idle connections let their worker thread go soon
  int threads = o.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // Errors without a body (404 of an unknown route, 413 from the payload limit) get a JSON one.
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = res.status == 413 ? "the request body exceeds the server's limit" : res.status == 404 ? "no such route (see /v1/models and docs/api.md)"
                                                                                                              : fmt::format("HTTP {}", res.status);
    reply_error(res, res.status, res.status == 413 ? "too_large" : res.status == 404 ? "not_found" : "http", msg);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    ++requests;
    // An over-limit declared body is refused on its headers: httplib would
    // otherwise read (and drop) all of it first, up to the read timeout.
    if (req.has_header("Content-Length")) {
      const std::string& len = req.get_header_value("Content-Length");
      char* end = nullptr;
      unsigned long long n = std::strtoull(len.c_str(), &end, 10);
      if (end == len.c_str() || *end != '\0' || n > static_cast<unsigned long long>(o.max_body_bytes)) {
        reply_error(res, 413, "too_large",
                    fmt::format("the request declares {} bytes; this server takes at most {}", len, o.max_body_bytes));
        res.set_header("Connection", "close");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    bool open = req.path == "/" || req.path == "/index.html" || req.path == "/v1/health" || req.path.rfind("/static/", 0) == 0 ||
                req.path == "/favicon.ico";
    if (tokens.empty()) {
      // Without tokens the server is loopback-only; a page elsewhere must not reach it by a DNS name that points here.
      std::string host = req.get_header_value("Host");
      std::string name = host.rfind('[', 0) == 0 ? host.substr(0, host.find(']') + 1) : host.substr(0, host.find(':'));
      if (!host.empty() && name != "127.0.0.1" && name != "localhost" && name != "[::1]") {
        reply_error(res, 403, "forbidden", "this server (no tokens) answers only to 127.0.0.1, localhost or [::1]");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (open) return httplib::Server::HandlerResponse::Unhandled;
    std::string auth = req.get_header_value("Authorization");
    bool ok = false;
    if (auth.size() > 7 && strncasecmp(auth.c_str(), "Bearer ", 7) == 0) {  // the scheme is case-insensitive (RFC 7235)
      std::string t = auth.substr(7);
      for (const auto& k : tokens) ok = constant_time_equal(t, k) || ok;  // every token compared: no early exit
    }
    if (ok) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer realm=\"astrofm\"");
    reply_error(res, 401, "unauthorized", auth.empty() ? "this server needs a token: Authorization: Bearer <token>" : "the token is not valid");
    return httplib::Server::HandlerResponse::Handled;
  });
  if (!o.quiet)
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      spdlog::info("{} {} {} {} B", req.method, req.path, res.status, res.body.size());
    });

  // Every API handler: the concurrency limit, and astrofm's errors as JSON.
  using H = std::function<void(const httplib::Request&, httplib::Response&)>;
  auto api = [this](H h) {
    return [this, h](const httplib::Request& req, httplib::Response& res) {
      if (inflight.fetch_add(1) >= o.max_inflight) {
        inflight.fetch_sub(1);
        ++rejected;
        res.set_header("Retry-After", "1");
        reply_error(res, 503, "busy", fmt::format("the server is computing {} requests at once, its limit; retry shortly", o.max_inflight));
        return;
      }
      struct Release {
        std::atomic<int>& n;
        ~Release() { n.fetch_sub(1); }
      } release{inflight};
      try {
        h(req, res);
      } catch (const serve::Batcher::TimeoutError& e) {
        reply_error(res, 504, "timeout", e.what());
      } catch (const Error& e) {
        reply_error(res, http_status(e.kind()), error_kind_name(e.kind()), e.what());
      } catch (const json::exception& e) {
        reply_error(res, 400, "invalid_input", std::string("request: ") + e.what());
      } catch (const InternalError& e) {
        spdlog::error("internal error on {} {}: {}", req.method, req.path, e.what());
        reply_error(res, 500, "internal", e.what());
      } catch (const std::exception& e) {
        spdlog::error("error on {} {}: {}", req.method, req.path, e.what());
        reply_error(res, 500, "internal", e.what());
      }
    };
  };
  http.Get("/v1/health", api([this](const httplib::Request&, httplib::Response& res) {
    json b = json::object();
    for (auto& m : models)
      if (m->batcher) b[m->name] = m->batcher->stats();
    reply_json(res, {{"status", "ok"}, {"version", ASTROFM_VERSION},
                     {"uptime_s", std::chrono::duration<double>(Clock::now() - started).count()}, {"requests", requests.load()},
                     {"rejected_busy", rejected.load()}, {"inflight", inflight.load() - 1}, {"batching", b},
                     {"auth", !tokens.empty()}});
  }));
  http.Get("/v1/models", api([this](const httplib::Request&, httplib::Response& res) { reply_json(res, catalogue_json()); }));
  http.Post("/v1/embeddings", api([this](const httplib::Request& q, httplib::Response& r) { handle_embeddings(q, r); }));
  http.Post("/v1/search", api([this](const httplib::Request& q, httplib::Response& r) { handle_search(q, r); }));
  http.Post("/v1/predict", api([this](const httplib::Request& q, httplib::Response& r) { handle_predict(q, r); }));
  http.Post("/v1/generate", api([this](const httplib::Request& q, httplib::Response& r) { handle_generate(q, r); }));
  http.Post("/v1/discover", api([this](const httplib::Request& q, httplib::Response& r) { handle_discover(q, r); }));
  http.Get(R"(/v1/objects/([^/]+)/cutout\.png)", api([this](const httplib::Request& q, httplib::Response& r) { handle_cutout(q, r); }));
  http.Get(R"(/v1/objects/([^/]+))", api([this](const httplib::Request& q, httplib::Response& r) { handle_object(q, r); }));
  http.Get(R"(/scs/([A-Za-z0-9_.\-]+))", api([this](const httplib::Request& q, httplib::Response& r) { handle_scs(q, r); }));
  // The web page and its assets, compiled into the binary.
  auto asset = [](const char* name) {
    return [name](const httplib::Request&, httplib::Response& res) {
      const serve::WebAsset* a = serve::find_web_asset(name);
      if (!a) return reply_error(res, 404, "not_found", std::string("no asset ") + name);
      res.set_header("Cache-Control", "no-cache");
      // Scripts from this server only and no eval (Vega runs its expressions through vega-interpreter);
      // inline styles are allowed for the figures' menus and labels.
      res.set_header("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; script-src 'self'");
      res.set_content(a->data, a->size, a->type);
    };
  };
  http.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  http.Get("/", asset("index.html"));
  http.Get("/index.html", asset("index.html"));
  http.Get("/static/app.js", asset("app.js"));
  http.Get("/static/discover.js", asset("discover.js"));
  // Vega, Vega-Lite, vega-embed and vega-interpreter for the sky plot (compiled in, astrofm/vega.h).
  for (const auto& sc : vega::scripts())
    http.Get(std::string("/static/") + sc.name, [sc](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "max-age=86400");
      res.set_content(sc.data, sc.size, "text/javascript; charset=utf-8");
    });
  http.Get("/static/style.css", asset("style.css"));
  // Nothing else: the service is read-only, and other methods or paths get a JSON 404.
}

Server::Server(const ServeOptions& o) : impl_(std::make_unique<Impl>(o)) {}
Server::~Server() { stop(); }

namespace {

// Debian's cpp-httplib 0.11 listens with a backlog of 5 (compiled into the
// library): 64 clients connecting at once then see connections reset. Linux
// takes a new backlog from a second listen() on the bound socket.
void widen_listen_backlog(int port) {
  for (int fd = 3; fd < 4096; ++fd) {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    int listening = 0;
    socklen_t ol = sizeof listening;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) continue;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ol) != 0 || !listening) continue;
    int p = a.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port)
            : a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port) : -1;
    if (p == port) ::listen(fd, SOMAXCONN);
  }
}

}  // namespace

int Server::bind() {
  if (impl_->bound_port >= 0) return impl_->bound_port;
  int port = impl_->o.port;
  if (port == 0) port = impl_->http.bind_to_any_port(impl_->o.host);
  else if (!impl_->http.bind_to_port(impl_->o.host, port)) port = -1;
  if (port < 0) fail_io("cannot listen on {}:{} (in use, or not an address of this machine)", impl_->o.host, impl_->o.port);
  widen_listen_backlog(port);
  impl_->bound_port = port;
  return port;
}

void Server::run() {
  bind();
  spdlog::info("astrofm serve: http://{}:{}/ ({}; {} models, {} indexes, {} datasets, {} probes)", impl_->o.host, impl_->bound_port,
               impl_->tokens.empty() ? "no token needed" : "bearer token required", impl_->models.size(), impl_->indexes.size(),
               impl_->data.size(), impl_->probes.size());
  impl_->http.listen_after_bind();
}

void Server::stop() {
  if (impl_) impl_->http.stop();
}

int Server::port() const { return impl_->bound_port; }

json Server::catalogue() const { return impl_->catalogue_json(); }

}  // namespace astrofm
