// `astrofm codec eval`: how well each codec reconstructs a dataset it has not
// seen; definitions in docs/codecs.md.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "astrofm/codecs.h"
#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/mmu.h"
#include "astrofm/modality.h"
#include "astrofm/png.h"
#include "astrofm/progress.h"
#include "codecs/codec_table.h"
#include "astrofm/vega.h"

namespace astrofm::codecs {
namespace fs = std::filesystem;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / v.size();
}

struct ImageStats {
  double chi2 = 0;
  int64_t pixels = 0;
  std::vector<double> band_chi2, band_pixels, flux_abs_err, flux_abs, flux_noise, rel_err_rows;
  std::vector<std::string> bands;
  double display_sq = 0;
  int64_t display_pixels = 0;
  int64_t objects = 0;
  std::vector<std::vector<float>> fig;  // per figure row: original, reconstruction (one band), size
  int64_t fig_size = 0;
};

struct SpectrumStats {
  std::vector<double> r2, r2_ceiling, chi2_rows;
  double chi2 = 0;
  int64_t pixels = 0, objects = 0;
  std::vector<std::vector<double>> fig_lam, fig_orig, fig_rec;
};

struct FieldStats {
  std::vector<double> abs_err, iou;
  int64_t objects = 0, missing = 0;
};

struct ScalarStats {
  std::vector<double> abs_err, width_ratio, rel_err;
  double sq = 0;
  int64_t n = 0, missing = 0;
};

const float* fptr(const Column& c) { return c.ptr<float>(); }

void image_batch(const Codec& c, const Table& b, ImageStats& st, int64_t figures, const std::string& where) {
  Column tok = c.encode(b, where);
  Table ctx;
  ctx.add(b.at(mmu::kImageBand));
  bool has_ivar = b.has(mmu::kImageIvar);
  std::vector<bool> disp = display_rows(b);
  ctx.add(make_column<bool>("image_display", disp));
  Table rec = c.decode(tok, ctx, where);
  const Column& ra = rec.at(mmu::kImageArray);
  const Column& oa = b.at(mmu::kImageArray);
  const int64_t nb = oa.shape[0], h = oa.shape[1], w = oa.shape[2], cs = ra.shape[1];
  const int64_t y0 = (h - cs) / 2, x0 = (w - cs) / 2;
  if (st.band_chi2.empty()) st.band_chi2.assign(nb, 0), st.band_pixels.assign(nb, 0), st.flux_abs_err.assign(nb, 0), st.flux_abs.assign(nb, 0), st.flux_noise.assign(nb, 0);
  if (st.bands.empty())
    for (int64_t k = 0; k < nb; ++k) st.bands.push_back(b.at(mmu::kImageBand).strings[k]);
  std::vector<double> orig_d(static_cast<size_t>(cs * cs));
  for (int64_t i = 0; i < b.rows(); ++i, ++st.objects) {
    double rel_sum = 0, rel_flux = 0;
    for (int64_t k = 0; k < nb; ++k) {
      const float* o = fptr(oa) + ((i * nb + k) * h) * w;
      const float* r = fptr(ra) + (i * nb + k) * cs * cs;
      const float* iv = has_ivar ? fptr(b.at(mmu::kImageIvar)) + ((i * nb + k) * h) * w : nullptr;
      double fo = 0, fr = 0, var = 0;
      for (int64_t y = 0; y < cs; ++y)
        for (int64_t x = 0; x < cs; ++x) {
          double ov = o[(y + y0) * w + x + x0], rv = r[y * cs + x];
          if (!std::isfinite(ov)) continue;
          fo += ov, fr += rv;
          if (disp[i]) {
            st.display_sq += (ov - rv) * (ov - rv), ++st.display_pixels;
          } else if (iv) {
            double v = iv[(y + y0) * w + x + x0];
            if (std::isfinite(v) && v > 0) {
              var += 1 / v;
              double q = v * (ov - rv) * (ov - rv);
              st.chi2 += q, ++st.pixels, st.band_chi2[k] += q, st.band_pixels[k] += 1;
            }
          }
        }
      st.flux_abs_err[k] += std::abs(fr - fo);
      st.flux_abs[k] += std::abs(fo);
      st.flux_noise[k] += std::sqrt(var * 2 / M_PI);  // E|noise sum| for Gaussian pixel noise
      rel_sum += std::abs(fr - fo), rel_flux += std::abs(fo);
    }
    if (rel_flux > 0) st.rel_err_rows.push_back(rel_sum / rel_flux);
    if (static_cast<int64_t>(st.fig.size()) < figures) {
      // The middle band: original and reconstruction, same crop.
      int64_t k = nb / 2;
      std::vector<float> row(static_cast<size_t>(2 * cs * cs));
      const float* o = fptr(oa) + ((i * nb + k) * h) * w;
      const float* r = fptr(ra) + (i * nb + k) * cs * cs;
      for (int64_t y = 0; y < cs; ++y)
        for (int64_t x = 0; x < cs; ++x) row[y * cs + x] = o[(y + y0) * w + x + x0], row[cs * cs + y * cs + x] = r[y * cs + x];
      st.fig.push_back(std::move(row));
      st.fig_size = cs;
    }
  }
}

