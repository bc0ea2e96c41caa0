// The routes where a served model answers: /v1/predict (a saved probe) and
// /v1/generate (AION, through the in-memory Generator kept per model).
#include <cmath>

#include "astrofm/generate.h"
#include "server_impl.h"

namespace astrofm {

void Server::Impl::handle_predict(const httplib::Request& req, httplib::Response& res) {
  auto parsed = json_body(req, o.max_objects);
  bool is_json = parsed.has_value();
  json body = is_json ? parsed->rest : json::object();
  if (!is_json && req.has_param("probe")) {
    body["probe"] = req.get_param_value("probe");
  }
  ProbeEntry& p = probe(json_get<std::string>(body, "probe", ""));
  const SavedProbe& sp = p.probe;
  Features x;
  std::vector<std::string> ids;
  if (body.contains("ids")) {
    ids = json_get<std::vector<std::string>>(body, "ids", {});
    if (ids.empty() || static_cast<int64_t>(ids.size()) > o.max_objects) fail_input("ids: {} ids (1..{})", ids.size(), o.max_objects);
    if (p.source.empty()) fail_input("probe '{}': no served catalogue holds its features ({}); send embeddings or data", p.name,
                                     fmt::join(sp.feature_columns(), ", "));
    std::vector<int64_t> rows;
    for (const auto& id : ids) {
      int64_t r = p.cat->row(checked_id(id, "ids"));
      if (r < 0 || !std::isfinite(p.features.row(r)[0])) fail_not_found("ids: object '{}' is not in {}", id, p.source);
      rows.push_back(r);
    }
    x = take_rows(p.features, rows);
  } else if (body.contains("embeddings") || body.contains("features")) {
    const auto& e = body.contains("embeddings") ? body["embeddings"] : body["features"];
    if (!e.is_array() || e.empty() || static_cast<int64_t>(e.size()) > o.max_objects) fail_input("embeddings: expected [N][D] numbers, N in 1..{}", o.max_objects);
    x.n = static_cast<int64_t>(e.size());
    x.d = sp.input_dim();
    for (size_t i = 0; i < e.size(); ++i) {
      if (!e[i].is_array() || static_cast<int64_t>(e[i].size()) != x.d)
        fail_input("embeddings[{}]: expected {} numbers ({})", i, x.d, fmt::join(sp.feature_columns(), ", "));
      for (const auto& v : e[i]) {
        if (!v.is_number()) fail_input("embeddings[{}]: {} is not a number", i, v.dump().substr(0, 40));
        x.x.push_back(v.get<float>());
      }
    }
  } else {
    Table t = request_table(req, is_json ? &*parsed : nullptr, {});
    if (!t.rows()) fail_input("request: give \"ids\", \"embeddings\", or data (\"images\"/\"spectra\") to predict from");
    if (sp.model_id().empty() || sp.feature_columns().size() != 1)
      fail_input("probe '{}' was fitted on catalogue columns ({}), not on a model's embeddings: send \"embeddings\" or \"ids\"", p.name,
                 fmt::join(sp.feature_columns(), ", "));
    if (!served_model(sp.model_id()))
      fail_input("probe '{}' reads embeddings of model '{}', which this server does not serve: send \"embeddings\" or \"ids\"", p.name,
                 sp.model_id());
    Table e = embed(model(sp.model_id()), t);
    const Column& c = e.at(sp.feature_columns()[0]);
    x.n = c.rows, x.d = c.row_elems();
    x.x.assign(c.ptr<float>(), c.ptr<float>() + c.rows * c.row_elems());
    if (t.has(mmu::kObjectId)) ids = t.at(mmu::kObjectId).strings;
  }
  auto pred = sp.predict(x);
  json values = json::array(), labels = json::array();
  for (double v : pred) {
    values.push_back(v);
    if (sp.classification()) labels.push_back(sp.class_names().at(static_cast<size_t>(v)));
  }
  json out = {{"probe", p.name}, {"target", sp.target()}, {"task", sp.classification() ? "classification" : "regression"},
              {"predictions", sp.classification() ? labels : values}, {"values", values}};
  if (!ids.empty()) out["ids"] = ids;
  reply_json(res, out);
}

void Server::Impl::handle_generate(const httplib::Request& req, httplib::Response& res) {
  auto parsed = json_body(req, o.max_objects);
  bool is_json = parsed.has_value();
  json body = is_json ? parsed->rest : json::object();
  if (!is_json) {
    for (const char* k : {"model", "to", "from"})
      if (req.has_param(k)) body[k] = req.get_param_value(k);
    if (body.contains("from")) body["from"] = split_list(body["from"].get<std::string>());
  }
  std::string name = json_get<std::string>(body, "model", "");
  ModelEntry* m = nullptr;
  if (name.empty()) {
    for (auto& e : models)
      if (e->aion) m = e.get();
  } else {
    m = &model(name);
  }
  if (!m || !m->aion) fail_input("model: /v1/generate needs a served AION model{}", name.empty() ? "" : "; '" + name + "' is not one");
  GenerateRequest g;
  g.to = json_get<std::string>(body, "to", "");
  if (g.to.empty()) fail_input("to: name the modality to generate (e.g. \"Z\", \"spectrum\")");
  g.from = json_get<std::vector<std::string>>(body, "from", {});
  double steps = json_get<double>(body, "steps", 8), temp = json_get<double>(body, "temperature", 1.0);
  if (!(steps >= 1 && steps <= 64)) fail_input("steps: {} is not in 1..64", steps);
  if (!(temp >= 0 && temp <= 10)) fail_input("temperature: {} is not in 0..10", temp);
  g.steps = static_cast<int64_t>(steps), g.temperature = temp;
  g.seed = json_get<uint64_t>(body, "seed", 1);
  // The rows in memory: from a served tokens dataset (the HDF5 lock only
  // while reading them) or an uploaded tokens file.
  Table rows;
  if (body.contains("ids")) {
    auto ids = json_get<std::vector<std::string>>(body, "ids", {});
    if (ids.empty() || ids.size() > 256) fail_input("ids: {} ids (1..256 per request)", ids.size());
    DataEntry* src = nullptr;
    std::string dname = json_get<std::string>(body, "data", "");
    if (!dname.empty()) {
      src = dataset(dname);
      if (!src) fail_not_found("data: dataset '{}' is not served", dname);
    } else {
      for (auto& d : data)
        if (d->tokens && d->cat().contains(ids[0])) src = d.get();
    }
    if (!src || !src->tokens) fail_input("data: no served tokens dataset (astrofm tokenize) holds object '{}'", ids[0]);
    for (const auto& id : ids)
      if (!src->cat().contains(checked_id(id, "ids"))) fail_not_found("ids: object '{}' is not in dataset '{}'", id, src->name);
    std::lock_guard<std::mutex> l(h5);
    rows = src->lookup->get(ids);
  } else if (!is_json) {
    UploadOptions u;  // a tokens HDF5 file, read from memory
    u.max_objects = 256;
    u.hdf5_lock = &h5;
    rows = parse_upload(req.body, req.get_header_value("Content-Type"), u);
    if (!rows.has(mmu::kObjectId) || !rows.has(mmu::kRa)) fail_input("upload: a tokens file (astrofm tokenize) with object_id, ra, dec");
  } else {
    fail_input("request: give \"ids\" of a served tokens dataset, or upload a tokens HDF5 file");
  }
  Table out = m->aion->generate(rows, g, "request");
  json objects = json::array();
  for (int64_t i = 0; i < out.rows(); ++i) {
    json o2 = json::object();
    for (const auto& c : out.columns()) {
      if (c.name == mmu::kHealpix) continue;
      int64_t per = c.row_elems();
      if (c.dtype == DType::String) o2[c.name] = c.strings[i * per];
      else if (per == 1) {
        double v = c.as_double(i);
        o2[c.name] = std::isfinite(v) ? json(v) : json(nullptr);
      } else {
        json a = json::array();
        for (int64_t j = 0; j < per; ++j) {
          double v = c.as_double(i * per + j);
          a.push_back(std::isfinite(v) ? json(v) : json(nullptr));
        }
        o2[c.name] = a;
      }
    }
    objects.push_back(o2);
  }
  reply_json(res, {{"model", m->name}, {"to", g.to}, {"from", g.from}, {"objects", objects}, {"columns", out.names()}});
}

}  // namespace astrofm
