// Classical morphology statistics of a cutout (Conselice 2003: concentration,
// asymmetry, smoothness; Lotz et al. 2004: Gini, M20), with what marks a
// merger in particular: a second nucleus and light in separate pieces.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "astrofm/discover.h"
#include "astrofm/error.h"

namespace astrofm {
namespace {

using Plane = std::vector<double>;

// Separable Gaussian blur (sigma in pixels, kernel to 3 sigma), edges clamped.
Plane blur(const Plane& in, int64_t H, int64_t W, double sigma) {
  const int64_t r = static_cast<int64_t>(std::ceil(3 * sigma));
  std::vector<double> k(2 * r + 1);
  for (int64_t i = -r; i <= r; ++i) k[i + r] = std::exp(-0.5 * i * i / (sigma * sigma));
  const double ks = std::accumulate(k.begin(), k.end(), 0.0);
  for (auto& v : k) v /= ks;
  Plane tmp(in.size()), out(in.size());
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      double s = 0;
      for (int64_t i = -r; i <= r; ++i) s += k[i + r] * in[y * W + std::clamp<int64_t>(x + i, 0, W - 1)];
      tmp[y * W + x] = s;
    }
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      double s = 0;
      for (int64_t i = -r; i <= r; ++i) s += k[i + r] * tmp[std::clamp<int64_t>(y + i, 0, H - 1) * W + x];
      out[y * W + x] = s;
    }
  return out;
}

// Bilinear sample, zero outside the cutout.
double sample(const Plane& p, int64_t H, int64_t W, double y, double x) {
  const double fy = std::floor(y), fx = std::floor(x);
  double s = 0;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const int64_t yy = static_cast<int64_t>(fy) + dy, xx = static_cast<int64_t>(fx) + dx;
      if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
      s += p[yy * W + xx] * (dy ? y - fy : 1 - (y - fy)) * (dx ? x - fx : 1 - (x - fx));
    }
  return s;
}

// Connected pieces (4-neighbours) of a mask: a label per pixel (0 = outside), and their count.
int64_t label_pieces(const std::vector<char>& mask, int64_t H, int64_t W, std::vector<int64_t>& label) {
  label.assign(mask.size(), 0);
  int64_t n = 0;
  std::vector<int64_t> stack;
  for (int64_t s = 0; s < H * W; ++s) {
    if (!mask[s] || label[s]) continue;
    label[s] = ++n;
    stack.push_back(s);
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      const int64_t y = p / W, x = p % W;
      const int64_t nb[4] = {y > 0 ? p - W : -1, y + 1 < H ? p + W : -1, x > 0 ? p - 1 : -1, x + 1 < W ? p + 1 : -1};
      for (int64_t q : nb)
        if (q >= 0 && mask[q] && !label[q]) label[q] = n, stack.push_back(q);
    }
  }
  return n;
}

}  // namespace

const std::vector<std::string>& morphology_names() {
  static const std::vector<std::string> n = {"asymmetry", "concentration", "gini", "m20", "smoothness", "peaks", "second_peak",
                                             "peak_separation", "ellipticity", "size", "colour_centre", "colour_outer",
                                             "pieces", "light_outside_main_piece"};
  return n;
}