// original | reconstruction | residual, one object per row, asinh stretch on the original's range.
void image_figure(const ImageStats& st, const std::string& path) {
  if (st.fig.empty()) return;
  const int cs = static_cast<int>(st.fig_size), pad = 2, W = 3 * cs + 4 * pad, H = static_cast<int>(st.fig.size()) * (cs + pad) + pad;
  std::vector<unsigned char> rgb(static_cast<size_t>(W) * H * 3, 255);
  for (size_t r = 0; r < st.fig.size(); ++r) {
    const auto& v = st.fig[r];
    std::vector<float> o(v.begin(), v.begin() + cs * cs);
    std::vector<float> s = o;
    std::sort(s.begin(), s.end());
    double lo = s[s.size() / 100], hi = s[s.size() * 995 / 1000];
    double soft = std::max((hi - lo) / 20, 1e-12);
    auto stretch = [&](double x, double l) { return std::clamp(std::asinh((x - l) / soft) / std::asinh((hi - lo) / soft), 0.0, 1.0); };
    for (int y = 0; y < cs; ++y)
      for (int x = 0; x < cs; ++x) {
        double ov = v[y * cs + x], rv = v[cs * cs + y * cs + x];
        double vals[3] = {stretch(ov, lo), stretch(rv, lo), 0.5 + 0.5 * std::clamp((rv - ov) / std::max(hi - lo, 1e-12) * 5, -1.0, 1.0)};
        for (int p = 0; p < 3; ++p) {
          int X = pad + p * (cs + pad) + x, Y = pad + static_cast<int>(r) * (cs + pad) + y;
          unsigned char g = static_cast<unsigned char>(std::lround(vals[p] * 255));
          unsigned char* px = &rgb[(static_cast<size_t>(Y) * W + X) * 3];
          if (p == 2) px[0] = g, px[1] = g, px[2] = static_cast<unsigned char>(255 - g);  // residual: blue low, yellow high
          else px[0] = px[1] = px[2] = g;
        }
      }
  }
  write_png(path, rgb, W, H);
}

void spectrum_batch(const Codec& c, const Table& b, SpectrumStats& st, int64_t figures, const std::string& where) {
  Column tok = c.encode(b, where);
  Table ctx;
  ctx.add(b.at(mmu::kSpectrumLambda));
  Table rec = c.decode(tok, ctx, where);
  const Column& f = b.at(mmu::kSpectrumFlux);
  const Column& lam = b.at(mmu::kSpectrumLambda);
  const Column& rf = rec.at(mmu::kSpectrumFlux);
  const Column& rm = rec.at(mmu::kSpectrumMask);
  const Column* iv = b.find(mmu::kSpectrumIvar);
  const Column* mk = b.find(mmu::kSpectrumMask);
  const int64_t l = f.row_elems();
  for (int64_t i = 0; i < b.rows(); ++i, ++st.objects) {
    std::vector<double> o, r;
    double noise = 0, chi = 0;
    int64_t nchi = 0;
    for (int64_t k = 0; k < l; ++k) {
      int64_t j = i * l + k;
      double fv = f.as_double(j), lv = lam.as_double(j);
      if (!(lv > 0) || !std::isfinite(fv) || rm.data[j] || (mk && mk->data[j])) continue;
      o.push_back(fv), r.push_back(rf.as_double(j));
      double w = iv ? iv->as_double(j) : NAN;
      if (std::isfinite(w) && w > 0) {
        double q = w * (fv - r.back()) * (fv - r.back());
        st.chi2 += q, ++st.pixels, chi += q, ++nchi, noise += 1 / w;
      }
    }
    if (o.size() < 2) continue;
    double m = mean(o), ss = 0, se = 0;
    for (size_t k = 0; k < o.size(); ++k) ss += (o[k] - m) * (o[k] - m), se += (o[k] - r[k]) * (o[k] - r[k]);
    if (ss > 0) st.r2.push_back(1 - se / ss);
    // A reconstruction equal to the noiseless spectrum would score about this against the noisy one.
    if (ss > 0 && noise > 0) st.r2_ceiling.push_back(1 - noise / ss);
    if (nchi) st.chi2_rows.push_back(chi / nchi);
    if (static_cast<int64_t>(st.fig_lam.size()) < figures) {
      std::vector<double> fl, fo, fr;
      for (int64_t k = 0; k < l; ++k) {
        int64_t j = i * l + k;
        if (!(lam.as_double(j) > 0) || rm.data[j]) continue;
        fl.push_back(lam.as_double(j)), fo.push_back(f.as_double(j)), fr.push_back(rf.as_double(j));
      }
      st.fig_lam.push_back(fl), st.fig_orig.push_back(fo), st.fig_rec.push_back(fr);
    }
  }
}

