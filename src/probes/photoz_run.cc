// `astrofm photoz fit|predict` on datasets (photoz_run.h).
#include "astrofm/photoz_run.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "astrofm/error.h"
#include "astrofm/hash.h"
#include "astrofm/metrics.h"
#include "astrofm/mmu.h"
#include "astrofm/progress.h"
#include "astrofm/qp.h"
#include "astrofm/report.h"

namespace astrofm {
namespace {

void check_split(const std::string& split) {
  if (split != "all" && split != "train" && split != "test") fail_usage("--split {}: all, train or test", split);
}

// Rows of a batch as photoz inputs; missing columns are an error naming the dataset.
PhotozInputs inputs_of(const Table& b, const std::vector<int64_t>& rows, const PhotozOptions& o,
                       const std::vector<std::string>& extra, const std::string& where) {
  PhotozInputs x;
  x.n = static_cast<int64_t>(rows.size());
  const int64_t B = static_cast<int64_t>(o.bands.size());
  x.mags.resize(x.n * B);
  if (!o.errors.empty()) x.errors.resize(x.n * B);
  for (int64_t k = 0; k < B; ++k) {
    const auto* m = b.find(o.bands[k]);
    if (!m) fail_input("{}: no column '{}' (a band of the photoz model)", where, o.bands[k]);
    const Column* e = o.errors.empty() ? nullptr : b.find(o.errors[k]);
    if (!o.errors.empty() && !e) fail_input("{}: no column '{}' (a magnitude error of the photoz model)", where, o.errors[k]);
    for (int64_t i = 0; i < x.n; ++i) {
      x.mags[i * B + k] = static_cast<float>(m->as_double(rows[i]));
      if (e) x.errors[i * B + k] = static_cast<float>(e->as_double(rows[i]));
    }
  }
  int64_t d = 0;
  for (const auto& c : extra) d += b.at(c).row_elems();
  x.extra.reserve(x.n * d);
  for (int64_t i = 0; i < x.n; ++i)
    for (const auto& c : extra) {
      const auto& col = b.at(c);
      for (int64_t j = 0; j < col.row_elems(); ++j) x.extra.push_back(static_cast<float>(col.as_double(rows[i] * col.row_elems() + j)));
    }
  return x;
}

std::vector<std::string> columns_for(const PhotozOptions& o, const std::vector<std::string>& extra) {
  std::vector<std::string> c = {mmu::kObjectId};
  c.insert(c.end(), o.bands.begin(), o.bands.end());
  c.insert(c.end(), o.errors.begin(), o.errors.end());
  c.insert(c.end(), extra.begin(), extra.end());
  return c;
}

}  // namespace

nlohmann::json photoz_fit(const PhotozFitOptions& o) {
  check_split(o.split);
  if (o.save.empty()) fail_usage("photoz fit: --save is required");
  auto ds = Dataset::open(o.data);
  auto cols = columns_for(o.model, o.extra_columns);
  if (!ds.has_column(o.target)) fail_input("{}: no redshift column '{}' to train on (--target)", o.data, o.target);
  for (const auto& c : cols)
    if (!ds.has_column(c)) fail_input("{}: no column '{}'", o.data, c);
  cols.push_back(o.target);
  Table all;
  DatasetReader r(ds, {.columns = cols});
  Table b;
  while (r.next(b)) {
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < b.rows(); ++i)
      if (in_split(o.split, b.at(mmu::kObjectId).strings[i]) && std::isfinite(b.at(o.target).as_double(i))) keep.push_back(i);
    if (all.rows() == 0 && all.columns().empty()) all = b.take(keep);
    else all.append(b.take(keep));
  }
  std::vector<int64_t> rows(all.rows());
  for (int64_t i = 0; i < all.rows(); ++i) rows[i] = i;
  if (o.labels > 0 && o.labels < all.rows()) {
    std::mt19937_64 rng(o.model.seed + 17);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(o.labels);
    std::sort(rows.begin(), rows.end());
  }
  if (rows.empty()) fail_input("{}: no objects with a finite '{}' in the {} split", o.data, o.target, o.split);
  auto x = inputs_of(all, rows, o.model, o.extra_columns, o.data);
  std::vector<double> z;
  for (auto i : rows) z.push_back(all.at(o.target).as_double(i));
  PhotozOptions mo = o.model;
  mo.extra = static_cast<int64_t>(x.extra.size()) / x.n;
  PhotozEstimator est(mo);
  Progress bar("photoz fit", mo.members * mo.epochs);
  int64_t done = 0;
  est.fit(x, z, [&](int64_t m, int64_t ep, double) {
    if (m < 0) return;  // pre-training
    int64_t now = m * mo.epochs + ep + 1;
    bar.advance(now - done);
    done = now;
  });
  bar.finish();
  est.save(o.save);
  return {{"objects", x.n}, {"info", est.info()}, {"model", o.save}};
}

