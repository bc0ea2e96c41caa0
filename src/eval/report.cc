#include "astrofm/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "astrofm/fsutil.h"
#include "astrofm/metrics.h"
#include "astrofm/vega.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

using vega::escape_html;

std::string metrics_table(const nlohmann::json& m) {
  std::string h = "<table>";
  for (auto& [k, v] : m.items())
    if (v.is_number())
      h += fmt::format("<tr><th>{}</th><td>{}</td></tr>", escape_html(k), v.is_number_float() ? fmt::format("{:.4f}", v.get<double>()) : v.dump());
  return h + "</table>\n";
}

// A column as a reader names it: token columns by their modality ("tok_z" -> "z").
std::string display_name(const std::string& c) { return c.rfind("tok_", 0) == 0 ? c.substr(4) : c; }

// A list of column names as words ("mag_u, mag_g"), not a JSON array.
std::string names(const nlohmann::json& j) {
  if (!j.is_array()) return j.is_string() ? display_name(j.get<std::string>()) : j.dump();
  std::string s;
  for (const auto& v : j) s += (s.empty() ? "" : ", ") + (v.is_string() ? display_name(v.get<std::string>()) : v.dump());
  return s;
}

// Predicted vs true, and (predicted - true) / (1 + true) vs true.
void regression_figures(vega::Page& page, const std::string& target, const std::vector<double>& t, const std::vector<double>& p) {
  page.figure(vega::scatter(t, p, "true " + target, "predicted " + target, "Predicted against true " + target, {{1, 0, "1:1"}}, true),
              "Each object's prediction against its true value (a density of objects when there are many); dashed: the 1:1 line.");
  std::vector<double> dz(t.size());
  for (size_t i = 0; i < t.size(); ++i) dz[i] = (p[i] - t[i]) / (1 + t[i]);
  page.figure(vega::scatter(t, dz, "true " + target, "(predicted - true) / (1 + true)", "Scaled error against true " + target,
                            {{0, 0, "0", "#222222"}, {0, 0.15, "+0.15 (outlier)"}, {0, -0.15, "-0.15 (outlier)"}}),
              "The scaled error; an object beyond the dashed lines at &plusmn;0.15 counts as an outlier.");
}

void pit_section(vega::Page& page, const nlohmann::json& prob, const std::vector<double>& pit) {
  page.html("<h2>Predictive distribution</h2>\n" + metrics_table(prob));
  page.figure(pit_histogram(pit), "PIT histogram: the predictive CDF at the truth, in 10 bins as a density; flat at 1 (dashed) when calibrated, "
                                  "U-shaped when too narrow, peaked when too wide.");
}

// Reports are built in <dir>.partial and renamed, so a report is never half there.
fs::path begin_report(const std::string& dir) {
  fs::path tmp = dir + ".partial";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  return tmp;
}

void finish_report(const fs::path& tmp, const std::string& dir) {
  fs::remove_all(dir);
  fs::rename(tmp, dir);
}

}  // namespace

nlohmann::json pit_histogram(const std::vector<double>& pit) {
  std::vector<double> edges, heights;
  std::vector<int64_t> h(10, 0);
  for (double p : pit) ++h[std::min<size_t>(9, static_cast<size_t>(std::clamp(p, 0.0, 1.0) * 10))];
  for (int k = 0; k <= 10; ++k) edges.push_back(k / 10.0);
  for (int k = 0; k < 10; ++k) heights.push_back(pit.empty() ? 0 : h[k] * 10.0 / pit.size());
  return vega::histogram(edges, heights, "PIT (predictive CDF at the truth)", "density", "PIT histogram", 1.0);
}