void scalar_batch(const Codec& c, const Table& b, ScalarStats& st, const std::string& where) {
  Column tok = c.encode(b, where);
  Table rec = c.decode(tok, {}, where);
  // The lower edge of each value's bin: the previous code's value.
  Column lower = tok;
  for (int64_t i = 0; i < lower.rows * lower.row_elems(); ++i) {
    auto* p = lower.ptr<int32_t>() + i;
    if (*p > 0) --*p;
  }
  Table low = c.decode(lower, {}, where);
  const Column& v = b.at(c.info().modality);
  const Column& r = rec.at(c.info().modality);
  const Column& lo = low.at(c.info().modality);
  for (int64_t i = 0; i < v.rows * v.row_elems(); ++i) {
    double x = v.as_double(i), y = r.as_double(i);
    if (!std::isfinite(x)) {
      ++st.missing;
      continue;
    }
    double e = y - x, wd = std::abs(y - lo.as_double(i));
    st.abs_err.push_back(std::abs(e));
    if (x != 0) st.rel_err.push_back(std::abs(e / x));
    st.sq += e * e, ++st.n;
    if (wd > 0 && tok.ptr<int32_t>()[i] > 0 && tok.ptr<int32_t>()[i] < c.info().vocab_size - 1) st.width_ratio.push_back(std::abs(e) / wd);
  }
}

// Maps: the mean absolute difference over the codec's crop, and the overlap
// (intersection over union) of the pixels above one half.
void field_batch(const Codec& c, const Table& b, FieldStats& st, const std::string& where) {
  Column tok = c.encode(b, where);
  const Column orig = c.preprocessed(b, where);
  const Column rec = c.decode(tok, {}, where).at(c.info().modality);
  const int64_t n = orig.row_elems();
  for (int64_t i = 0; i < b.rows(); ++i) {
    if (tok.ptr<int32_t>()[i * tok.row_elems()] == kMissing) {
      ++st.missing;
      continue;
    }
    double err = 0;
    int64_t both = 0, either = 0;
    for (int64_t k = i * n; k < (i + 1) * n; ++k) {
      const double x = orig.as_double(k), y = rec.as_double(k);
      err += std::abs(x - y), both += x > 0.5 && y > 0.5, either += x > 0.5 || y > 0.5;
    }
    st.abs_err.push_back(err / n);
    if (either) st.iou.push_back(static_cast<double>(both) / either);
    ++st.objects;
  }
}

void spectrum_figures(const SpectrumStats& st, const std::string& modality, vega::Page& page) {
  for (size_t i = 0; i < st.fig_lam.size(); ++i) {
    if (st.fig_lam[i].size() < 2) continue;
    vega::Series orig{"original", st.fig_lam[i], st.fig_orig[i], {}}, rec{"reconstruction", st.fig_lam[i], st.fig_rec[i], {}};
    page.figure(vega::lines({orig, rec}, "observed wavelength (Å)", "flux (10⁻¹⁷ erg s⁻¹ cm⁻² Å⁻¹)",
                            fmt::format("{}: object {} through the codec", modality, i + 1)),
                "The spectrum as stored (masked pixels left out) and after encoding to tokens and decoding back.");
  }
}

}  // namespace

