// GET /v1/objects/{id} (an object's metadata from every served dataset and
// index) and GET /v1/objects/{id}/cutout.png.
#include "server_impl.h"

namespace astrofm {

void Server::Impl::handle_object(const httplib::Request& req, httplib::Response& res) {
  const std::string id = checked_id(req.matches[1].str(), "object id");
  json out = {{"object_id", id}, {"found_in", json::array()}, {"columns", json::object()}, {"arrays", json::object()}};
  bool found = false, image = false;
  for (auto& d : data) {
    const int64_t r = d->cat().row(id);
    if (r < 0) continue;
    found = true;
    out["found_in"].push_back(d->name);
    if (!out.contains("ra") && std::isfinite(d->cat().ra()[r])) out["ra"] = d->cat().ra()[r], out["dec"] = d->cat().dec()[r];
    Table t;
    {
      std::lock_guard<std::mutex> l(h5);
      t = d->lookup->get({id}, d->scalar_columns);
    }
    json cols = json::object();
    for (const auto& c : t.columns()) {
      if (c.dtype == DType::String) cols[c.name] = c.strings[0];
      else if (c.dtype == DType::Bool) cols[c.name] = c.data[0] != 0;
      else if (dtype_is_integer(c.dtype)) cols[c.name] = c.as_int64(0);
      else {
        double v = c.as_double(0);
        cols[c.name] = std::isfinite(v) ? json(v) : json(nullptr);
      }
    }
    out["columns"][d->name] = cols;
    for (const auto& c : d->ds.schema())
      if (!c.shape.empty()) out["arrays"][d->name][c.name] = fmt::format("{}[{}]", c.hdf5_type, fmt::join(c.shape, ","));
    image = image || d->images;
  }
  for (auto& ix : indexes)
    if (ix->index.contains(id)) {
      found = true;
      out["found_in"].push_back(ix->name);
      if (!out.contains("ra")) {
        int64_t r = ix->index.row(id);
        out["ra"] = ix->index.ra()[r], out["dec"] = ix->index.dec()[r];
      }
    }
  if (!found) fail_not_found("object '{}' is in none of the served datasets and indexes", id);
  out["links"] = {{"self", "/v1/objects/" + url_escape(id)}};
  if (image) out["links"]["cutout"] = "/v1/objects/" + url_escape(id) + "/cutout.png";
  reply_json(res, out);
}

void Server::Impl::handle_cutout(const httplib::Request& req, httplib::Response& res) {
  const std::string id = checked_id(req.matches[1].str(), "object id");
  int size = 128;
  if (req.has_param("size")) {
    double s = number_param(req.get_param_value("size"), "size");
    if (!(s >= 16 && s <= 512)) fail_input("size: {} is not in 16..512 pixels", s);
    size = static_cast<int>(s);
  }
  for (auto& d : data) {
    if (!d->images || !d->cat().contains(id)) continue;
    std::string png;
    {
      std::lock_guard<std::mutex> l(h5);
      std::vector<std::string> cols = {mmu::kImageArray};
      if (d->ds.has_column(mmu::kImageBand)) cols.push_back(mmu::kImageBand);
      Table t = d->lookup->get({id}, cols);
      png = cutout_png(t.at(mmu::kImageArray), t.find(mmu::kImageBand), 0, size);
    }
    res.set_header("Cache-Control", "private, max-age=3600");
    res.set_content(png, "image/png");
    return;
  }
  fail_not_found("object '{}' has no image in the served datasets", id);
}

}  // namespace astrofm
