// The outputs of `astrofm discover`: the scored catalogue (a dataset or a
// CSV file) and the report folder (ranked list, cutout grid, a page). Each
// appears whole or not at all.
#include <algorithm>
#include <filesystem>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "astrofm/discover_run.h"
#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/mmu.h"
#include "astrofm/search.h"

namespace astrofm {
namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string csv_of(const Table& t, const std::vector<int64_t>& order) {
  std::ostringstream out;
  out.precision(10);
  auto names = t.names();
  for (size_t c = 0; c < names.size(); ++c) out << (c ? "," : "") << names[c];
  out << "\n";
  for (auto i : order) {
    for (size_t c = 0; c < names.size(); ++c) {
      const auto& col = t.at(names[c]);
      out << (c ? "," : "");
      if (col.dtype == DType::String) out << col.strings[i];
      else if (col.dtype == DType::Float32 || col.dtype == DType::Float64) out << col.as_double(i);
      else out << col.as_int64(i);
    }
    out << "\n";
  }
  return out.str();
}

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '"' ? "&quot;" : std::string(1, c);
  return o;
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
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>astrofm discover: " << html_escape(method)
    << "</title><style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
       "td:nth-child(2){text-align:left;font-family:monospace}</style></head><body>\n<h1>astrofm discover: "
    << html_escape(method) << "</h1>\n<p>The " << top.size() << " highest-scoring of " << t.rows()
    << " objects (score: higher = more what was asked for). Full list: <a href=\"ranked.csv\">ranked.csv</a>.</p>\n";
  if (!images.empty()) h << "<p><img src=\"cutouts.png\" alt=\"cutouts of the top objects, best first, left to right\"></p>\n";
  h << "<table><tr><th>rank</th><th>object_id</th><th>score</th>" << (t.has("label") ? "<th>label</th>" : "") << "</tr>\n";
  for (auto i : top) {
    h << "<tr><td>" << t.at("rank").as_int64(i) << "</td><td>" << html_escape(t.at(mmu::kObjectId).strings[i]) << "</td><td>"
      << t.at("score").as_double(i) << "</td>";
    if (t.has("label")) h << "<td>" << t.at("label").as_int64(i) << "</td>";
    h << "</tr>\n";
  }
  h << "</table></body></html>\n";
  write_file_atomic(tmp / "index.html", h.str());
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