nlohmann::json evaluate_codecs(const CodecEvalOptions& opt) {
  CodecSet set = CodecSet::load(opt.codecs);
  Dataset ds = Dataset::open(opt.data);
  std::vector<std::string> have;
  for (const auto& c : ds.schema()) have.push_back(c.name);
  auto mods = set.usable(have);
  if (mods.empty()) fail_input("{}: none of the codecs' modalities ({}) is in the dataset", opt.data, fmt::join(set.modalities(), ", "));
  std::vector<std::string> cols = {mmu::kObjectId};
  for (const auto& m : mods)
    for (const auto& c : modality(m).column_names())
      if (std::find(have.begin(), have.end(), c) != have.end() && std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
  if (!opt.report.empty()) fs::create_directories(opt.report);
  std::map<std::string, ImageStats> img;
  std::map<std::string, SpectrumStats> spec;
  std::map<std::string, ScalarStats> sca;
  std::map<std::string, FieldStats> fld;
  DatasetReader r(ds, {.columns = cols, .batch_rows = opt.batch});
  int64_t total = std::min(ds.rows(), opt.max_objects), seen = 0;
  Progress bar("codec eval", total);
  Table b;
  while (seen < total && r.next(b)) {
    if (seen + b.rows() > total) b = b.slice(0, total - seen);
    std::string where = fmt::format("{} (rows {}-{})", opt.data, seen, seen + b.rows() - 1);
    for (const auto& m : mods) {
      const Codec& c = set.at(m);
      switch (c.info().modality_kind()) {
        case ModalityKind::Image: image_batch(c, b, img[m], opt.figures, where); break;
        case ModalityKind::Spectrum: spectrum_batch(c, b, spec[m], opt.figures, where); break;
        case ModalityKind::Scalar: scalar_batch(c, b, sca[m], where); break;
        case ModalityKind::Field: field_batch(c, b, fld[m], where); break;
        case ModalityKind::Catalog: break;  // no per-object figure of merit yet
      }
    }
    seen += b.rows();
    bar.advance(b.rows());
  }
  bar.finish();
  nlohmann::json out = {{"data", opt.data}, {"codecs", opt.codecs}, {"objects", seen}, {"modalities", nlohmann::json::object()}};
  vega::Page page("astrofm codec eval");
  page.html(fmt::format("<h1>astrofm codec eval</h1>\n<p>{} objects of {}; codecs {}</p>\n", seen, vega::escape_html(opt.data),
                        vega::escape_html(fmt::format("{}", fmt::join(opt.codecs, ", ")))));
  for (auto& [m, st] : img) {
    nlohmann::json bands = nlohmann::json::object();
    for (size_t k = 0; k < st.bands.size(); ++k)
      bands[st.bands[k]] = {{"chi2_per_pixel", st.band_pixels[k] > 0 ? st.band_chi2[k] / st.band_pixels[k] : NAN},
                            {"flux_weighted_relative_error", st.flux_abs[k] > 0 ? st.flux_abs_err[k] / st.flux_abs[k] : NAN},
                            // What the noise in the original alone gives: a reconstruction at the
                            // noise level scores about this.
                            {"flux_noise_floor", st.flux_abs[k] > 0 && st.flux_noise[k] > 0 ? st.flux_noise[k] / st.flux_abs[k] : NAN}};
    out["modalities"][m] = {{"kind", "image"}, {"objects", st.objects}, {"chi2_per_pixel", st.pixels ? st.chi2 / st.pixels : NAN},
                            {"median_relative_flux_error", median(st.rel_err_rows)}, {"bands", bands}};
    if (st.display_pixels)
      out["modalities"][m]["display_rms_8bit_levels"] = 255 * std::sqrt(st.display_sq / st.display_pixels);
    if (!opt.report.empty()) {
      image_figure(st, (fs::path(opt.report) / (m + "_reconstructions.png")).string());
      page.html(fmt::format("<h2>{}</h2>\n<figure><img src=\"{}_reconstructions.png\" alt=\"reconstructions\"><figcaption>One object "
                            "a row: the original, its reconstruction through the codec and the residual, on the original's asinh stretch.</figcaption></figure>\n",
                            vega::escape_html(m), vega::escape_html(m)));
    }
  }
  for (auto& [m, st] : spec) {
    out["modalities"][m] = {{"kind", "spectrum"}, {"objects", st.objects}, {"median_r2", median(st.r2)}, {"mean_r2", mean(st.r2)},
                            {"chi2_per_pixel", st.pixels ? st.chi2 / st.pixels : NAN},
                            {"median_chi2_per_pixel", median(st.chi2_rows)}, {"median_r2_noise_ceiling", median(st.r2_ceiling)}};
    if (!opt.report.empty()) {
      page.html(fmt::format("<h2>{}</h2>\n", vega::escape_html(m)));
      spectrum_figures(st, m, page);
    }
  }
  for (auto& [m, st] : sca) {
    std::sort(st.width_ratio.begin(), st.width_ratio.end());
    out["modalities"][m] = {{"kind", set.at(m).info().kind}, {"objects", st.n}, {"missing", st.missing},
                            {"rms_error", st.n ? std::sqrt(st.sq / st.n) : NAN}, {"median_abs_error", median(st.abs_err)}, {"median_relative_error", median(st.rel_err)},
                            {"max_error_over_bin_width", st.width_ratio.empty() ? NAN : st.width_ratio.back()},
                            {"median_error_over_bin_width", median(st.width_ratio)}};
  }
  for (auto& [m, st] : fld)
    out["modalities"][m] = {{"kind", "field"}, {"objects", st.objects}, {"missing", st.missing}, {"median_abs_error", median(st.abs_err)},
                            {"mean_abs_error", mean(st.abs_err)}, {"median_iou_above_half", median(st.iou)}};
  if (!opt.report.empty()) {
    page.html("<h2>Metrics</h2><pre>" + vega::escape_html(out.dump(1)) + "</pre>\n");
    page.write(opt.report);
    write_file_atomic(fs::path(opt.report) / "metrics.json", out.dump(2));
  }
  return out;
}

}  // namespace astrofm::codecs
