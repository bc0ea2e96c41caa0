// Vega-Lite specifications for report figures, and the page that embeds them (vega.h).
#include "astrofm/vega.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "astrofm/fsutil.h"

namespace astrofm::vega {
namespace {

const char* kSchema = "https://vega.github.io/schema/vega-lite/v5.json";

json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json base(const std::string& title, int width, int height) {
  return {{"$schema", kSchema}, {"title", {{"text", title}, {"anchor", "start"}, {"fontSize", 14}}}, {"width", width},
          {"height", height}, {"config", {{"axis", {{"labelFontSize", 11}, {"titleFontSize", 12}}}}}};
}

// [lo, hi] of the finite values, widened when flat.
std::pair<double, double> range(const std::vector<double>& a, const std::vector<double>& b = {}) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto* v : {&a, &b})
    for (double x : *v)
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  if (!(lo < hi)) lo = std::isfinite(lo) ? lo - 0.5 : 0, hi = std::isfinite(hi) ? hi + 0.5 : 1;
  return {lo, hi};
}

}  // namespace

std::string escape_html(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '"' ? "&quot;" : std::string(1, c);
  return o;
}

json scatter(const std::vector<double>& x, const std::vector<double>& y, const std::string& x_title, const std::string& y_title,
             const std::string& title, const std::vector<Line>& lines, bool same_axes, size_t max_points,
             const std::vector<std::string>& labels) {
  json s = base(title, 460, 400);
  auto [xlo, xhi] = same_axes ? range(x, y) : range(x);
  auto [ylo, yhi] = same_axes ? range(x, y) : range(y);
  json layers = json::array();
  if (x.size() <= max_points) {
    json values = json::array();
    for (size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
      json v = {{"x", x[i]}, {"y", y[i]}};
      if (i < labels.size()) v["id"] = labels[i];
      values.push_back(std::move(v));
    }
    json tooltip = json::array({{{"field", "x"}, {"type", "quantitative"}, {"title", x_title}, {"format", ".4g"}},
                                {{"field", "y"}, {"type", "quantitative"}, {"title", y_title}, {"format", ".4g"}}});
    if (!labels.empty()) tooltip.insert(tooltip.begin(), {{"field", "id"}, {"type", "nominal"}, {"title", "object_id"}});
    layers.push_back({{"data", {{"values", values}}},
                      {"mark", {{"type", "point"}, {"filled", true}, {"size", 14}, {"opacity", 0.6}}},
                      {"encoding", {{"x", {{"field", "x"}, {"type", "quantitative"}, {"title", x_title}, {"scale", {{"domain", {xlo, xhi}}, {"nice", true}}}}},
                                    {"y", {{"field", "y"}, {"type", "quantitative"}, {"title", y_title}, {"scale", {{"domain", {ylo, yhi}}, {"nice", true}}}}},
                                    {"tooltip", tooltip}}}});
  } else {
    // 2-D bins counted here: the page carries at most 80 x 80 cells, not every object.
    const int nb = 80;
    std::vector<long> count(nb * nb, 0);
    for (size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
      int bx = std::clamp(static_cast<int>((x[i] - xlo) / (xhi - xlo) * nb), 0, nb - 1);
      int by = std::clamp(static_cast<int>((y[i] - ylo) / (yhi - ylo) * nb), 0, nb - 1);
      ++count[by * nb + bx];
    }
    json values = json::array();
    for (int by = 0; by < nb; ++by)
      for (int bx = 0; bx < nb; ++bx)
        if (long c = count[by * nb + bx])
          values.push_back({{"x0", xlo + (xhi - xlo) * bx / nb}, {"x1", xlo + (xhi - xlo) * (bx + 1) / nb},
                            {"y0", ylo + (yhi - ylo) * by / nb}, {"y1", ylo + (yhi - ylo) * (by + 1) / nb}, {"n", c}});
    layers.push_back({{"data", {{"values", values}}},
                      {"mark", "rect"},
                      {"encoding", {{"x", {{"field", "x0"}, {"type", "quantitative"}, {"title", x_title}, {"scale", {{"domain", {xlo, xhi}}}}}},
                                    {"x2", {{"field", "x1"}}},
                                    {"y", {{"field", "y0"}, {"type", "quantitative"}, {"title", y_title}, {"scale", {{"domain", {ylo, yhi}}}}}},
                                    {"y2", {{"field", "y1"}}},
                                    {"color", {{"field", "n"}, {"type", "quantitative"}, {"title", "objects per cell"},
                                               {"scale", {{"type", "log"}, {"scheme", "viridis"}}}}},
                                    {"tooltip", json::array({{{"field", "n"}, {"type", "quantitative"}, {"title", "objects"}}})}}}});
  }
  for (const auto& l : lines) {
    json v = json::array({{{"x", xlo}, {"y", l.slope * xlo + l.intercept}, {"line", l.label}},
                          {{"x", xhi}, {"y", l.slope * xhi + l.intercept}, {"line", l.label}}});
    layers.push_back({{"data", {{"values", v}}},
                      {"mark", {{"type", "line"}, {"color", l.colour}, {"strokeDash", {4, 3}}, {"clip", true}}},
                      {"encoding", {{"x", {{"field", "x"}, {"type", "quantitative"}}}, {"y", {{"field", "y"}, {"type", "quantitative"}}},
                                    {"detail", {{"field", "line"}}}, {"tooltip", {{"field", "line"}, {"title", "line"}}}}}});
  }
  s["layer"] = layers;
  return s;
}