Features morphology_features(const Features& images, int64_t C, int64_t H, int64_t W) {
  if (C < 1 || H < 8 || W < 8 || images.d != C * H * W)
    fail_input("morphology: rows of {} values are not cutouts of {} x {} x {} (at least 8 x 8)", images.d, C, H, W);
  const int64_t F = static_cast<int64_t>(morphology_names().size()), P = H * W;
  Features out{images.n, F, std::vector<float>(images.n * F)};
  for (int64_t n = 0; n < images.n; ++n) {
    const float* im = images.row(n);
    // The bands' mean light above the sky (the median of a 4-pixel border).
    Plane J(P, 0.0);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < P; ++p) J[p] += std::isfinite(im[c * P + p]) ? im[c * P + p] / C : 0.0;
    auto sky_of = [&](auto value) {
      std::vector<double> border;
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          if (y < 4 || y >= H - 4 || x < 4 || x >= W - 4) border.push_back(value(y * W + x));
      std::nth_element(border.begin(), border.begin() + border.size() / 2, border.end());
      return border[border.size() / 2];
    };
    const double sky = sky_of([&](int64_t p) { return J[p]; });
    auto band = [&](int64_t c, int64_t p) { return std::isfinite(im[c * P + p]) ? static_cast<double>(im[c * P + p]) : 0.0; };
    const double sky_first = sky_of([&](int64_t p) { return band(0, p); }), sky_last = sky_of([&](int64_t p) { return band(C - 1, p); });
    double tot = 0, cy = 0, cx = 0;
    for (int64_t p = 0; p < P; ++p) {
      J[p] = std::max(0.0, J[p] - sky);
      tot += J[p], cy += J[p] * (p / W), cx += J[p] * (p % W);
    }
    float* o = out.x.data() + n * F;
    if (!(tot > 0)) continue;  // a blank cutout: every statistic 0
    cy /= tot, cx /= tot;
    // Asymmetry: the light against itself turned 180 degrees about its centre.
    double asym = 0;
    for (int64_t p = 0; p < P; ++p) asym += std::abs(J[p] - sample(J, H, W, 2 * cy - p / W, 2 * cx - p % W));
    // Radii enclosing 20 % and 80 % of the light; the second moments.
    std::vector<double> r(P);
    double qxx = 0, qyy = 0, qxy = 0;
    for (int64_t p = 0; p < P; ++p) {
      const double dy = p / W - cy, dx = p % W - cx;
      r[p] = std::hypot(dy, dx);
      qxx += J[p] * dx * dx, qyy += J[p] * dy * dy, qxy += J[p] * dx * dy;
    }
    qxx /= tot, qyy /= tot, qxy /= tot;
    std::vector<int64_t> by_r(P);
    std::iota(by_r.begin(), by_r.end(), 0);
    std::sort(by_r.begin(), by_r.end(), [&](int64_t a, int64_t b) { return r[a] < r[b]; });
    double cum = 0, r20 = r[by_r.back()], r80 = r20;
    bool got20 = false;
    for (int64_t p : by_r) {
      cum += J[p];
      if (!got20 && cum >= 0.2 * tot) r20 = r[p], got20 = true;
      if (cum >= 0.8 * tot) {
        r80 = r[p];
        break;
      }
    }
    // Gini of the pixel values; M20: the second moment of the brightest 20 % of the light.
    std::vector<int64_t> by_v(P);
    std::iota(by_v.begin(), by_v.end(), 0);
    std::sort(by_v.begin(), by_v.end(), [&](int64_t a, int64_t b) { return J[a] < J[b]; });
    double gini = 0;
    for (int64_t i = 0; i < P; ++i) gini += (2.0 * (i + 1) - P - 1) * J[by_v[i]];
    gini /= (tot / P) * P * (P - 1);
    double mtot = 0, m20 = 0;
    for (int64_t p = 0; p < P; ++p) mtot += J[p] * r[p] * r[p];
    cum = 0;
    for (int64_t i = P - 1; i >= 0 && cum < 0.2 * tot; --i) cum += J[by_v[i]], m20 += J[by_v[i]] * r[by_v[i]] * r[by_v[i]];
    // Smoothness: what a 5-pixel box removes.
    double smooth = 0;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        double s = 0;
        for (int64_t dy = -2; dy <= 2; ++dy)
          for (int64_t dx = -2; dx <= 2; ++dx) s += J[std::clamp<int64_t>(y + dy, 0, H - 1) * W + std::clamp<int64_t>(x + dx, 0, W - 1)];
        smooth += std::abs(J[y * W + x] - s / 25);
      }
    // Nuclei: maxima of the blurred light over a 5-pixel box, above a fifth of the brightest.
    const Plane S = blur(J, H, W, 1.5);
    const double smax = *std::max_element(S.begin(), S.end());
    std::vector<std::pair<double, int64_t>> peaks;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const double v = S[y * W + x];
        if (v <= 0.2 * smax) continue;
        bool top = true;
        for (int64_t dy = -2; dy <= 2 && top; ++dy)
          for (int64_t dx = -2; dx <= 2 && top; ++dx) {
            const int64_t yy = y + dy, xx = x + dx;
            const int64_t q = yy * W + xx;  // ties (a flat top) go to the first pixel
            if (yy >= 0 && yy < H && xx >= 0 && xx < W && q != y * W + x) top = S[q] < v || (S[q] == v && q > y * W + x);
          }
        if (top) peaks.push_back({v, y * W + x});
      }
    std::sort(peaks.rbegin(), peaks.rend());
    double second = 0, separation = 0;
    if (peaks.size() > 1) {
      second = peaks[1].first / peaks[0].first;
      separation = std::hypot(static_cast<double>(peaks[0].second / W - peaks[1].second / W),
                              static_cast<double>(peaks[0].second % W - peaks[1].second % W));
    }
    // Pieces of the light above a tenth of the brightest, and the light outside the one at the centre.
    std::vector<char> mask(P);
    for (int64_t p = 0; p < P; ++p) mask[p] = S[p] > 0.1 * smax;
    std::vector<int64_t> label;
    const int64_t pieces = label_pieces(mask, H, W, label);
    const int64_t centre = std::clamp<int64_t>(std::llround(cy), 0, H - 1) * W + std::clamp<int64_t>(std::llround(cx), 0, W - 1);
    double outside = 0;
    for (int64_t p = 0; p < P; ++p)
      if (label[p] && label[p] != label[centre]) outside += J[p];
    // Colour: the last band against the first, in the centre and further out.
    double cen[2] = {1e-3, 1e-3}, outer[2] = {1e-3, 1e-3};
    for (int64_t p = 0; p < P; ++p) {
      const double a = std::max(0.0, band(0, p) - sky_first), b = std::max(0.0, band(C - 1, p) - sky_last);
      if (r[p] < std::max(r20, 2.0)) cen[0] += a, cen[1] += b;
      else if (r[p] < r80) outer[0] += a, outer[1] += b;
    }
    const double v[] = {asym / tot,
                        5 * std::log10((r80 + 0.5) / (r20 + 0.5)),
                        gini,
                        std::log10(m20 / std::max(mtot, 1e-12) + 1e-9),
                        smooth / tot,
                        static_cast<double>(peaks.size()),
                        second,
                        separation,
                        std::hypot(qxx - qyy, 2 * qxy) / std::max(qxx + qyy, 1e-12),
                        std::sqrt(std::max(qxx + qyy, 0.0)),
                        std::log(cen[1] / cen[0]),
                        std::log(outer[1] / outer[0]),
                        static_cast<double>(pieces),
                        outside / tot};
    for (int64_t f = 0; f < F; ++f) o[f] = std::isfinite(v[f]) ? static_cast<float>(v[f]) : 0.0f;
  }
  return out;
}

}  // namespace astrofm
