// `astrofm generate` (include/astrofm/generate.h).
#include "astrofm/generate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>

#include <spdlog/spdlog.h>

#include "astrofm/bundle.h"
#include "astrofm/codecs.h"
#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/mmu.h"
#include "astrofm/models/aion.h"
#include "astrofm/models/registry.h"
#include "astrofm/progress.h"
#include "astrofm/qp.h"
#include "astrofm/resources.h"
#include "codecs/codec_table.h"
#include "astrofm/report.h"

namespace astrofm {
namespace fs = std::filesystem;
using namespace astrofm::models;

namespace {

std::string tok_name(const std::string& m) { return m.rfind("tok_", 0) == 0 ? m : codecs::token_column(m); }

Column float_column(const std::string& name, const std::vector<double>& v) { return make_column<double>(name, v); }

// What one request generates from which columns: decided once per dataset
// (the file job) or per request (the service).
struct Plan {
  std::string target, base, name;  // token column; the codec's column names; the model's (image_hsc)
  const AionModality* tm = nullptr;
  const codecs::Codec* codec = nullptr;
  int64_t V = 0;
  RawTokenizer raw;
  std::vector<std::string> inputs, cols;  // token columns fed to the model; columns to read
  std::vector<double> bin_values;         // one-token targets: each bin's value
  bool have_truth = false;
};

}  // namespace

struct Generator::Impl {
  std::string model, model_path;
  LoadedModel lm;
  AionImpl* net = nullptr;
  std::shared_ptr<const codecs::CodecSet> loaded;  // decode the target (the given codecs, else the model's own)
  std::shared_ptr<const codecs::CodecSet> own;     // the model's own (bundle, snapshot): raw columns to tokens
  std::mutex mu;                                   // one generation at a time (torch's global seed)

  // The transformer, checked to be AION's, in eval mode.
  void use(LoadedModel loaded, const std::string& name) {
    lm = std::move(loaded);
    if (lm.architecture != "aion") fail_input("{}: a '{}' model; generate needs an AION model (astrofm train aion)", name, lm.architecture);
    net = &dynamic_cast<AionImpl&>(*lm.module);
    net->eval();
  }

  Plan plan(const std::vector<std::string>& present, const GenerateRequest& r, const std::string& where) const;
  // `b` already holds the token columns (the plan's raw tokenizer applied by the caller).
  Table run_batch(const Plan& p, const Table& b, const GenerateRequest& r, const std::string& where) const;
};

Generator::Generator(const std::string& model, const std::vector<std::string>& codec_files, const std::string& dtype)
    : impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  I.model = model;
  I.model_path = resolve_model_path(model);
  I.use(load_model(I.model_path, torch::kCPU, parse_model_dtype(dtype)), model);
  const auto codec_paths = codecs_for_model(I.model_path, codec_files);
  if (codec_paths.empty()) fail_usage("--codecs: {} is a transformer alone; name the codec files that decode its target", model);
  I.loaded = std::make_shared<const codecs::CodecSet>(codecs::CodecSet::load(codec_paths));
  if (codec_files.empty()) I.own = I.loaded;
  else if (auto own = codecs_for_model(I.model_path, {}); !own.empty()) I.own = std::make_shared<const codecs::CodecSet>(codecs::CodecSet::load(own));
}

Generator::Generator(const LoadedModel& loaded, const std::string& path, std::shared_ptr<const codecs::CodecSet> set)
    : impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  I.model = I.model_path = path;
  I.use(loaded, path);
  if (!set) fail_usage("--codecs: {} is a transformer alone; name the codec files that decode its target", path);
  I.loaded = I.own = std::move(set);
}

Generator::~Generator() = default;
const std::string& Generator::model_path() const { return impl_->model_path; }

