// `astrofm generate` (include/astrofm/generate.h).
#include "astrofm/generate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

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
#include "eval/plot.h"
#include "eval/report.h"

namespace astrofm {
namespace fs = std::filesystem;
using namespace astrofm::models;

namespace {

std::string tok_name(const std::string& m) { return m.rfind("tok_", 0) == 0 ? m : codecs::token_column(m); }

Column float_column(const std::string& name, const std::vector<double>& v) { return make_column<double>(name, v); }

}  // namespace

GenerateResult generate(const GenerateOptions& opt) {
  if (opt.to.empty()) fail_usage("--to: the modality to generate");
  if (opt.steps < 1) fail_usage("--steps must be at least 1");
  const std::string model_path = resolve_model_path(opt.model);
  auto lm = load_model(model_path, torch::kCPU, parse_model_dtype(opt.dtype));
  if (lm.architecture != "aion") fail_input("{}: a '{}' model; generate needs an AION model (astrofm train aion)", opt.model, lm.architecture);
  auto& net = dynamic_cast<AionImpl&>(*lm.module);
  net.eval();
  const AionConfig& cfg = net.config();
  const auto codec_paths = codecs_for_model(model_path, opt.codecs);
  if (codec_paths.empty()) fail_usage("--codecs: {} is a transformer alone; name the codec files that decode its target", opt.model);
  const auto loaded = std::make_shared<const codecs::CodecSet>(codecs::CodecSet::load(codec_paths));
  const codecs::CodecSet& set = *loaded;
  const std::string target = tok_name(opt.to);
  const AionModality& tm = cfg.modality(target);
  const codecs::Codec& codec = set.at(target.substr(4));
  // The values generated are the codec's. AION's released tok_z has one value
  // more than its Z codec makes (1,025 against 1,024 bins): no object is ever
  // tokenized to it, so that value is left out and the distribution is over
  // the codec's bins (renormalised), which is what decoding a sample through
  // AION's own codec can give.
  const int64_t V = codec.info().vocab_size;
  if (!codecs::model_takes(codec.info(), tm.tokens, tm.vocab))
    fail_input("{}: the {} codec makes {} tokens of {} values; the model's {} has {} of {}", set.source(codec.info().modality), codec.info().modality,
               codec.info().num_tokens, codec.info().vocab_size, target, tm.tokens, tm.vocab);
  Dataset ds = Dataset::open(opt.data);
  // Raw MMU columns work too: the model's own codecs (a bundle or snapshot) tokenize them.
  std::vector<std::string> present;
  for (const auto& c : ds.schema()) present.push_back(c.name);
  std::vector<std::string> asked;
  for (const auto& f : opt.from) asked.push_back(tok_name(f));
  // The model's own codecs: the ones just loaded unless --codecs named others (loaded once either way).
  const RawTokenizer raw = opt.codecs.empty() ? RawTokenizer(loaded, present, opt.data, asked, {target})
                                              : RawTokenizer(model_path, present, opt.data, asked, {target});
  auto has = [&](const std::string& c) { return ds.has_column(c) || raw.makes(c); };
  std::vector<std::string> inputs;
  for (const auto& f : opt.from) {
    std::string t = tok_name(f);
    cfg.modality(t);
    if (!has(t)) fail_input("{}: no {} column to generate from (nor the raw columns its codec reads)", opt.data, t);
    if (t == target) fail_usage("--from {}: the target itself", f);
    inputs.push_back(t);
  }
  if (opt.from.empty())
    for (const auto& m : cfg.modalities)
      if (m.column != target && has(m.column)) inputs.push_back(m.column);
  if (inputs.empty()) fail_input("{}: none of the model's modalities to generate from", opt.data);
  const bool have_truth = has(target) && tm.tokens == 1;
  std::vector<std::string> cols = {mmu::kObjectId, mmu::kRa, mmu::kDec};
  auto need = [&](const std::string& c) {
    for (const auto& x : raw.makes(c) && !ds.has_column(c) ? raw.inputs_of(c) : std::vector<std::string>{c})
      if (std::find(cols.begin(), cols.end(), x) == cols.end()) cols.push_back(x);
  };
  for (const auto& c : inputs) need(c);
  if (have_truth) need(target);
  // One-token targets: each bin's value, from the codec.
  std::vector<double> bin_values;
  const std::string base = codec.info().modality;  // the codec's column names
  const std::string name = target.substr(4);       // the model's (image_hsc for an image codec)
  if (tm.tokens == 1) {
    Column all(codecs::token_column(base), DType::Int32, {1}, V);
    for (int64_t k = 0; k < V; ++k) all.ptr<int32_t>()[k] = static_cast<int32_t>(k);
    Table d = codec.decode(all, {}, "bins");
    for (int64_t k = 0; k < V; ++k) bin_values.push_back(d.at(base).as_double(k));
  }
  WriteOptions wo;
  wo.overwrite = opt.overwrite;
  wo.format = parse_out_format(opt.out_format);
  if (wo.format == "hats") wo.hats_partitions = partitions_of(ds);
  DatasetWriter w(opt.out, "generated", wo);
  std::string from_list = fmt::format("{}", fmt::join(inputs, ","));
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
  DatasetReader r(ds, {.columns = cols, .batch_rows = opt.batch});
  Progress bar("generate " + name, ds.rows());
  GenerateResult res;
  std::vector<std::vector<double>> pdfs;
  std::vector<double> truths, medians, means;
  Table b;
  while (r.next(b)) {
    torch::NoGradGuard ng;
    if (!raw.empty()) b = raw.tokenize(b);
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
      in.tokens.emplace_back(cfg.modality(c).key, aion_tokens(b.at(c), cfg.modality(c), opt.data));
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
        std::vector<double> row(pi, pi + V);
        for (int64_t k = 0; k < V; ++k) {
          if (std::isfinite(bin_values[k])) m += pi[k] * bin_values[k];
          cdf += pi[k];
          while (qi < 5 && cdf >= qs[qi]) qv[qi++] = bin_values[k];
          if (pi[k] > best) best = pi[k], mode[i] = bin_values[k];
          pdf.ptr<float>()[i * V + k] = static_cast<float>(pi[k]);
        }
        mean[i] = m, p025[i] = qv[0], p16[i] = qv[1], median[i] = qv[2], p84[i] = qv[3], p975[i] = qv[4];
        if (have_truth) {
          int64_t t = b.at(target).as_int64(i);
          truths.push_back(t >= 0 && t < V ? bin_values[t] : NAN);
          pdfs.push_back(std::move(row));
          medians.push_back(median[i]), means.push_back(mean[i]);
        }
      }
      if (qp) {
        std::vector<double> dens(B * qp_bins.size());
        for (int64_t i = 0; i < B; ++i) {
          const double* pi = static_cast<const double*>(p.data_ptr()) + i * V;
          double total = 0;
          for (auto k : qp_bins) total += pi[k];
          for (size_t j = 0; j < qp_bins.size(); ++j) dens[i * qp_bins.size() + j] = pi[qp_bins[j]] / std::max(total, 1e-300) / qp_width[j];
        }
        qp->append(B, dens.data(), {mode.data(), median.data(), mean.data()}, {&b.at(mmu::kObjectId).strings});
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
      if (codec.info().kind == "image") {
        std::vector<std::string> bands = opt.bands.empty() ? codec.info().config.value("decode_bands", std::vector<std::string>{}) : opt.bands;
        std::vector<std::string> all;
        for (int64_t i = 0; i < B; ++i) all.insert(all.end(), bands.begin(), bands.end());
        ctx.add(make_string_column(mmu::kImageBand, all, {static_cast<int64_t>(bands.size())}));
      }
      Table d = codec.decode(codecs::tokens_column(base, known), ctx, opt.data);
      o.add(codecs::tokens_column(name, known));
      for (auto& c : d.columns()) o.add(std::move(c));
    }
    if (res.columns.empty()) res.columns = o.names();
    w.append(o);
    res.objects += B;
    bar.advance(B);
  }
  bar.finish();
  w.commit();
  if (qp) qp->commit();
  if (have_truth) {
    std::vector<double> pit;
    res.metrics = probabilistic_metrics(pdfs, bin_values, truths, &pit);
    // Point estimates, with the photo-z conventions of the probes (finite truths only).
    std::vector<double> t, med, mn;
    for (size_t i = 0; i < truths.size(); ++i)
      if (std::isfinite(truths[i]) && std::isfinite(medians[i])) t.push_back(truths[i]), med.push_back(medians[i]), mn.push_back(means[i]);
    res.metrics["median"] = regression_metrics(t, med).to_json();
    res.metrics["mean"] = regression_metrics(t, mn).to_json();
    res.metrics["target"] = target;
    res.metrics["from"] = inputs;
    res.metrics["truth"] = "the target's own tokens in the data, decoded to their bin values";
    if (!opt.report.empty()) write_generate_report(opt.report, res.metrics, t, med, pit);
  }
  return res;
}

}  // namespace astrofm