json histogram(const std::vector<double>& edges, const std::vector<double>& heights, const std::string& x_title, const std::string& y_title,
               const std::string& title, double reference) {
  json s = base(title, 420, 260);
  json values = json::array();
  for (size_t k = 0; k + 1 < edges.size() && k < heights.size(); ++k)
    values.push_back({{"lo", edges[k]}, {"hi", edges[k + 1]}, {"h", finite_or_null(heights[k])}});
  json layers = json::array();
  layers.push_back({{"data", {{"values", values}}},
                    {"mark", {{"type", "rect"}, {"color", "#1f77b4"}, {"stroke", "white"}}},
                    {"encoding", {{"x", {{"field", "lo"}, {"type", "quantitative"}, {"title", x_title}}},
                                  {"x2", {{"field", "hi"}}},
                                  {"y", {{"field", "h"}, {"type", "quantitative"}, {"title", y_title}}},
                                  {"tooltip", json::array({{{"field", "lo"}, {"title", "from"}, {"format", ".3g"}},
                                                           {{"field", "hi"}, {"title", "to"}, {"format", ".3g"}},
                                                           {{"field", "h"}, {"title", y_title}, {"format", ".3f"}}})}}}});
  if (std::isfinite(reference))
    layers.push_back({{"data", {{"values", json::array({{{"r", reference}}})}}},
                      {"mark", {{"type", "rule"}, {"color", "#555"}, {"strokeDash", {4, 3}}}},
                      {"encoding", {{"y", {{"field", "r"}, {"type", "quantitative"}}}}}});
  s["layer"] = layers;
  return s;
}

json heatmap(const std::vector<std::vector<long>>& counts, const std::vector<std::string>& names, const std::string& x_title,
             const std::string& y_title, const std::string& title) {
  json s = base(title, 60 * static_cast<int>(std::max<size_t>(counts.size(), 3)), 60 * static_cast<int>(std::max<size_t>(counts.size(), 3)));
  json values = json::array();
  std::vector<std::string> order;
  for (size_t r = 0; r < counts.size(); ++r) {
    std::string tn = r < names.size() ? names[r] : std::to_string(r);
    order.push_back(tn);
    double total = 0;
    for (long c : counts[r]) total += c;
    for (size_t c = 0; c < counts[r].size(); ++c)
      values.push_back({{"true", tn}, {"pred", c < names.size() ? names[c] : std::to_string(c)}, {"n", counts[r][c]},
                        {"fraction", total > 0 ? counts[r][c] / total : 0.0}});
  }
  json enc = {{"x", {{"field", "pred"}, {"type", "nominal"}, {"title", x_title}, {"sort", order}}},
              {"y", {{"field", "true"}, {"type", "nominal"}, {"title", y_title}, {"sort", order}}}};
  s["data"] = {{"values", values}};
  s["encoding"] = enc;
  s["layer"] = json::array(
      {{{"mark", "rect"},
        {"encoding", {{"color", {{"field", "fraction"}, {"type", "quantitative"}, {"title", "fraction of the true class"},
                                 {"scale", {{"domain", {0, 1}}, {"scheme", "blues"}}}}},
                      {"tooltip", json::array({{{"field", "true"}, {"title", y_title}}, {{"field", "pred"}, {"title", x_title}},
                                               {{"field", "n"}, {"title", "objects"}}, {{"field", "fraction"}, {"format", ".3f"}}})}}}},
       {{"mark", {{"type", "text"}, {"fontSize", 12}}},
        {"encoding", {{"text", {{"field", "n"}, {"type", "quantitative"}}},
                      {"color", {{"condition", {{"test", "datum.fraction > 0.5"}, {"value", "white"}}}, {"value", "black"}}}}}}});
  return s;
}

