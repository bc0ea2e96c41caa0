#pragma once
// Minimal PNG charts for reports (libpng): density maps, heatmaps, curves
// with error bars, numeric tick labels. Titles and axis names go in the HTML
// captions beside each image.
#include <string>
#include <vector>

namespace astrofm::plot {

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
};

class Chart {
 public:
  Chart(int width, int height, Axis x, Axis y);
  // 2-D histogram of points, log-scaled counts (viridis-like ramp).
  void density(const std::vector<double>& x, const std::vector<double>& y, int bins = 80);
  void line(double x0, double y0, double x1, double y1, unsigned rgb, int thickness = 1);
  void polyline(const std::vector<double>& x, const std::vector<double>& y, unsigned rgb);
  void error_bars(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& err, unsigned rgb);
  void write_png(const std::string& path) const;  // atomically
  const Axis& x_axis() const { return ax_; }

 private:
  void frame();
  int px(double x) const;
  int py(double y) const;
  void set(int x, int y, unsigned rgb);
  int w_, h_, left_ = 64, right_ = 16, top_ = 16, bottom_ = 40;
  Axis ax_, ay_;
  std::vector<unsigned char> rgb_;
};

// Row-normalised matrix as a heatmap, with each cell's count written in it.
void heatmap(const std::vector<std::vector<double>>& fraction, const std::vector<std::vector<long>>& counts, const std::string& path);

// "Nice" axis range covering [lo, hi].
Axis nice_axis(double lo, double hi, bool log = false);

}  // namespace astrofm::plot
