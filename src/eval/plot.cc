#include "eval/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "astrofm/error.h"
#include "astrofm/png.h"

namespace astrofm::plot {
namespace {

// 3x5 glyphs for tick labels, one row per 3 bits.
int glyph(char c, int row) {
  static const char* digits[] = {"111101101101111", "010110010010111", "111001111100111", "111001111001111", "101101111001001",
                                 "111100111001111", "111100111101111", "111001001001001", "111101111101111", "111101111001111"};
  const char* g = nullptr;
  if (c >= '0' && c <= '9') g = digits[c - '0'];
  else if (c == '.') g = "000000000000010";
  else if (c == '-') g = "000000111000000";
  else if (c == 'e') g = "000011111100011";
  else if (c == '+') g = "000010111010000";
  if (!g) return 0;
  return (g[row * 3] == '1') << 2 | (g[row * 3 + 1] == '1') << 1 | (g[row * 3 + 2] == '1');
}

unsigned ramp(double t) {  // dark purple -> teal -> yellow
  t = std::clamp(t, 0.0, 1.0);
  const double a[3][3] = {{68, 1, 84}, {33, 145, 140}, {253, 231, 37}};
  int k = t < 0.5 ? 0 : 1;
  double f = t < 0.5 ? t * 2 : (t - 0.5) * 2;
  unsigned rgb = 0;
  for (int c = 0; c < 3; ++c) rgb = rgb << 8 | static_cast<unsigned>(a[k][c] + f * (a[k + 1][c] - a[k][c]));
  return rgb;
}

std::string tick_text(double v) {
  if (v == 0) return "0";
  double a = std::abs(v);
  if (a >= 1e4 || a < 1e-3) return fmt::format("{:.0e}", v);
  std::string s = fmt::format("{:.3f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

void draw_text(std::vector<unsigned char>& rgb, int w, int h, int x, int y, const std::string& s, unsigned color, int scale = 2) {
  for (size_t k = 0; k < s.size(); ++k)
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 3; ++c)
        if (glyph(s[k], r) >> (2 - c) & 1)
          for (int dy = 0; dy < scale; ++dy)
            for (int dx = 0; dx < scale; ++dx) {
              int X = x + static_cast<int>(k) * 4 * scale + c * scale + dx, Y = y + r * scale + dy;
              if (X >= 0 && X < w && Y >= 0 && Y < h)
                for (int ch = 0; ch < 3; ++ch) rgb[(Y * w + X) * 3 + ch] = color >> (16 - 8 * ch) & 255;
            }
}

double to_unit(double v, const Axis& a) {
  if (a.log) return (std::log10(std::max(v, 1e-300)) - std::log10(a.lo)) / (std::log10(a.hi) - std::log10(a.lo));
  return (v - a.lo) / (a.hi - a.lo);
}

std::vector<double> ticks(const Axis& a) {
  std::vector<double> t;
  if (a.log) {
    for (double v = std::pow(10, std::floor(std::log10(a.lo))); v <= a.hi * 1.0001; v *= 10)
      if (v >= a.lo * 0.9999) t.push_back(v);
    return t;
  }
  double span = a.hi - a.lo, raw = span / 5, mag = std::pow(10, std::floor(std::log10(raw)));
  double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  for (double v = std::ceil(a.lo / step - 1e-9) * step; v <= a.hi + 1e-9 * span; v += step) t.push_back(std::abs(v) < 1e-12 * span ? 0 : v);
  return t;
}

}  // namespace

Axis nice_axis(double lo, double hi, bool log) {
  if (log) return {std::pow(10, std::floor(std::log10(lo))), std::pow(10, std::ceil(std::log10(hi))), true};
  if (!(hi > lo)) hi = lo + 1;
  double pad = 0.02 * (hi - lo);
  return {lo - pad, hi + pad, false};
}

Chart::Chart(int width, int height, Axis x, Axis y) : w_(width), h_(height), ax_(x), ay_(y), rgb_(width * height * 3, 255) { frame(); }

int Chart::px(double x) const { return left_ + static_cast<int>(std::lround(to_unit(x, ax_) * (w_ - left_ - right_ - 1))); }
int Chart::py(double y) const { return h_ - bottom_ - static_cast<int>(std::lround(to_unit(y, ay_) * (h_ - top_ - bottom_ - 1))); }

void Chart::set(int x, int y, unsigned rgb) {
  if (x < left_ || x >= w_ - right_ || y < top_ || y > h_ - bottom_) return;
  for (int c = 0; c < 3; ++c) rgb_[(y * w_ + x) * 3 + c] = rgb >> (16 - 8 * c) & 255;
}

void Chart::frame() {
  unsigned grey = 0x999999, black = 0x222222;
  for (double t : ticks(ax_)) {
    int x = px(t);
    for (int y = top_; y <= h_ - bottom_; ++y) rgb_[(y * w_ + x) * 3] = rgb_[(y * w_ + x) * 3 + 1] = rgb_[(y * w_ + x) * 3 + 2] = 230;
    std::string s = tick_text(t);
    draw_text(rgb_, w_, h_, x - static_cast<int>(s.size()) * 4, h_ - bottom_ + 8, s, black);
  }
  for (double t : ticks(ay_)) {
    int y = py(t);
    for (int x = left_; x < w_ - right_; ++x) rgb_[(y * w_ + x) * 3] = rgb_[(y * w_ + x) * 3 + 1] = rgb_[(y * w_ + x) * 3 + 2] = 230;
    std::string s = tick_text(t);
    draw_text(rgb_, w_, h_, left_ - 6 - static_cast<int>(s.size()) * 8, y - 5, s, black);
  }
  for (int x = left_; x < w_ - right_; ++x) set(x, h_ - bottom_, grey), set(x, top_, grey);
  for (int y = top_; y <= h_ - bottom_; ++y) set(left_, y, grey), set(w_ - right_ - 1, y, grey);
}

void Chart::density(const std::vector<double>& x, const std::vector<double>& y, int bins) {
  std::vector<double> n(bins * bins, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    double u = to_unit(x[i], ax_), v = to_unit(y[i], ay_);
    if (u < 0 || u >= 1 || v < 0 || v >= 1) continue;
    n[static_cast<int>(v * bins) * bins + static_cast<int>(u * bins)] += 1;
  }
  double mx = std::log1p(*std::max_element(n.begin(), n.end()));
  int W = w_ - left_ - right_, H = h_ - top_ - bottom_;
  for (int Y = 0; Y < H; ++Y)
    for (int X = 0; X < W; ++X) {
      double c = n[(Y * bins / H) * bins + X * bins / W];
      if (c > 0) set(left_ + X, h_ - bottom_ - Y, ramp(mx > 0 ? std::log1p(c) / mx : 0));
    }
}

void Chart::line(double x0, double y0, double x1, double y1, unsigned rgb, int thickness) {
  int X0 = px(x0), Y0 = py(y0), X1 = px(x1), Y1 = py(y1);
  int steps = std::max({std::abs(X1 - X0), std::abs(Y1 - Y0), 1});
  for (int s = 0; s <= steps; ++s) {
    int X = X0 + (X1 - X0) * s / steps, Y = Y0 + (Y1 - Y0) * s / steps;
    for (int d = -(thickness / 2); d <= thickness / 2; ++d) set(X + d, Y, rgb), set(X, Y + d, rgb);
  }
}

void Chart::polyline(const std::vector<double>& x, const std::vector<double>& y, unsigned rgb) {
  for (size_t i = 0; i + 1 < x.size(); ++i) line(x[i], y[i], x[i + 1], y[i + 1], rgb, 3);
  for (size_t i = 0; i < x.size(); ++i)
    for (int d = -3; d <= 3; ++d)
      for (int e = -3; e <= 3; ++e) set(px(x[i]) + d, py(y[i]) + e, rgb);
}

void Chart::error_bars(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& err, unsigned rgb) {
  for (size_t i = 0; i < x.size(); ++i) {
    line(x[i], y[i] - err[i], x[i], y[i] + err[i], rgb, 1);
    for (int d = -4; d <= 4; ++d) set(px(x[i]) + d, py(y[i] - err[i]), rgb), set(px(x[i]) + d, py(y[i] + err[i]), rgb);
  }
}

void Chart::write_png(const std::string& path) const { astrofm::write_png(path, rgb_, w_, h_); }

void heatmap(const std::vector<std::vector<double>>& frac, const std::vector<std::vector<long>>& counts, const std::string& path) {
  int k = static_cast<int>(frac.size()), cell = std::max(40, 360 / std::max(1, k)), margin = 24;
  int w = k * cell + 2 * margin;
  std::vector<unsigned char> rgb(w * w * 3, 255);
  for (int r = 0; r < k; ++r)
    for (int c = 0; c < k; ++c) {
      unsigned col = ramp(frac[r][c]);
      for (int y = 0; y < cell - 2; ++y)
        for (int x = 0; x < cell - 2; ++x)
          for (int ch = 0; ch < 3; ++ch) rgb[((margin + r * cell + y) * w + margin + c * cell + x) * 3 + ch] = col >> (16 - 8 * ch) & 255;
      std::string s = std::to_string(counts[r][c]);
      draw_text(rgb, w, w, margin + c * cell + (cell - static_cast<int>(s.size()) * 8) / 2, margin + r * cell + cell / 2 - 5, s,
                frac[r][c] > 0.6 ? 0x222222 : 0xffffff);
    }
  write_png(path, rgb, w, w);
}

}  // namespace astrofm::plot
