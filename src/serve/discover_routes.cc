// POST /v1/discover: discovery over a served index's catalogue, in memory
// (discover.h): anomalies (ranked once per method and k, then kept), or
// likeness to the examples an astronomer labelled, with what to label next.
// The labels live in the client (the web page, Python): each request
// carries them, so the service keeps no per-user state.
#include <algorithm>
#include <numeric>

#include "astrofm/discover.h"
#include "server_impl.h"

namespace astrofm {
namespace {

std::vector<std::string> id_list(const json& body, const char* key, int64_t max) {
  std::vector<std::string> out;
  if (!body.contains(key) || body[key].is_null()) return out;
  if (!body[key].is_array()) fail_input("{}: expected a list of object ids", key);
  if (static_cast<int64_t>(body[key].size()) > max) fail_input("{}: {} ids, at most {}", key, body[key].size(), max);
  for (const auto& v : body[key]) {
    if (!v.is_string()) fail_input("{}: expected object ids as strings, got {}", key, v.dump().substr(0, 40));
    out.push_back(checked_id(v.get<std::string>(), key));
  }
  return out;
}

}  // namespace

void Server::Impl::handle_discover(const httplib::Request& req, httplib::Response& res) {
  auto parsed = json_body(req, o.max_objects);
  if (!parsed) fail_input("request: /v1/discover takes a JSON body");
  const json& body = parsed->rest;
  IndexEntry& ix = index(json_get<std::string>(body, "index", ""));
  const std::string mode = json_get<std::string>(body, "mode", "similar");
  if (mode != "similar" && mode != "anomalies") fail_input("mode: '{}': similar or anomalies", mode);
  const double k = json_get<double>(body, "k", 24);
  if (!(k >= 1 && k <= 1000 && k == std::floor(k))) fail_input("k: {} is not a whole number in 1..1000", k);
  const double suggest = json_get<double>(body, "suggest", 0);
  if (!(suggest >= 0 && suggest <= 1000 && suggest == std::floor(suggest))) fail_input("suggest: {} is not a whole number in 0..1000", suggest);
  const std::string acquisition = json_get<std::string>(body, "acquisition", "top");
  next_to_label({}, {}, 0, acquisition);  // checks the name
  const bool exclude_labelled = json_get<bool>(body, "exclude_labelled", true);

  // Labels: every id must be in the index's catalogue.
  const int64_t n = ix.index.size();
  std::vector<int8_t> labels(n, -1);
  std::vector<int64_t> pos, neg;
  std::vector<std::string> unknown;
  for (auto [key, value] : {std::pair{"positives", int8_t{1}}, std::pair{"negatives", int8_t{0}}})
    for (const auto& id : id_list(body, key, 10000)) {
      int64_t r = ix.index.row(id);
      if (r < 0) {
        unknown.push_back(id);
        continue;
      }
      labels[r] = value;
      (value ? pos : neg).push_back(r);
    }
  if (!unknown.empty())
    fail_not_found("{} labelled objects are not in index '{}': {}{}", unknown.size(), ix.name,
                   fmt::join(unknown.begin(), unknown.begin() + std::min<size_t>(unknown.size(), 10), ", "), unknown.size() > 10 ? ", ..." : "");

  std::call_once(ix.features_once, [&] {
    const auto* v = ix.index.preloaded(ix.column);
    ASTROFM_ASSERT(v, "index column preloaded");
    ix.features.n = n;
    ix.features.d = n ? static_cast<int64_t>(v->size()) / n : 0;
    ix.features.x = *v;
    // An object without this embedding (NaN) counts as the catalogue's centre: never ranked first by anything.
    std::vector<double> mean(ix.features.d, 0.0);
    std::vector<int64_t> count(ix.features.d, 0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < ix.features.d; ++j)
        if (float x = ix.features.x[i * ix.features.d + j]; std::isfinite(x)) mean[j] += x, ++count[j];
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < ix.features.d; ++j)
        if (float& x = ix.features.x[i * ix.features.d + j]; !std::isfinite(x)) x = count[j] ? static_cast<float>(mean[j] / count[j]) : 0.f;
  });
  const Features& F = ix.features;

  std::shared_ptr<const std::vector<double>> scores;
  std::string method;
  if (mode == "anomalies") {
    AnomalyOptions a;
    a.method = method = json_get<std::string>(body, "method", "lof");
    const double nb = json_get<double>(body, "neighbours", 20);
    if (!(nb >= 1 && nb <= 200 && nb == std::floor(nb))) fail_input("neighbours: {} is not a whole number in 1..200", nb);
    a.k = static_cast<int>(nb);
    a.check();
    const std::string key = fmt::format("{}/{}", a.method, a.k);
    std::lock_guard<std::mutex> l(ix.anomaly_mu);  // one computation per key; later requests reuse it
    auto& slot = ix.anomaly_scores[key];
    if (!slot) slot = std::make_shared<const std::vector<double>>(anomaly_scores(F, a));
    scores = slot;
  } else {
    if (pos.empty()) fail_input("positives: label at least one object as interesting (an id of index '{}')", ix.name);
    SimilarOptions s;
    s.method = method = json_get<std::string>(body, "method", "pu");
    s.check();
    std::vector<int64_t> labelled = pos;
    labelled.insert(labelled.end(), neg.begin(), neg.end());
    scores = std::make_shared<const std::vector<double>>(rank_similar(F, take_rows(F, pos), take_rows(F, neg), labelled, s));
  }
  const auto& sc = *scores;
  std::vector<int64_t> order;
  for (int64_t i = 0; i < n; ++i)
    if (!exclude_labelled || labels[i] < 0) order.push_back(i);
  const size_t top = std::min<size_t>(order.size(), static_cast<size_t>(k));
  std::partial_sort(order.begin(), order.begin() + top, order.end(),
                    [&](int64_t a, int64_t b) { return sc[a] > sc[b] || (sc[a] == sc[b] && a < b); });
  auto object = [&](int64_t i) {
    json h = {{"object_id", ix.index.ids()[i]}, {"score", sc[i]}};
    h["ra"] = std::isfinite(ix.index.ra()[i]) ? json(ix.index.ra()[i]) : json(nullptr);
    h["dec"] = std::isfinite(ix.index.dec()[i]) ? json(ix.index.dec()[i]) : json(nullptr);
    if (labels[i] >= 0) h["label"] = labels[i];
    return h;
  };
  json hits = json::array();
  for (size_t r = 0; r < top; ++r) {
    json h = object(order[r]);
    h["rank"] = r + 1;
    hits.push_back(std::move(h));
  }
  json suggested = json::array();
  if (suggest > 0)
    for (auto i : next_to_label(sc, labels, static_cast<int64_t>(suggest), acquisition)) suggested.push_back(object(i));
  reply_json(res, {{"index", ix.name}, {"column", ix.column}, {"mode", mode}, {"method", method}, {"objects", n},
                   {"positives", pos.size()}, {"negatives", neg.size()}, {"hits", hits}, {"suggested", suggested}});
}

}  // namespace astrofm
