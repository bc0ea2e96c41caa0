#pragma once
// Report figures as Vega-Lite specifications, drawn in the browser by
// vega-embed (axis titles with units, legends, colour bars, tooltips, and
// PNG/SVG export from each figure's menu). Vega, Vega-Lite and vega-embed
// come from npm (third_party/vega) and are compiled into the binary
// (cmake/embed_vega.cmake); a report folder gets its own copies, so it opens
// offline from disk. Torch-free.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm::vega {

struct Script {
  const char* name;  // vega.min.js, vega-lite.min.js, vega-embed.min.js, vega-interpreter.min.js (load order)
  const char* data;
  size_t size;
};
std::span<const Script> scripts();

using json = nlohmann::json;

struct Line {  // a reference line y = slope x + intercept across the plot
  double slope = 0, intercept = 0;
  std::string label, colour = "#d62728";
};

// Points with a tooltip each when few (<= max_points), else their density
// as 2-D bins coloured by a logarithmic count with a colour bar. same_axes:
// one range for both axes (predicted against true).
json scatter(const std::vector<double>& x, const std::vector<double>& y, const std::string& x_title, const std::string& y_title,
             const std::string& title, const std::vector<Line>& lines = {}, bool same_axes = false, size_t max_points = 4000,
             const std::vector<std::string>& labels = {});
// A histogram of precomputed bins [edges.size() - 1] as bars, with an optional horizontal reference.
json histogram(const std::vector<double>& edges, const std::vector<double>& heights, const std::string& x_title,
               const std::string& y_title, const std::string& title, double reference = NAN);
// A row-normalised matrix (fraction in colour, counts written in the cells).
json heatmap(const std::vector<std::vector<long>>& counts, const std::vector<std::string>& names, const std::string& x_title,
             const std::string& y_title, const std::string& title);
// Named series of (x, y) lines; `err` (optional, per series) draws error bars.
struct Series {
  std::string name;
  std::vector<double> x, y, err;
};
json lines(const std::vector<Series>& s, const std::string& x_title, const std::string& y_title, const std::string& title,
           bool log_x = false);

// An HTML page of sections and figures, written with the three scripts beside it.
class Page {
 public:
  explicit Page(std::string title) : title_(std::move(title)) {}
  void html(const std::string& fragment) { body_ += fragment; }
  void figure(const json& spec, const std::string& caption);
  // index.html and the scripts into `dir` (which must exist).
  void write(const std::filesystem::path& dir) const;

 private:
  std::string title_, body_;
  std::vector<json> specs_;
};

std::string escape_html(const std::string& s);

}  // namespace astrofm::vega
