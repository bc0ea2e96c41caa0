#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "astrofm/fsutil.h"
#include "astrofm/metrics.h"
#include "eval/plot.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

std::string figure(const std::string& png, const std::string& caption) {
  return fmt::format("<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>\n", png, esc(caption), caption);
}

std::string metrics_table(const nlohmann::json& m) {
  std::string h = "<table>";
  for (auto& [k, v] : m.items())
    if (v.is_number()) h += fmt::format("<tr><th>{}</th><td>{}</td></tr>", esc(k), v.is_number_float() ? fmt::format("{:.4f}", v.get<double>()) : v.dump());
  return h + "</table>\n";
}

// Predicted vs true and dz vs true densities, as two figures in `dir`; returns their HTML.
std::string regression_figures(const fs::path& dir, const std::string& target, const std::vector<double>& t, const std::vector<double>& p) {
  std::string body;
  double lo = std::min(*std::min_element(t.begin(), t.end()), *std::min_element(p.begin(), p.end()));
  double hi = std::max(*std::max_element(t.begin(), t.end()), *std::max_element(p.begin(), p.end()));
  auto ax = plot::nice_axis(lo, hi);
  plot::Chart c(520, 520, ax, ax);
  c.density(t, p);
  c.line(ax.lo, ax.lo, ax.hi, ax.hi, 0xd62728);
  c.write_png((dir / "pred_vs_true.png").string());
  body += figure("pred_vs_true.png", fmt::format("Predicted (vertical) against true {} (horizontal), log density of objects; red: the 1:1 line.", esc(target)));
  std::vector<double> dz(t.size());
  for (size_t i = 0; i < t.size(); ++i) dz[i] = (p[i] - t[i]) / (1 + t[i]);
  plot::Chart d(640, 360, plot::nice_axis(*std::min_element(t.begin(), t.end()), *std::max_element(t.begin(), t.end())), {-0.3, 0.3});
  d.density(t, dz);
  for (double e : {0.0, 0.05, -0.05, 0.15, -0.15})
    d.line(d.x_axis().lo, e, d.x_axis().hi, e, e == 0 ? 0x222222 : std::abs(e) < 0.1 ? 0xff7f0e : 0xd62728);
  d.write_png((dir / "dz_vs_z.png").string());
  body += figure("dz_vs_z.png", fmt::format("(predicted - true) / (1 + true) against true {}; lines at 0, &plusmn;0.05 (orange) and &plusmn;0.15 (red), the outlier thresholds.", esc(target)));
  return body;
}