Plan Generator::Impl::plan(const std::vector<std::string>& present, const GenerateRequest& r, const std::string& where) const {
  if (r.to.empty()) fail_usage("--to: the modality to generate");
  if (r.steps < 1) fail_usage("--steps must be at least 1");
  const AionConfig& cfg = net->config();
  const codecs::CodecSet& set = *loaded;
  Plan p;
  p.target = tok_name(r.to);
  p.tm = &cfg.modality(p.target);
  p.codec = &set.at(p.target.substr(4));
  const auto& tm = *p.tm;
  const auto& codec = *p.codec;
  // The values generated are the codec's. AION's released tok_z has one value
  // more than its Z codec makes (1,025 against 1,024 bins): no object is ever
  // tokenized to it, so that value is left out and the distribution is over
  // the codec's bins (renormalised), which is what decoding a sample through
  // AION's own codec can give.
  p.V = codec.info().vocab_size;
  models::check_generable(tm, where);  // before anything is written
  if (!codecs::model_takes(codec.info(), tm.tokens, tm.vocab))
    fail_input("{}: the {} codec makes {} tokens of {} values; the model's {} has {} of {}", set.source(codec.info().modality), codec.info().modality,
               codec.info().num_tokens, codec.info().vocab_size, p.target, tm.tokens, tm.vocab);
  // Raw MMU columns work too: the model's own codecs (a bundle or snapshot) tokenize them.
  std::vector<std::string> asked;
  for (const auto& f : r.from) asked.push_back(tok_name(f));
  p.raw = RawTokenizer(own, present, where, asked, {p.target});
  auto has = [&](const std::string& c) { return std::find(present.begin(), present.end(), c) != present.end() || p.raw.makes(c); };
  for (const auto& f : r.from) {
    std::string t = tok_name(f);
    cfg.modality(t);
    if (!has(t)) fail_input("{}: no {} column to generate from (nor the raw columns its codec reads)", where, t);
    if (t == p.target) fail_usage("--from {}: the target itself", f);
    p.inputs.push_back(t);
  }
  if (r.from.empty())
    for (const auto& m : cfg.modalities)
      if (m.column != p.target && has(m.column)) p.inputs.push_back(m.column);
  if (p.inputs.empty()) fail_input("{}: none of the model's modalities to generate from", where);
  p.have_truth = has(p.target) && tm.tokens == 1;
  p.cols = {mmu::kObjectId, mmu::kRa, mmu::kDec};
  auto need = [&](const std::string& c) {
    const bool in_data = std::find(present.begin(), present.end(), c) != present.end();
    for (const auto& x : p.raw.makes(c) && !in_data ? p.raw.inputs_of(c) : std::vector<std::string>{c})
      if (std::find(p.cols.begin(), p.cols.end(), x) == p.cols.end()) p.cols.push_back(x);
  };
  for (const auto& c : p.inputs) need(c);
  if (p.have_truth) need(p.target);
  p.base = codec.info().modality;  // the codec's column names
  p.name = p.target.substr(4);     // the model's (image_hsc for an image codec)
  if (tm.tokens == 1) {
    Column all(codecs::token_column(p.base), DType::Int32, {1}, p.V);
    for (int64_t k = 0; k < p.V; ++k) all.ptr<int32_t>()[k] = static_cast<int32_t>(k);
    Table d = codec.decode(all, {}, "bins");
    for (int64_t k = 0; k < p.V; ++k) p.bin_values.push_back(d.at(p.base).as_double(k));
  }
  return p;
}

