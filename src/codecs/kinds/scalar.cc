// Scalar codecs (AION's aion/codecs/quantizers/scalar.py): "scalar", an
// empirical CDF from a reservoir sample whose codebook is the inverse CDF at
// `bins` evenly spaced quantiles (encode: bucketize; decode: the bin's value),
// after a linear, log (with a floor) or arcsinh transform; and "scalar-grid",
// linear bins on a fixed range (AION's redshift codec). A column of shape [C]
// gets C tokens, one codebook each (AION's MultiScalar codec). Non-finite
// values encode to kMissing.
#include <cmath>
#include <random>

#include <spdlog/spdlog.h>

#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/progress.h"
#include "codecs/codec_table.h"
#include "codecs/nets.h"

namespace astrofm::codecs {
namespace {

torch::Tensor values_of(const Table& b, const std::string& column, int64_t channels, const std::string& where) {
  const Column& c = b.at(column);
  if (!dtype_is_float(c.dtype) && !dtype_is_integer(c.dtype)) fail_input("{}: column {} is {}, not numbers", where, column, c.describe());
  if (c.row_elems() != channels)
    fail_input("{}: column {} has {} values per object; the codec was fitted for {}", where, column, c.row_elems(), channels);
  std::vector<float> v(static_cast<size_t>(c.rows * channels));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(c.as_double(static_cast<int64_t>(i)));
  return torch::tensor(v).reshape({c.rows, channels});
}

Column values_column(const std::string& column, const torch::Tensor& v, bool vector) {
  auto d = v.to(torch::kFloat64).contiguous();
  Column c(column, DType::Float64, vector ? std::vector<int64_t>{d.size(1)} : std::vector<int64_t>{}, d.size(0));
  std::memcpy(c.data.data(), d.data_ptr<double>(), c.data.size());
  return c;
}

struct ReservoirCodec : Codec {
  using Codec::info_;
  std::string transform;  // linear | log | arcsinh
  float log_floor = 0;
  torch::Tensor codebook;   // [C, K], transformed space
  torch::Tensor reservoir;  // [C, R]
  bool vector = false;