json lines(const std::vector<Series>& series, const std::string& x_title, const std::string& y_title, const std::string& title, bool log_x) {
  json s = base(title, 560, 300);
  json values = json::array();
  bool any_err = false;
  for (const auto& se : series)
    for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i) {
      json v = {{"x", finite_or_null(se.x[i])}, {"y", finite_or_null(se.y[i])}, {"series", se.name}};
      if (i < se.err.size() && std::isfinite(se.err[i]))
        v["lo"] = se.y[i] - se.err[i], v["hi"] = se.y[i] + se.err[i], any_err = true;
      values.push_back(std::move(v));
    }
  json x = {{"field", "x"}, {"type", "quantitative"}, {"title", x_title}};
  if (log_x) x["scale"] = {{"type", "log"}};
  json colour = {{"field", "series"}, {"type", "nominal"}, {"title", nullptr}, {"legend", series.size() > 1 ? json({{"orient", "top"}}) : json(nullptr)}};
  json layers = json::array();
  const bool few = !series.empty() && series.front().x.size() <= 40;
  layers.push_back({{"mark", {{"type", "line"}, {"point", few}, {"strokeWidth", 1.3}}},
                    {"encoding", {{"x", x}, {"y", {{"field", "y"}, {"type", "quantitative"}, {"title", y_title}, {"scale", {{"zero", false}}}}},
                                  {"color", colour},
                                  {"tooltip", json::array({{{"field", "series"}}, {{"field", "x"}, {"title", x_title}, {"format", ".4g"}},
                                                           {{"field", "y"}, {"title", y_title}, {"format", ".4g"}}})}}}});
  if (any_err)
    layers.push_back({{"mark", "errorbar"},
                      {"encoding", {{"x", x}, {"y", {{"field", "lo"}, {"type", "quantitative"}, {"title", y_title}}}, {"y2", {{"field", "hi"}}},
                                    {"color", colour}}}});
  s["data"] = {{"values", values}};
  s["layer"] = layers;
  return s;
}

void Page::figure(const json& spec, const std::string& caption) {
  body_ += fmt::format("<figure><div class=\"vega\" id=\"fig{}\"></div><figcaption>{}</figcaption></figure>\n", specs_.size(), caption);
  specs_.push_back(spec);
}

void Page::write(const std::filesystem::path& dir) const {
  std::string specs = json(specs_).dump(-1, ' ', false, json::error_handler_t::replace);
  // Inside a <script>, "</" could close it early.
  for (size_t p = 0; (p = specs.find("</", p)) != std::string::npos; p += 3) specs.replace(p, 2, "<\\/");
  std::string scripts_html;
  for (const auto& sc : scripts()) {
    write_file_atomic(dir / sc.name, std::string(sc.data, sc.size));
    scripts_html += fmt::format("<script src=\"{}\"></script>\n", sc.name);
  }
  std::string html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + escape_html(title_) + "</title>\n" + scripts_html +
                     "<style>body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;color:#1c2330}"
                     "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
                     "figure{display:inline-block;margin:1em;vertical-align:top}figcaption{max-width:560px;font-size:90%}"
                     "</style></head><body>\n" + body_ +
                     "<script>\nconst specs = " + specs +
                     ";\n// Each figure's Vega view stays reachable (window.astrofmViews) for scripted PNG export.\n"
                     "window.astrofmViews = [];\n"
                     "specs.forEach((s, i) => vegaEmbed('#fig' + i, s, {renderer: 'svg', actions: {export: true, source: false, "
                     "compiled: false, editor: false}}).then((r) => { window.astrofmViews[i] = r.view; })"
                     ".catch((e) => { document.getElementById('fig' + i).textContent = 'figure: ' + e; console.error(e); }));\n"
                     "</script>\n</body></html>\n";
  write_file_atomic(dir / "index.html", html);
}

}  // namespace astrofm::vega