nlohmann::json photoz_predict(const PhotozPredictOptions& o) {
  check_split(o.split);
  if (o.out.empty() && o.qp.empty() && o.target.empty() && o.report.empty())
    fail_usage("photoz predict: give --out, --qp, --report or --target (metrics)");
  auto est = PhotozEstimator::load(o.model);
  const auto& mo = est.options();
  auto ds = Dataset::open(o.data);
  auto cols = columns_for(mo, o.extra_columns);
  for (const auto& c : cols)
    if (!ds.has_column(c)) fail_input("{}: no column '{}' (the model {} needs {})", o.data, c, o.model, fmt::join(cols, ","));
  const bool have_pos = ds.has_column(mmu::kRa) && ds.has_column(mmu::kDec);
  if (have_pos) cols.push_back(mmu::kRa), cols.push_back(mmu::kDec);
  std::string target = o.target;
  if (target.empty() && ds.has_column("z")) target = "z";
  if (!target.empty() && !ds.has_column(target)) fail_input("{}: no column '{}' (--target)", o.data, target);
  if (!o.report.empty() && target.empty()) fail_input("{}: --report needs the true redshift (no column z; give --target)", o.data);
  if (!target.empty()) cols.push_back(target);
  if (!o.out.empty() && !have_pos) fail_input("{}: an output dataset needs ra and dec in the input", o.data);
  if (!o.qp.empty() && !o.overwrite && std::filesystem::exists(o.qp)) fail_usage("{} exists (--overwrite to replace it)", o.qp);
  const auto grid = est.grid();
  const int64_t K = static_cast<int64_t>(grid.size());
  std::unique_ptr<DatasetWriter> w;
  if (!o.out.empty()) {
    WriteOptions wo;
    wo.overwrite = o.overwrite;
    wo.format = parse_out_format(o.out_format);
    if (wo.format == "hats") wo.hats_partitions = partitions_of(ds);
    w = std::make_unique<DatasetWriter>(o.out, "photoz", wo);
    w->set_attribute("source", fmt::format("astrofm photoz predict {} --data {}", o.model, o.data));
    w->set_attribute("pdf_values", nlohmann::json(grid).dump());
  }
  std::unique_ptr<QpWriter> q;
  if (!o.qp.empty()) q = std::make_unique<QpWriter>(o.qp, "interp", grid, std::vector<std::string>{"zmode", "zmedian", "zmean"},
                                                     std::vector<std::string>{"id"});
  std::vector<double> all_pdf, truth, modes, medians, means;
  DatasetReader r(ds, {.columns = cols, .batch_rows = o.batch});
  Progress bar("photoz predict", ds.rows());
  Table b;
  int64_t objects = 0;
  while (r.next(b)) {
    std::vector<int64_t> rows;
    const auto& ids = b.at(mmu::kObjectId).strings;
    for (int64_t i = 0; i < b.rows(); ++i)
      if (in_split(o.split, ids[i])) rows.push_back(i);
    bar.advance(b.rows());
    if (rows.empty()) continue;
    auto x = inputs_of(b, rows, mo, o.extra_columns, o.data);
    auto p = est.pdf(x);
    const int64_t n = x.n;
    std::vector<double> mode(n), median(n), mean(n), p16(n), p84(n);
    std::vector<float> pf(n * K);
    for (int64_t i = 0; i < n; ++i) {
      const double* pi = p.data() + i * K;
      auto s = summarize_grid_pdf(grid, pi);
      mode[i] = s.mode, median[i] = s.median, mean[i] = s.mean, p16[i] = s.p16, p84[i] = s.p84;
      for (int64_t k = 0; k < K; ++k) pf[i * K + k] = static_cast<float>(pi[k]);
    }
    std::vector<std::string> kept_ids;
    for (auto i : rows) kept_ids.push_back(ids[i]);
    if (w) {
      Table t;
      t.add(b.at(mmu::kObjectId).take(rows));
      t.add(b.at(mmu::kRa).take(rows));
      t.add(b.at(mmu::kDec).take(rows));
      t.add(make_column<double>("z_mode", mode));
      t.add(make_column<double>("z_median", median));
      t.add(make_column<double>("z_mean", mean));
      t.add(make_column<double>("z_p16", p16));
      t.add(make_column<double>("z_p84", p84));
      t.add(make_column<float>("z_pdf", pf, {K}));
      w->append(t);
    }
    if (q) q->append(n, p.data(), {mode.data(), median.data(), mean.data()}, {&kept_ids});
    if (!target.empty()) {
      // Metrics need every PDF (8 bytes x nzbins per object).
      for (int64_t i = 0; i < n; ++i)
        truth.push_back(b.at(target).as_double(rows[i])), modes.push_back(mode[i]), medians.push_back(median[i]), means.push_back(mean[i]);
      all_pdf.insert(all_pdf.end(), p.begin(), p.end());
    }
    objects += n;
  }
  bar.finish();
  if (w) w->commit();
  if (q) q->commit();
  nlohmann::json res = {{"objects", objects}, {"model", o.model}};
  if (!target.empty() && objects > 0) {
    std::vector<double> pit;
    auto m = grid_pdf_metrics(grid, all_pdf, truth, &pit);
    std::vector<double> t, pmode, pmed, pmean;
    for (size_t i = 0; i < truth.size(); ++i)
      if (std::isfinite(truth[i])) t.push_back(truth[i]), pmode.push_back(modes[i]), pmed.push_back(medians[i]), pmean.push_back(means[i]);
    m["mode"] = regression_metrics(t, pmode).to_json();
    m["median"] = regression_metrics(t, pmed).to_json();
    m["mean"] = regression_metrics(t, pmean).to_json();
    m["target"] = target;
    m["from"] = mo.bands;
    m["truth"] = fmt::format("the column {} of {}", target, o.data);
    if (!o.report.empty()) write_generate_report(o.report, m, t, pmode, pit, "astrofm photoz");
    res["metrics"] = m;
  }
  return res;
}

}  // namespace astrofm