  void finish() {
    info_.num_tokens = codebook.size(0);
    info_.vocab_size = codebook.size(1);
    vector = info_.config.value("vector", false);
    transform = info_.config.at("transform").get<std::string>();
    log_floor = static_cast<float>(std::exp(info_.config.value("min_log", -3.0)));
  }
  torch::Tensor forward_transform(torch::Tensor z) const {
    if (transform == "log") {
      z = z.clone();
      z.masked_fill_(z <= log_floor, log_floor);
      return torch::log(z);
    }
    if (transform == "arcsinh") return torch::arcsinh(z);
    return z;
  }
  torch::Tensor inverse_transform(const torch::Tensor& z) const {
    if (transform == "log") return torch::exp(z);
    if (transform == "arcsinh") return torch::sinh(z);
    return z;
  }
  std::vector<std::string> input_columns() const override { return {info_.modality}; }
  Column encode(const Table& b, const std::string& where) const override {
    auto v = values_of(b, info_.modality, info_.num_tokens, where);
    auto z = forward_transform(v);
    std::vector<torch::Tensor> per;
    const int64_t k = codebook.size(1);
    for (int64_t c = 0; c < codebook.size(0); ++c)
      per.push_back(torch::bucketize(z.select(1, c).contiguous(), codebook[c].slice(0, 0, k - 1).contiguous()));
    auto tok = torch::stack(per, 1);
    tok.masked_fill_(~torch::isfinite(v), kMissing);
    return tokens_column(info_.modality, tok);
  }
  Table decode(const Column& tokens, const Table&, const std::string& where) const override {
    auto t = tokens_tensor(tokens, info_, true, where);
    auto missing = t == kMissing;
    auto safe = t.clamp_min(0);
    std::vector<torch::Tensor> per;
    for (int64_t c = 0; c < codebook.size(0); ++c) per.push_back(codebook[c].index_select(0, safe.select(1, c)));
    auto v = inverse_transform(torch::stack(per, 1)).masked_fill(missing, NAN);
    Table out;
    out.add(values_column(info_.modality, v, vector));
    return out;
  }
  ModelFile to_part() const override { return codec_part(info_, {{"codebook", codebook}, {"reservoir", reservoir}}); }
};

struct GridCodec : Codec {
  using Codec::info_;
  torch::Tensor buckets;  // [K]
  std::vector<std::string> input_columns() const override { return {info_.modality}; }
  Column encode(const Table& b, const std::string& where) const override {
    auto v = values_of(b, info_.modality, 1, where);
    auto tok = linear_bucketize(v, buckets).to(torch::kLong);
    tok.masked_fill_(~torch::isfinite(v), kMissing);
    return tokens_column(info_.modality, tok);
  }
  Table decode(const Column& tokens, const Table&, const std::string& where) const override {
    auto t = tokens_tensor(tokens, info_, true, where);
    auto v = buckets.index_select(0, t.clamp_min(0).flatten()).reshape(t.sizes()).masked_fill(t == kMissing, NAN);
    Table out;
    out.add(values_column(info_.modality, v, false));
    return out;
  }
  ModelFile to_part() const override { return codec_part(info_, {{"buckets", buckets}}); }
};

std::shared_ptr<GridCodec> make_grid(const std::string& column, double lo, double hi, int64_t bins) {
  if (!(hi > lo) || bins < 2) fail_usage("grid codec for {}: needs range lo < hi and at least 2 bins, got [{}, {}] and {}", column, lo, hi, bins);
  auto c = std::make_shared<GridCodec>();
  c->buckets = torch::linspace(lo, hi, bins);
  c->info_ = {"scalar-grid", column, 1, bins, {{"range", {lo, hi}}, {"bins", bins}}};
  return c;
}

// AION's modality class -> (MMU column, transform) for the scalar codecs it ships.
struct AionScalar {
  const char* aion;
  const char* column;
  const char* transform;
};
constexpr AionScalar kAionScalars[] = {
    {"LegacySurveyFluxG", "FLUX_G", "log"},   {"LegacySurveyFluxR", "FLUX_R", "log"},   {"LegacySurveyFluxI", "FLUX_I", "log"},
    {"LegacySurveyFluxZ", "FLUX_Z", "log"},   {"LegacySurveyFluxW1", "FLUX_W1", "log"}, {"LegacySurveyFluxW2", "FLUX_W2", "log"},
    {"LegacySurveyFluxW3", "FLUX_W3", "log"}, {"LegacySurveyFluxW4", "FLUX_W4", "log"}, {"LegacySurveyShapeR", "SHAPE_R", "log"},
    {"LegacySurveyShapeE1", "SHAPE_E1", "linear"}, {"LegacySurveyShapeE2", "SHAPE_E2", "linear"}, {"LegacySurveyEBV", "EBV", "linear"},
    {"Z", "Z", "grid"}, {"GaiaFluxG", "phot_g_mean_flux", "log"}, {"GaiaFluxBp", "phot_bp_mean_flux", "log"},
    {"GaiaFluxRp", "phot_rp_mean_flux", "log"}, {"GaiaParallax", "parallax", "log"}, {"Ra", "ra", "linear"}, {"Dec", "dec", "linear"},
    {"GaiaXpBp", "bp_coefficients", "arcsinh"}, {"GaiaXpRp", "rp_coefficients", "arcsinh"},
};

std::shared_ptr<const Codec> convert_scalar(const StateDict& sd0, const nlohmann::json& hp, const std::string& where) {
  // AION saved its scalar codecs with "quantizer." as well as "_quantizer.".
  StateDict sd;
  for (const auto& [k, v] : sd0) sd[k.rfind("quantizer.", 0) == 0 ? "_" + k : k] = v;
  std::string column = hp.value("column", ""), transform = hp.value("transform", "");
  std::string aion = hp.value("modality", "");
  for (const auto& a : kAionScalars)
    if (aion == a.aion || aion == a.column) {
      if (column.empty()) column = a.column;
      if (transform.empty()) transform = a.transform;
    }
  if (column.empty()) column = aion;  // AION keys its scalar modalities by the MMU column name
  if (sd.count("_quantizer.buckets")) {
    auto b = sd.at("_quantizer.buckets").to(torch::kFloat32);
    if (column.empty()) column = "Z";
    auto c = make_grid(column, b[0].item<double>(), b[-1].item<double>(), b.size(0));
    c->buckets = b.clone();
    return c;
  }
  if (column.empty())
    fail_usage("{}: which column does this scalar codec tokenize? pass --set column=NAME (or --set modality=<AION modality class>)", where);
  std::vector<torch::Tensor> cbs, res;
  if (sd.count("_quantizer._index_to_val")) {
    cbs.push_back(sd.at("_quantizer._index_to_val"));
    res.push_back(need(sd, "_quantizer._reservoir", where));
  } else {
    for (int64_t i = 0; sd.count(fmt::format("_quantizer.quantizers.{}._index_to_val", i)); ++i) {
      cbs.push_back(sd.at(fmt::format("_quantizer.quantizers.{}._index_to_val", i)));
      res.push_back(need(sd, fmt::format("_quantizer.quantizers.{}._reservoir", i), where));
    }
    if (cbs.empty()) fail_input("{}: no _quantizer._index_to_val or _quantizer.buckets: not an AION scalar codec", where);
    if (transform.empty()) transform = "arcsinh";  // AION's MultiScalar codecs compress with arcsinh
  }
  if (transform.empty()) transform = "linear";
  if (transform != "linear" && transform != "log" && transform != "arcsinh")
    fail_usage("{}: transform must be linear, log or arcsinh, got '{}'", where, transform);
  auto c = std::make_shared<ReservoirCodec>();
  c->codebook = torch::stack(cbs).to(torch::kFloat32);
  c->reservoir = torch::stack(res).to(torch::kFloat32);
  c->info_ = {"scalar", column, 1, 0,
              {{"transform", transform}, {"min_log", hp.value("min_log_value", -3.0)}, {"bins", c->codebook.size(1)},
               {"reservoir_size", c->reservoir.size(1)}, {"vector", cbs.size() > 1}}};
  c->finish();
  return c;
}

}  // namespace

namespace {
void register_scalar_grid(CodecTable& t);
}  // namespace

// Both scalar kinds: the empirical-CDF codec and the fixed grid.
void register_scalar(CodecTable& t) {
  register_scalar_grid(t);
  CodecSpec s;
  s.kind = "scalar";
  s.modality_kind = ModalityKind::Scalar;
  s.description = "empirical-CDF bins of a catalogue column (linear, log or arcsinh transform)";
  s.default_config = [] { return nlohmann::json{{"transform", "linear"}, {"min_log", -3.0}, {"bins", 1024}, {"reservoir_size", 100000}}; };
  s.load = [](const ModelFile& part, const std::string& where) -> std::shared_ptr<const Codec> {
    auto c = std::make_shared<ReservoirCodec>();
    const auto* cb = part.find("codebook");
    const auto* rs = part.find("reservoir");
    if (!cb || !rs) fail_corrupt("{}: scalar codec without codebook/reservoir tensors", where);
    c->codebook = models::from_stored(*cb).to(torch::kFloat32);
    c->reservoir = models::from_stored(*rs).to(torch::kFloat32);
    if (c->codebook.dim() != 2 || c->codebook.size(1) < 2) fail_corrupt("{}: scalar codebook with {} dimensions", where, c->codebook.dim());
    c->info_ = {"scalar", part.meta.at("modality"), 1, 0, part.meta.at("config")};
    c->finish();
    return c;
  };
  s.convert_kinds = {"aion-codec-scalar"};
  s.convert = [](const std::string&, const StateDict& sd, const nlohmann::json& hp, const std::string& where) { return convert_scalar(sd, hp, where); };
  t.add(std::move(s));
}

namespace {
void register_scalar_grid(CodecTable& t) {
  CodecSpec s;
  s.kind = "scalar-grid";
  s.modality_kind = ModalityKind::Scalar;
  s.description = "linear bins on a fixed range (AION's redshift codec)";
  s.default_config = [] { return nlohmann::json{{"range", {0.0, 1.0}}, {"bins", 1024}}; };
  s.load = [](const ModelFile& part, const std::string& where) -> std::shared_ptr<const Codec> {
    const auto* b = part.find("buckets");
    if (!b) fail_corrupt("{}: grid codec without its buckets tensor", where);
    auto cfg = part.meta.at("config");
    auto c = make_grid(part.meta.at("modality"), cfg.at("range")[0], cfg.at("range")[1], cfg.at("bins"));
    c->buckets = models::from_stored(*b).to(torch::kFloat32);
    return c;
  };
  t.add(std::move(s));
}
}  // namespace

// ---------------------------------------------------------------- fitting

namespace {
std::string default_transform(const std::string& col) {
  if (col.rfind("FLUX_", 0) == 0 && col.rfind("FLUX_IVAR", 0) != 0) return "log";
  if (col == "SHAPE_R") return "log";
  if (col == "Z" || col == "z") return "grid";
  return "linear";
}
}  // namespace

nlohmann::json fit_scalar_codecs(const ScalarFitOptions& opt) {
  if (opt.data.empty()) fail_usage("--data: at least one dataset");
  if (opt.columns.empty()) fail_usage("--columns: at least one catalogue column");
  if (opt.bins < 2 || opt.reservoir < 2) fail_usage("--bins and --reservoir must be at least 2");
  if (opt.out.empty()) fail_usage("--out is required");
  if (std::filesystem::exists(opt.out) && !opt.overwrite) fail_input("output {} already exists (pass --overwrite)", opt.out);
  struct Fit {
    std::string column, transform;
    int64_t channels = -1, seen = 0, missing = 0;
    std::vector<std::vector<float>> res;
    std::vector<int64_t> counts;
    std::mt19937_64 rng;
  };
  std::vector<Fit> fits;
  for (const auto& spec : opt.columns) {
    Fit f;
    auto colon = spec.find(':');
    f.column = spec.substr(0, colon);
    f.transform = colon == std::string::npos ? default_transform(f.column) : spec.substr(colon + 1);
    if (f.transform != "linear" && f.transform != "log" && f.transform != "arcsinh" && f.transform != "grid")
      fail_usage("--columns {}: transform must be linear, log, arcsinh or grid, got '{}'", spec, f.transform);
    f.rng.seed(opt.seed * 0x9E3779B97F4A7C15ull ^ std::hash<std::string>{}(f.column));
    fits.push_back(std::move(f));
  }
  const float floor_v = static_cast<float>(std::exp(opt.min_log));
  std::vector<std::string> cols;
  for (const auto& f : fits) cols.push_back(f.column);
  int64_t total = 0;
  for (const auto& d : opt.data) total += Dataset::open(d).rows();
  Progress bar("fit scalar codecs", total);
  for (const auto& d : opt.data) {
    Dataset ds = Dataset::open(d);
    for (const auto& c : cols)
      if (!ds.has_column(c)) fail_input("{}: no column '{}' to fit a codec for", d, c);
    DatasetReader r(ds, {.columns = cols, .batch_rows = 8192});
    Table b;
    while (r.next(b)) {
      for (auto& f : fits) {
        const Column& c = b.at(f.column);
        if (c.dtype == DType::String) fail_input("{}: column {} holds strings, not numbers", d, f.column);
        if (f.channels < 0) f.channels = c.row_elems(), f.res.resize(f.channels), f.counts.assign(f.channels, 0);
        if (c.row_elems() != f.channels) fail_input("{}: column {} has {} values per object, {} in another dataset", d, f.column, c.row_elems(), f.channels);
        if (f.transform == "grid" && f.channels != 1) fail_usage("{}: a grid codec takes one value per object, {} has {}", d, f.column, f.channels);
        for (int64_t i = 0; i < c.rows; ++i) {
          bool any = false;
          for (int64_t k = 0; k < f.channels; ++k) {
            float v = static_cast<float>(c.as_double(i * f.channels + k));
            if (!std::isfinite(v)) continue;
            any = true;
            if (f.transform == "log") v = std::log(std::max(v, floor_v));
            else if (f.transform == "arcsinh") v = std::asinh(v);
            auto& res = f.res[k];
            // Algorithm R, per channel (channels may miss different values).
            int64_t n = f.counts[k]++;
            if (n < opt.reservoir) {
              res.push_back(v);
            } else {
              int64_t j = std::uniform_int_distribution<int64_t>(0, n)(f.rng);
              if (j < opt.reservoir) res[static_cast<size_t>(j)] = v;
            }
          }
          if (!any) ++f.missing;
          ++f.seen;
        }
      }
      bar.advance(b.rows());
    }
  }
  bar.finish();
  CodecSet set;
  nlohmann::json fitted = nlohmann::json::array();
  for (auto& f : fits) {
    if (f.transform == "grid") {
      set.add(make_grid(f.column, opt.grid_range.at(0), opt.grid_range.at(1), opt.bins));
    } else {
      std::vector<torch::Tensor> cbs, rss;
      for (auto& res : f.res) {
        if (res.size() < 2) fail_input("{}: column {} has {} finite values; a codec needs at least 2", fmt::join(opt.data, ", "), f.column, res.size());
        std::sort(res.begin(), res.end());
        // The inverse CDF at linspace(0, 1, bins): linear interpolation between order statistics.
        std::vector<float> cb(static_cast<size_t>(opt.bins));
        const double m = static_cast<double>(res.size() - 1);
        for (int64_t q = 0; q < opt.bins; ++q) {
          double pos = m * q / (opt.bins - 1);
          size_t lo = static_cast<size_t>(std::floor(pos));
          size_t hi = std::min(lo + 1, res.size() - 1);
          cb[static_cast<size_t>(q)] = static_cast<float>(res[lo] + (pos - lo) * (static_cast<double>(res[hi]) - res[lo]));
        }
        cbs.push_back(torch::tensor(cb));
        rss.push_back(torch::tensor(res));
      }
      int64_t rmax = 0;
      for (auto& r : rss) rmax = std::max<int64_t>(rmax, r.size(0));
      for (auto& r : rss)  // channels with missing values hold fewer samples: pad by repeating the last
        if (r.size(0) < rmax) r = torch::cat({r, r[-1].repeat({rmax - r.size(0)})});
      auto c = std::make_shared<ReservoirCodec>();
      c->codebook = torch::stack(cbs);
      c->reservoir = torch::stack(rss);
      c->info_ = {"scalar", f.column, 1, 0,
                  {{"transform", f.transform}, {"min_log", opt.min_log}, {"bins", opt.bins}, {"reservoir_size", opt.reservoir},
                   {"vector", f.channels > 1}}};
      c->finish();
      set.add(c);
    }
    fitted.push_back({{"column", f.column}, {"transform", f.transform}, {"objects", f.seen}, {"missing", f.missing}});
  }
  std::string cmd = fmt::format("astrofm train codec-scalar --data {} --columns {} --bins {} --reservoir {} --out {}", fmt::join(opt.data, " "),
                                fmt::join(opt.columns, ","), opt.bins, opt.reservoir, opt.out);
  nlohmann::json meta = {{"name", std::filesystem::path(opt.out).stem().string()},
                         {"description", fmt::format("scalar codecs for {}", fmt::join(cols, ", "))},
                         {"training", {{"task", "codec-scalar"}, {"data", opt.data}, {"columns", fitted}, {"seed", opt.seed}, {"command", cmd}}},
                         {"astrofm_version", ASTROFM_VERSION}};
  set.save(opt.out, meta);
  return meta;
}

}  // namespace astrofm::codecs
