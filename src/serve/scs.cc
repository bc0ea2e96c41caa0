// IVOA Simple Cone Search 1.03 at /scs/NAME over a served index or dataset
// (VOTable writing in votable.cc).
#include <cmath>

#include "astrofm/sky.h"
#include "server_impl.h"
#include "votable.h"

namespace astrofm {

void Server::Impl::handle_scs(const httplib::Request& req, httplib::Response& res) {
  std::string name = req.matches[1];
  auto votable = [&](const std::string& body, int status) {
    res.status = status;
    res.set_content(body, "text/xml;content=x-votable");
  };
  // DALI: parameter names are case-insensitive.
  auto param = [&](const char* key) -> std::optional<std::string> {
    for (const auto& [k, v] : req.params) {
      std::string u = k;
      for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (u == key) return v;
    }
    return std::nullopt;
  };
  IndexEntry* ix = nullptr;
  DataEntry* de = dataset(name);
  for (auto& i : indexes)
    if (i->name == name) ix = i.get();
  if (!ix && !de) return votable(serve::votable_error("no cone search '" + name + "' on this server"), 404);
  double ra, dec, sr;
  int verb = 2;
  try {
    auto need = [&](const char* k) {
      auto v = param(k);
      if (!v) fail_input("{} is required (RA, DEC, SR in decimal degrees)", k);
      return number_param(*v, k);
    };
    ra = need("RA"), dec = need("DEC"), sr = need("SR");
    if (!(ra >= 0 && ra <= 360)) fail_input("RA {} is not in 0..360", ra);
    if (!(dec >= -90 && dec <= 90)) fail_input("DEC {} is not in -90..90", dec);
    if (!(sr >= 0 && sr <= 180)) fail_input("SR {} is not in 0..180", sr);
    if (auto v = param("VERB")) {
      double vb = number_param(*v, "VERB");
      if (vb == 1 || vb == 2 || vb == 3) verb = static_cast<int>(vb);
    }
  } catch (const InputError& e) {
    return votable(serve::votable_error(e.what()), 400);
  }
  const Catalogue& cat = ix ? ix->index.catalogue() : de->cat();
  const std::vector<std::string>& ids = cat.ids();
  const std::vector<double>& ras = cat.ra();
  const std::vector<double>& decs = cat.dec();
  std::string source = ix ? ix->dataset : de->ds.path();
  std::vector<int64_t> rows;
  std::vector<float> scores;
  auto like = param("LIKE");
  int64_t maxrec = 10000;
  if (auto v = param("MAXREC")) {
    try {
      double m = number_param(*v, "MAXREC");
      if (!(m >= 0 && m == std::floor(m))) fail_input("MAXREC {} is not a whole number >= 0", m);
      maxrec = std::min<int64_t>(static_cast<int64_t>(m), verb == 3 ? 10000 : 100000);  // VERB=3 rows are wide
    } catch (const InputError& e) {
      return votable(serve::votable_error(e.what()), 400);
    }
  }
  bool overflow = false;
  if (sr > 0 && maxrec > 0) {  // SR=0 or MAXREC=0: metadata only
    if (like) {
      if (!ix) return votable(serve::votable_error("LIKE needs a similarity index; '" + name + "' is a dataset"), 400);
      double k = 10;
      try {
        if (auto v = param("K")) k = number_param(*v, "K");
        if (!(k >= 1 && k <= 1000 && k == std::floor(k))) fail_input("K {} is not a whole number in 1..1000", k);
        checked_id(*like, "LIKE");
        if (!ix->index.contains(*like)) fail_not_found("LIKE: object '{}' is not in '{}'", *like, name);
        SearchRequest r{.id = *like, .k = static_cast<int>(k), .cone = std::array<double, 3>{ra, dec, sr}};
        for (const auto& h : ix->index.search(r)) rows.push_back(h.row), scores.push_back(h.score);
      } catch (const InputError& e) {
        return votable(serve::votable_error(e.what()), e.kind() == ErrorKind::NotFound ? 404 : 400);
      }
    } else {
      std::vector<std::pair<double, int64_t>> hit;
      for (int64_t i : cat.cone(ra, dec, sr)) hit.emplace_back(sky::separation_deg(ra, dec, ras[i], decs[i]), i);
      std::sort(hit.begin(), hit.end());
      if (static_cast<int64_t>(hit.size()) > maxrec) hit.resize(maxrec), overflow = true;
      for (auto& [s, i] : hit) rows.push_back(i);
    }
  }
  // Columns: the three required, the separation, then (VERB >= 2) the catalogue's scalar columns.
  std::vector<serve::VoField> fields = {
      {mmu::kObjectId, "char", "*", "ID_MAIN", "", "object identifier"},
      {mmu::kRa, "double", "", "POS_EQ_RA_MAIN", "deg", "right ascension (ICRS)"},
      {mmu::kDec, "double", "", "POS_EQ_DEC_MAIN", "deg", "declination (ICRS)"},
      {"separation", "double", "", "", "deg", "distance from the cone's centre"}};
  if (like)
    fields.push_back({"score", "float", "", "", "", ix->index.meta()["options"].value("metric", "cosine") == "l2"
                                                         ? "squared L2 distance to the LIKE object (lower is closer)"
                                                         : "cosine similarity to the LIKE object (higher is closer)"});
  Table t;
  std::vector<std::string> sel_ids;
  std::vector<double> sel_ra, sel_dec, sep;
  for (int64_t i : rows)
    sel_ids.push_back(ids[i]), sel_ra.push_back(ras[i]), sel_dec.push_back(decs[i]), sep.push_back(sky::separation_deg(ra, dec, ras[i], decs[i]));
  t.add(make_string_column(mmu::kObjectId, sel_ids));
  t.add(make_column(mmu::kRa, sel_ra));
  t.add(make_column(mmu::kDec, sel_dec));
  t.add(make_column("separation", sep));
  if (like) t.add(make_column("score", scores));
  if (verb >= 2) {
    std::lock_guard<std::mutex> l(h5);
    Dataset ds = de ? de->ds : ix->catalogue->ds;
    std::vector<std::string> cols;
    for (const auto& c : ds.schema())
      if (c.name != mmu::kObjectId && c.name != mmu::kRa && c.name != mmu::kDec && c.name != mmu::kHealpix &&
          (c.shape.empty() || (verb == 3 && c.shape.size() == 1 && c.shape[0] <= 1024)))
        cols.push_back(c.name);
    if (!cols.empty()) {
      Table extra;
      if (!sel_ids.empty()) {
        if (de) extra = de->lookup->get(sel_ids, cols);
        else extra = ix->catalogue->lookup->get(sel_ids, cols);
      } else {  // metadata only: the schema's types with no rows
        for (const auto& c : ds.schema())
          if (std::find(cols.begin(), cols.end(), c.name) != cols.end()) extra.add(Column(c.name, c.dtype, c.shape, 0));
      }
      for (auto& c : extra.columns()) {
        serve::VoField f;
        if (!serve::vo_field_of(c, &f)) continue;
        fields.push_back(f);
        t.add(std::move(c));
      }
    }
  }
  std::string desc = fmt::format("astrofm cone search '{}' over {} ({} objects)", name, source, ids.size());
  votable(serve::votable_results(desc, fields, &t, overflow), 200);
}


}  // namespace astrofm