// One batch of rows -> object_id, ra, dec and the target's columns.
Table Generator::Impl::run_batch(const Plan& pl, const Table& b, const GenerateRequest& opt, const std::string& where) const {
  const AionConfig& cfg = net->config();
  const auto& tm = *pl.tm;
  const auto& codec = *pl.codec;
  const auto& inputs = pl.inputs;
  const auto& bin_values = pl.bin_values;
  const auto& base = pl.base;
  const auto& name = pl.name;
  const int64_t V = pl.V;
  auto& net = *this->net;
  torch::NoGradGuard ng;
  const int64_t B = b.rows();
  AionInputs in;
  int64_t total = 0;
  std::vector<std::string> used;
  for (const auto& c0 : inputs) {
    // Raw images tokenized here are named by their bands (tok_image or tok_image_hsc): take whichever came, once.
    std::string c = c0;
    if (!b.find(c) && (c0 == "tok_image" || c0 == "tok_image_hsc")) c = c0 == "tok_image" ? "tok_image_hsc" : "tok_image";
    if (std::find(used.begin(), used.end(), c) != used.end()) continue;
    used.push_back(c);
    in.tokens.emplace_back(cfg.modality(c).key, aion_tokens(b.at(c), cfg.modality(c), where));
    total += cfg.modality(c).tokens;
  }
  Table o;
  o.add(b.at(mmu::kObjectId));
  o.add(b.at(mmu::kRa));
  o.add(b.at(mmu::kDec));
  if (tm.tokens == 1) {
    auto p = net.decode(net.encode(in, total), {tm.key})[0].select(1, 0).narrow(-1, 0, V).softmax(-1).to(torch::kFloat64).contiguous();
    std::vector<double> mean(B), median(B), mode(B), p025(B), p16(B), p84(B), p975(B);
    Column pdf(base + "_pdf", DType::Float32, {V}, B);
    for (int64_t i = 0; i < B; ++i) {
      const double* pi = static_cast<const double*>(p.data_ptr()) + i * V;
      double m = 0, cdf = 0, best = -1;
      double qs[5] = {0.025, 0.16, 0.5, 0.84, 0.975}, qv[5] = {NAN, NAN, NAN, NAN, NAN};
      int qi = 0;
      for (int64_t k = 0; k < V; ++k) {
        if (std::isfinite(bin_values[k])) m += pi[k] * bin_values[k];
        cdf += pi[k];
        while (qi < 5 && cdf >= qs[qi]) qv[qi++] = bin_values[k];
        if (pi[k] > best) best = pi[k], mode[i] = bin_values[k];
        pdf.ptr<float>()[i * V + k] = static_cast<float>(pi[k]);
      }
      mean[i] = m, p025[i] = qv[0], p16[i] = qv[1], median[i] = qv[2], p84[i] = qv[3], p975[i] = qv[4];
    }
    o.add(float_column(base + "_mean", mean));
    o.add(float_column(base + "_median", median));
    o.add(float_column(base + "_mode", mode));
    o.add(float_column(base + "_p02_5", p025));
    o.add(float_column(base + "_p16", p16));
    o.add(float_column(base + "_p84", p84));
    o.add(float_column(base + "_p97_5", p975));
    o.add(std::move(pdf));
  } else {
    // Iterative masked decoding: decoded tokens join the encoder's inputs.
    auto known = torch::full({B, tm.tokens}, -1, torch::kLong);
    for (int64_t s = 0; s < opt.steps; ++s) {
      AionInputs step = in;
      step.tokens.emplace_back(tm.key, known.clamp_min(0));
      step.masks.assign(step.tokens.size(), torch::Tensor());
      step.masks.back() = known < 0;
      auto logits = net.decode(net.encode(step, total + tm.tokens), {tm.key})[0];
      // Positions that draw from a smaller range than the vocabulary (a spectrum's LFQ codes).
      for (int64_t k = 0; k < tm.tokens; ++k)
        if (codec.info().vocab_at(k) < tm.vocab) logits.select(1, k).slice(-1, codec.info().vocab_at(k)).fill_(-INFINITY);
      torch::Tensor pick, conf;
      if (opt.temperature <= 0) {
        auto mx = logits.softmax(-1).max(-1);
        conf = std::get<0>(mx), pick = std::get<1>(mx);
      } else {
        auto prob = (logits / opt.temperature).softmax(-1);
        pick = torch::multinomial(prob.reshape({-1, tm.vocab}), 1).reshape({B, tm.tokens});
        conf = prob.gather(-1, pick.unsqueeze(-1)).squeeze(-1);
      }
      // Cosine schedule: after step s, this many tokens are fixed.
      int64_t fixed = s + 1 == opt.steps ? tm.tokens
                                         : static_cast<int64_t>(std::ceil(tm.tokens * (1 - std::cos(M_PI / 2 * (s + 1) / opt.steps))));
      conf = conf.masked_fill(known >= 0, -1.0);  // already fixed: not re-chosen
      auto already = (known >= 0).sum(1);
      auto order = conf.argsort(1, /*descending=*/true);
      for (int64_t i = 0; i < B; ++i) {
        int64_t add = fixed - already[i].item<int64_t>();
        for (int64_t k = 0; k < add; ++k) {
          int64_t pos = order[i][k].item<int64_t>();
          known[i][pos] = pick[i][pos];
        }
      }
    }
    Table ctx;
    if (codec.info().modality_kind() == ModalityKind::Image) {
      std::vector<std::string> bands = opt.bands.empty() ? codec.info().config.value("decode_bands", std::vector<std::string>{}) : opt.bands;
      std::vector<std::string> all;
      for (int64_t i = 0; i < B; ++i) all.insert(all.end(), bands.begin(), bands.end());
      ctx.add(make_string_column(mmu::kImageBand, all, {static_cast<int64_t>(bands.size())}));
    }
    Table d = codec.decode(codecs::tokens_column(base, known), ctx, where);
    o.add(codecs::tokens_column(name, known));
    for (auto& c : d.columns()) o.add(std::move(c));
  }
  return o;
}