std::string pit_section(const fs::path& dir, const nlohmann::json& prob, const std::vector<double>& pit) {
  pit_figure(pit, (dir / "pit.png").string());
  return "<h2>Predictive distribution</h2>\n" + metrics_table(prob) +
         figure("pit.png", "PIT histogram: the predictive CDF at the truth, in 10 bins as a density; flat at 1 (grey) when calibrated, "
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

std::string page(const std::string& title, const std::string& body) {
  return "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + title + "</title><style>"
         "body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}figure{display:inline-block;margin:1em}"
         "figcaption{max-width:620px;font-size:90%}</style></head><body>\n" + body + "</body></html>\n";
}

}  // namespace

void pit_figure(const std::vector<double>& pit, const std::string& path) {
  std::vector<double> x, y;
  std::vector<int64_t> h(10, 0);
  for (double p : pit) ++h[std::min<size_t>(9, static_cast<size_t>(p * 10))];
  double top = 0;
  for (int k = 0; k < 10; ++k) {
    double d = pit.empty() ? 0 : h[k] * 10.0 / pit.size();
    x.push_back(k / 10.0), y.push_back(d), x.push_back((k + 1) / 10.0), y.push_back(d);
    top = std::max(top, d);
  }
  plot::Chart ch(480, 320, {0, 1}, plot::nice_axis(0, std::max(2.0, top * 1.1)));
  ch.line(0, 1, 1, 1, 0x9a9a9a);  // a calibrated model: flat at 1
  ch.polyline(x, y, 0x1f77b4);
  ch.write_png(path);
}

void write_probe_report(const std::string& dir, const nlohmann::json& r, const std::vector<double>& t, const std::vector<double>& p,
                        const std::vector<double>& pit) {
  fs::path tmp = begin_report(dir);
  bool cls = r["task"] == "classification";
  std::string body = fmt::format("<h1>astrofm probe: {} on {}</h1>\n<p>target <b>{}</b> ({}); train {} ({} labelled, {} used); test {} ({} scored)</p>\n",
                                 esc(r["probe"]), esc(r["features"].dump()), esc(r["target"]), esc(r["task"]), esc(r["train"]),
                                 r["train_labelled"].get<int64_t>(), r["metrics"]["labels_used"].get<int64_t>(), esc(r["test"]),
                                 r["test_scored"].get<int64_t>());
  body += "<h2>Metrics (first run)</h2>\n" + metrics_table(r["metrics"]);
  if (cls) {
    auto conf = r["metrics"]["confusion"].get<std::vector<std::vector<long>>>();
    std::vector<std::vector<double>> frac;
    for (auto& row : conf) {
      double s = 0;
      for (long c : row) s += c;
      std::vector<double> f;
      for (long c : row) f.push_back(s > 0 ? c / s : 0);
      frac.push_back(f);
    }
    plot::heatmap(frac, conf, (tmp / "confusion.png").string());
    std::string names;
    auto cn = r["classes"].get<std::vector<std::string>>();
    for (size_t k = 0; k < cn.size(); ++k) names += fmt::format("{}{} = {}", k ? ", " : "", k, esc(cn[k]));
    std::string per;
    for (auto& [k, v] : r["metrics"]["f1"].items()) per += fmt::format("{} {:.3f}; ", esc(k), v.get<double>());
    body += figure("confusion.png", "Confusion matrix: rows true class, columns predicted, colour the row fraction, numbers the counts (classes top to bottom and left to right: " + names + "). Per-class F1: " + per);
  } else if (!t.empty()) {
    body += regression_figures(tmp, r["target"].get<std::string>(), t, p);
    if (!pit.empty() && r["metrics"].contains("probabilistic")) body += pit_section(tmp, r["metrics"]["probabilistic"], pit);
  }
  const auto& curve = r["curve"];
  if (curve.size() > 1) {
    std::string key = cls ? "macro_f1" : "r2";
    std::vector<double> x, y, e;
    for (const auto& pt : curve) {
      double n = pt["labels"].get<int64_t>();
      if (n <= 0) n = pt["runs"][0]["labels_used"].get<int64_t>() / (pt["per_class"].get<bool>() ? std::max<size_t>(1, r.value("classes", nlohmann::json::array()).size()) : 1);
      x.push_back(n);
      y.push_back(pt["mean"][key]);
      e.push_back(pt["std"][key]);
    }
    double ylo = 1e9, yhi = -1e9;
    for (size_t i = 0; i < y.size(); ++i) ylo = std::min(ylo, y[i] - e[i]), yhi = std::max(yhi, y[i] + e[i]);
    plot::Chart c(640, 400, plot::nice_axis(*std::min_element(x.begin(), x.end()), *std::max_element(x.begin(), x.end()), true),
                  plot::nice_axis(ylo, yhi));
    c.error_bars(x, y, e, 0x1f77b4);
    c.polyline(x, y, 0x1f77b4);
    c.write_png((tmp / "label_efficiency.png").string());
    body += figure("label_efficiency.png", fmt::format("Label efficiency: {} (vertical) against the number of labels{} (horizontal, log), mean and standard deviation over {} seeds.",
                                                       key, curve[0]["per_class"].get<bool>() ? " per class" : "", curve[0]["runs"].size()));
    body += "<table><tr><th>labels</th><th>mean</th><th>std</th></tr>";
    for (size_t i = 0; i < x.size(); ++i) body += fmt::format("<tr><td>{}</td><td>{:.4f}</td><td>{:.4f}</td></tr>", x[i], y[i], e[i]);
    body += "</table>\n";
  }
  body += "<h2>Settings and fit</h2><pre>" + esc(r["metrics"]["fit"].dump(1)) + "</pre>\n";
  std::string html = page("astrofm probe report", body);
  write_file_atomic(tmp / "index.html", html);
  write_file_atomic(tmp / "result.json", r.dump(1));
  finish_report(tmp, dir);
}

void write_generate_report(const std::string& dir, const nlohmann::json& m, const std::vector<double>& t, const std::vector<double>& med,
                           const std::vector<double>& pit, const std::string& tool) {
  fs::path tmp = begin_report(dir);
  const std::string target = m.value("target", "");
  std::string body = fmt::format("<h1>{}: {} from {}</h1>\n<p>{} objects; truth: {}</p>\n", esc(tool), esc(target), esc(m.value("from", nlohmann::json()).dump()),
                                 m.value("objects", 0), esc(m.value("truth", "")));
  if (m.contains("mode")) body += "<h2>Mode of the predictive distribution</h2>\n" + metrics_table(m["mode"]);
  if (m.contains("median")) body += "<h2>Median of the predictive distribution</h2>\n" + metrics_table(m["median"]);
  if (m.contains("mean")) body += "<h2>Mean</h2>\n" + metrics_table(m["mean"]);
  if (!t.empty()) body += regression_figures(tmp, target, t, med);
  body += pit_section(tmp, m, pit);
  write_file_atomic(tmp / "index.html", page(tool + " report", body));
  write_file_atomic(tmp / "metrics.json", m.dump(2));
  finish_report(tmp, dir);
}

}  // namespace astrofm