void write_probe_report(const std::string& dir, const nlohmann::json& r, const std::vector<double>& t, const std::vector<double>& p,
                        const std::vector<double>& pit) {
  fs::path tmp = begin_report(dir);
  bool cls = r["task"] == "classification";
  vega::Page page("astrofm probe report");
  page.html(fmt::format("<h1>astrofm probe: {} on {}</h1>\n<p>target <b>{}</b> ({}); train {} ({} labelled, {} used); test {} ({} scored)</p>\n",
                        escape_html(r["probe"]), escape_html(names(r["features"])), escape_html(r["target"]), escape_html(r["task"]),
                        escape_html(r["train"]), r["train_labelled"].get<int64_t>(), r["metrics"]["labels_used"].get<int64_t>(),
                        escape_html(r["test"]), r["test_scored"].get<int64_t>()));
  page.html("<h2>Metrics (first run)</h2>\n" + metrics_table(r["metrics"]));
  const std::string target = r["target"].get<std::string>();
  if (cls) {
    auto conf = r["metrics"]["confusion"].get<std::vector<std::vector<long>>>();
    auto cn = r["classes"].get<std::vector<std::string>>();
    std::string per;
    for (auto& [k, v] : r["metrics"]["f1"].items()) per += fmt::format("{} {:.3f}; ", escape_html(k), v.get<double>());
    page.figure(vega::heatmap(conf, cn, "predicted " + target, "true " + target, "Confusion matrix"),
                "Rows: the true class; columns: the predicted one; colour: the fraction of the true class; numbers: objects. Per-class F1: " + per);
  } else if (!t.empty()) {
    regression_figures(page, target, t, p);
    if (!pit.empty() && r["metrics"].contains("probabilistic")) pit_section(page, r["metrics"]["probabilistic"], pit);
  }
  const auto& curve = r["curve"];
  if (curve.size() > 1) {
    std::string key = cls ? "macro_f1" : "r2";
    vega::Series s{r["probe"].get<std::string>(), {}, {}, {}};
    for (const auto& pt : curve) {
      double n = pt["labels"].get<int64_t>();
      if (n <= 0) n = pt["runs"][0]["labels_used"].get<int64_t>() / (pt["per_class"].get<bool>() ? std::max<size_t>(1, r.value("classes", nlohmann::json::array()).size()) : 1);
      s.x.push_back(n), s.y.push_back(pt["mean"][key]), s.err.push_back(pt["std"][key]);
    }
    const bool per_class = curve[0]["per_class"].get<bool>();
    page.figure(vega::lines({s}, per_class ? "labels per class" : "labels", key == "r2" ? "R²" : "macro F1", "Label efficiency", true),
                fmt::format("{} against the number of labels (log), mean and standard deviation over {} seeds.", key, curve[0]["runs"].size()));
    std::string table = "<table><tr><th>labels</th><th>mean</th><th>std</th></tr>";
    for (size_t i = 0; i < s.x.size(); ++i) table += fmt::format("<tr><td>{}</td><td>{:.4f}</td><td>{:.4f}</td></tr>", s.x[i], s.y[i], s.err[i]);
    page.html(table + "</table>\n");
  }
  page.html("<h2>Settings and fit</h2><pre>" + escape_html(r["metrics"]["fit"].dump(1)) + "</pre>\n");
  page.write(tmp);
  write_file_atomic(tmp / "result.json", r.dump(1));
  finish_report(tmp, dir);
}

void write_generate_report(const std::string& dir, const nlohmann::json& m, const std::vector<double>& t, const std::vector<double>& med,
                           const std::vector<double>& pit, const std::string& tool) {
  fs::path tmp = begin_report(dir);
  const std::string target = display_name(m.value("target", ""));
  vega::Page page(tool + " report");
  std::string from = names(m.value("from", nlohmann::json()));
  page.html(fmt::format("<h1>{}: {}{}</h1>\n<p>{} objects; truth: {}</p>\n", escape_html(tool), escape_html(target),
                        from.empty() ? "" : " from " + escape_html(from), m.value("objects", 0), escape_html(m.value("truth", ""))));
  if (m.contains("mode")) page.html("<h2>Mode of the predictive distribution</h2>\n" + metrics_table(m["mode"]));
  if (m.contains("median")) page.html("<h2>Median of the predictive distribution</h2>\n" + metrics_table(m["median"]));
  if (m.contains("mean")) page.html("<h2>Mean</h2>\n" + metrics_table(m["mean"]));
  if (!t.empty()) regression_figures(page, target, t, med);
  pit_section(page, m, pit);
  page.write(tmp);
  write_file_atomic(tmp / "metrics.json", m.dump(2));
  finish_report(tmp, dir);
}

}  // namespace astrofm