Table Generator::generate(const Table& rows, const GenerateRequest& r, const std::string& where) const {
  auto& I = *impl_;
  std::vector<std::string> present = rows.names();
  Plan p = I.plan(present, r, where);
  for (const auto& c : p.cols)
    if (!rows.has(c)) fail_input("{}: no column {}", where, c);
  std::lock_guard<std::mutex> l(I.mu);
  torch::manual_seed(r.seed);
  Table out;
  for (int64_t s = 0; s < rows.rows(); s += 64) {
    Table b = rows.slice(s, std::min<int64_t>(64, rows.rows() - s));
    if (!p.raw.empty()) b = p.raw.tokenize(b);
    Table o = I.run_batch(p, b, r, where);
    if (out.columns().empty()) out = std::move(o);
    else out.append(o);
  }
  return out;
}

GenerateResult generate(const GenerateOptions& opt) {
  Generator gen(opt.model, opt.codecs, opt.dtype);
  auto& I = *gen.impl_;
  Dataset ds = Dataset::open(opt.data);
  std::vector<std::string> present;
  for (const auto& c : ds.schema()) present.push_back(c.name);
  GenerateRequest req{opt.from, opt.to, opt.steps, opt.temperature, opt.seed, opt.bands};
  const Plan p = I.plan(present, req, opt.data);
  const auto& tm = *p.tm;
  const auto& bin_values = p.bin_values;
  const std::string& base = p.base;
  const std::string& name = p.name;
  const std::string& target = p.target;
  const int64_t V = p.V;
  WriteOptions wo;
  wo.overwrite = opt.overwrite;
  wo.format = parse_out_format(opt.out_format);
  if (wo.format == "hats") wo.hats_partitions = partitions_of(ds);
  DatasetWriter w(opt.out, "generated", wo);
  std::string from_list = fmt::format("{}", fmt::join(p.inputs, ","));
  w.set_attribute("source", fmt::format("astrofm generate --model {} --data {} --from {} --to {}", opt.model, opt.data, from_list, target));
  if (!bin_values.empty()) w.set_attribute("pdf_values", nlohmann::json(bin_values).dump());
  // qp: a histogram over the codec's finite bins, edges halfway between bin values.
  std::unique_ptr<QpWriter> qp;
  std::vector<int64_t> qp_bins;
  std::vector<double> qp_width;
  if (!opt.qp.empty()) {
    if (tm.tokens != 1) fail_usage("--qp: {} is not a one-token target (a scalar such as Z)", name);
    std::vector<double> v;
    for (int64_t k = 0; k < V; ++k)
      if (std::isfinite(bin_values[k])) qp_bins.push_back(k), v.push_back(bin_values[k]);
    for (size_t k = 1; k < v.size(); ++k)
      if (!(v[k] > v[k - 1])) fail_input("--qp: the codec's bin values do not increase (bin {})", k);
    if (v.size() < 2) fail_input("--qp: the codec has {} finite bins", v.size());
    std::vector<double> edges = {v[0] - 0.5 * (v[1] - v[0])};
    for (size_t k = 0; k + 1 < v.size(); ++k) edges.push_back(0.5 * (v[k] + v[k + 1]));
    edges.push_back(v.back() + 0.5 * (v.back() - v[v.size() - 2]));
    for (size_t k = 0; k < v.size(); ++k) qp_width.push_back(edges[k + 1] - edges[k]);
    if (!opt.overwrite && std::filesystem::exists(opt.qp)) fail_usage("{} exists (--overwrite to replace it)", opt.qp);
    qp = std::make_unique<QpWriter>(opt.qp, "hist", edges, std::vector<std::string>{"zmode", "zmedian", "zmean"},
                                    std::vector<std::string>{"id"});
  }
  torch::manual_seed(opt.seed);
  DatasetReader r(ds, {.columns = p.cols, .batch_rows = opt.batch});
  Progress bar("generate " + name, ds.rows());
  GenerateResult res;
  std::vector<std::vector<double>> pdfs;
  std::vector<double> truths, medians, means;
  Table b;
  while (r.next(b)) {
    const int64_t B = b.rows();
    if (!p.raw.empty()) b = p.raw.tokenize(b);  // once: the model's inputs and the truth
    Table o = I.run_batch(p, b, req, opt.data);
    if (tm.tokens == 1) {
      const Column& pdf = o.at(base + "_pdf");
      if (qp) {
        std::vector<double> dens(B * qp_bins.size());
        for (int64_t i = 0; i < B; ++i) {
          const float* pi = pdf.ptr<float>() + i * V;
          double total = 0;
          for (auto k : qp_bins) total += pi[k];
          for (size_t j = 0; j < qp_bins.size(); ++j) dens[i * qp_bins.size() + j] = pi[qp_bins[j]] / std::max(total, 1e-300) / qp_width[j];
        }
        std::vector<double> mode(B), median(B), mean(B);
        for (int64_t i = 0; i < B; ++i)
          mode[i] = o.at(base + "_mode").as_double(i), median[i] = o.at(base + "_median").as_double(i), mean[i] = o.at(base + "_mean").as_double(i);
        qp->append(B, dens.data(), {mode.data(), median.data(), mean.data()}, {&b.at(mmu::kObjectId).strings});
      }
      if (p.have_truth) {
        const Column* truth_col = &b.at(target);
        for (int64_t i = 0; i < B; ++i) {
          int64_t t = truth_col->as_int64(i);
          truths.push_back(t >= 0 && t < V ? bin_values[t] : NAN);
          pdfs.emplace_back(pdf.ptr<float>() + i * V, pdf.ptr<float>() + (i + 1) * V);
          medians.push_back(o.at(base + "_median").as_double(i)), means.push_back(o.at(base + "_mean").as_double(i));
        }
      }
    }
    if (res.columns.empty()) res.columns = o.names();
    w.append(o);
    res.objects += B;
    bar.advance(B);
  }
  bar.finish();
  w.commit();
  if (qp) qp->commit();
  if (p.have_truth) {
    std::vector<double> pit;
    res.metrics = probabilistic_metrics(pdfs, bin_values, truths, &pit);
    // Point estimates, with the photo-z conventions of the probes (finite truths only).
    std::vector<double> t, med, mn;
    for (size_t i = 0; i < truths.size(); ++i)
      if (std::isfinite(truths[i]) && std::isfinite(medians[i])) t.push_back(truths[i]), med.push_back(medians[i]), mn.push_back(means[i]);
    res.metrics["median"] = regression_metrics(t, med).to_json();
    res.metrics["mean"] = regression_metrics(t, mn).to_json();
    res.metrics["target"] = target;
    res.metrics["from"] = p.inputs;
    res.metrics["truth"] = "the target's own tokens in the data, decoded to their bin values";
    if (!opt.report.empty()) write_generate_report(opt.report, res.metrics, t, med, pit);
  }
  return res;
}

}  // namespace astrofm
