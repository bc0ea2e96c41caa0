// The outputs of `astrofm discover`: the scored catalogue (a dataset or a
// CSV file) and the report folder (ranked list, cutout grid, a page). Each
// appears whole or not at all.
#include <algorithm>
#include <filesystem>
#include <numeric>

#include <nlohmann/json.hpp>

#include "astrofm/csv.h"
#include "astrofm/discover_run.h"
#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/mmu.h"
#include "astrofm/search.h"
#include "astrofm/vega.h"

namespace astrofm {
namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// RFC 4180: a field holding a comma, quote or line break is quoted, its quotes doubled.
std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string q = "\"";
  for (char ch : v) {
    if (ch == '"') q += '"';
    q += ch;
  }
  q += '"';
  return q;
}

std::string csv_of(const Table& t, const std::vector<int64_t>& order) {
  std::string out;
  const auto names = t.names();
  for (size_t c = 0; c < names.size(); ++c) {
    if (c) out += ',';
    out += csv_field(names[c]);
  }
  out += '\n';
  for (auto i : order) {
    for (size_t c = 0; c < names.size(); ++c) {
      if (c) out += ',';
      out += csv_field(csv_cell(t.at(names[c]), i));
    }
    out += '\n';
  }
  return out;
}

// The report folder, written beside its final place and renamed into it.
void write_report(const DiscoverOutput& o, const Table& t, const std::vector<int64_t>& top, const std::string& method,
                  const std::string& images) {
  fs::path dir(o.report), tmp = dir.string() + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  write_file_atomic(tmp / "ranked.csv", csv_of(t, top));
  std::vector<std::string> ids;
  for (auto i : top) ids.push_back(t.at(mmu::kObjectId).strings[i]);
  if (!images.empty()) write_file_atomic(tmp / "cutouts.png", cutout_grid_png(images, ids, {.cell = 96, .columns = 10}));
  using vega::escape_html;
  vega::Page page("astrofm discover: " + method);
  page.html("<h1>astrofm discover: " + escape_html(method) + "</h1>\n<p>The " + std::to_string(top.size()) + " highest-scoring of " +
            std::to_string(t.rows()) + " objects (higher = more what was asked for). Every object: <a href=\"ranked.csv\">ranked.csv</a> "
            "holds the top ones; the full catalogue is the --out output.</p>\n");
  // The scores of every object, with where the top ones start.
  const auto& sc = t.at("score");
  std::vector<double> all(sc.rows);
  for (int64_t i = 0; i < sc.rows; ++i) all[i] = sc.as_double(i);
  auto [lo, hi] = std::minmax_element(all.begin(), all.end());
  const int nb = 40;
  std::vector<double> edges, counts(nb, 0);
  for (int k = 0; k <= nb; ++k) edges.push_back(*lo + (*hi - *lo) * k / nb);
  for (double v : all) counts[std::clamp(static_cast<int>((v - *lo) / std::max(*hi - *lo, 1e-300) * nb), 0, nb - 1)] += 1;
  page.figure(vega::histogram(edges, counts, "score", "objects", "Scores of all " + std::to_string(all.size()) + " objects"),
              "How the scores spread: the objects worth a look sit in the right-hand tail.");
  if (!images.empty())
    page.html("<h2>The top objects</h2><p><img src=\"cutouts.png\" alt=\"cutouts of the top objects, best first, left to right\"></p>\n");
  std::string table = "<table><tr><th>rank</th><th>object_id</th><th>score</th>" + std::string(t.has("label") ? "<th>label</th>" : "") + "</tr>\n";
  for (auto i : top) {
    table += fmt::format("<tr><td>{}</td><td>{}</td><td>{:.4g}</td>", t.at("rank").as_int64(i), escape_html(t.at(mmu::kObjectId).strings[i]),
                         t.at("score").as_double(i));
    if (t.has("label")) table += fmt::format("<td>{}</td>", t.at("label").as_int64(i));
    table += "</tr>\n";
  }
  page.html(table + "</table>\n");
  page.write(tmp);
  if (fs::exists(dir)) fs::remove_all(dir);
  fs::rename(tmp, dir);
}

}  // namespace

nlohmann::json write_discovery(const DiscoverOutput& o, const Table& rows, const std::vector<double>& scores,
                               const std::vector<int8_t>& labels, const std::string& method, const std::string& data,
                               bool data_has_images) {
  const int64_t n = rows.rows();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  std::vector<int64_t> rank(n);
  for (int64_t r = 0; r < n; ++r) rank[order[r]] = r + 1;
  Table t;
  for (const auto& k : {mmu::kObjectId, mmu::kRa, mmu::kDec})
    if (rows.has(k)) t.add(rows.at(k));
  t.add(make_column<double>("score", scores));
  t.add(make_column<int64_t>("rank", rank));
  const bool any_label = std::any_of(labels.begin(), labels.end(), [](int8_t l) { return l >= 0; });
  std::vector<int64_t> next;
  if (any_label) t.add(make_column<int8_t>("label", labels));
  if (o.suggest > 0) {
    next = next_to_label(scores, labels, o.suggest, o.acquisition);
    std::vector<int8_t> s(n, 0);
    for (auto i : next) s[i] = 1;
    t.add(make_column<int8_t>("suggested", s));
  }
  // Images for the cutouts: named, or the data itself.
  std::string images = !o.images.empty() ? o.images : data_has_images ? data : "";
  if (!o.images.empty() && !Dataset::open(o.images).has_column(mmu::kImageArray))
    fail_input("{}: no image_array column for the cutouts (--images)", o.images);
  std::vector<int64_t> top(order.begin(), order.begin() + std::min(o.top, n));
  if (!o.out.empty() && !ends_with(o.out, ".csv") && (!rows.has(mmu::kRa) || !rows.has(mmu::kDec)))
    fail_input("{}: an output dataset needs ra and dec in the input (write a .csv)", data);
  // The report first: drawing cutouts is what can still fail on bad input.
  if (!o.report.empty()) write_report(o, t, top, method, images);
  if (!o.out.empty()) {
    if (ends_with(o.out, ".csv")) {
      write_file_atomic(o.out, csv_of(t, order));
    } else {
      WriteOptions wo;
      wo.overwrite = o.overwrite;
      wo.format = parse_out_format(o.format);
      if (wo.format == "hats") wo.hats_partitions = partitions_of(Dataset::open(data));
      DatasetWriter w(o.out, "discovery", wo);
      w.set_attribute("method", method);
      w.set_attribute("source", data);
      w.append(t);
      w.commit();
    }
  }
  nlohmann::json res = {{"objects", n}, {"method", method}, {"top", nlohmann::json::array()}, {"suggested", nlohmann::json::array()}};
  for (auto i : top) res["top"].push_back({{"object_id", t.at(mmu::kObjectId).strings[i]}, {"score", scores[i]}});
  for (auto i : next) res["suggested"].push_back({{"object_id", t.at(mmu::kObjectId).strings[i]}, {"score", scores[i]}});
  return res;
}

}  // namespace astrofm
