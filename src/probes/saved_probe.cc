#include "astrofm/saved_probe.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include <spdlog/spdlog.h>

#include "astrofm/error.h"
#include "astrofm/model_file.h"
#include "astrofm/strict_json.h"

namespace astrofm {
namespace {

constexpr int64_t kCheckRows = 16;  // training rows whose save-time predictions are stored

StoredTensor f32_tensor(const std::string& name, const float* v, std::vector<int64_t> shape) {
  StoredTensor t;
  t.name = name;
  t.dtype = TensorDType::F32;
  t.shape = std::move(shape);
  std::vector<uint8_t> b(t.numel() * 4);
  if (!b.empty()) std::memcpy(b.data(), v, b.size());
  t.set_bytes(std::move(b));
  return t;
}

StoredTensor f32_tensor(const std::string& name, const std::vector<double>& v) {
  std::vector<float> f(v.begin(), v.end());
  return f32_tensor(name, f.data(), {static_cast<int64_t>(f.size())});
}

std::vector<float> floats_of(const ModelFile& m, const std::string& name, const std::vector<int64_t>& shape, const std::string& path) {
  const StoredTensor* t = m.find(name);
  if (!t) fail_corrupt("{}: probe file has no tensor '{}'", path, name);
  if (t->dtype != TensorDType::F32 || t->shape != shape)
    fail_corrupt("{}: tensor '{}' is {}[{}], expected float32[{}]", path, name, tensor_dtype_name(t->dtype), fmt::join(t->shape, ","),
                 fmt::join(shape, ","));
  std::vector<float> v(t->numel());
  if (!v.empty()) std::memcpy(v.data(), t->bytes().data(), v.size() * 4);
  return v;
}

}  // namespace

nlohmann::json probe_options_to_json(const ProbeOptions& o) {
  return {{"kind", o.kind}, {"classification", o.classification}, {"classes", o.classes}, {"seed", o.seed},
          {"knn", {{"k", o.knn.k}, {"weights", o.knn.weights}, {"standardize", o.knn.standardize}}},
          {"alphas", o.alphas}, {"Cs", o.Cs}, {"cv_folds", o.cv_folds}, {"balanced", o.balanced}, {"hidden", o.hidden},
          {"dropout", o.dropout}, {"lr", o.lr}, {"weight_decay", o.weight_decay}, {"val_fraction", o.val_fraction},
          {"batch", o.batch}, {"max_epochs", o.max_epochs}, {"patience", o.patience}, {"tokens", o.tokens}, {"heads", o.heads}};
}

ProbeOptions probe_options_from_json(const nlohmann::json& j, const std::string& where) {
  ProbeOptions o;
  try {
    o.kind = j.at("kind").get<std::string>();
    o.classification = j.at("classification").get<bool>();
    o.classes = json_integer<int64_t>(j.at("classes"), where + ": classes");
    o.seed = json_integer<uint64_t>(j.at("seed"), where + ": seed");
    o.knn.k = json_integer<int>(j.at("knn").at("k"), where + ": knn.k");
    o.knn.weights = j.at("knn").at("weights").get<std::string>();
    o.knn.standardize = j.at("knn").at("standardize").get<bool>();
    o.alphas = j.at("alphas").get<std::vector<double>>();
    o.Cs = j.at("Cs").get<std::vector<double>>();
    o.cv_folds = json_integer<int>(j.at("cv_folds"), where + ": cv_folds");
    o.balanced = j.at("balanced").get<bool>();
    o.hidden = json_integers<int64_t>(j.at("hidden"), where + ": hidden");
    o.dropout = j.at("dropout").get<double>();
    o.lr = j.at("lr").get<double>();
    o.weight_decay = j.at("weight_decay").get<double>();
    o.val_fraction = j.at("val_fraction").get<double>();
    o.batch = json_integer<int64_t>(j.at("batch"), where + ": batch");
    o.max_epochs = json_integer<int64_t>(j.at("max_epochs"), where + ": max_epochs");
    o.patience = json_integer<int64_t>(j.at("patience"), where + ": patience");
    o.tokens = json_integer<int64_t>(j.at("tokens"), where + ": tokens");
    o.heads = json_integer<int64_t>(j.at("heads"), where + ": heads");
  } catch (const nlohmann::json::exception& e) {
    fail_corrupt("{}: probe options: {}", where, e.what());
  }
  if (o.knn.k < 1 || o.batch < 1 || o.cv_folds < 1 || o.val_fraction <= 0 || o.val_fraction >= 1)
    fail_corrupt("{}: probe options out of range (k {}, batch {}, folds {}, val_fraction {})", where, o.knn.k, o.batch, o.cv_folds,
                 o.val_fraction);
  return o;
}

void save_probe(const std::string& path, const ProbeSaveData& d) {
  ASTROFM_ASSERT(d.x.n == static_cast<int64_t>(d.y.size()), "{} rows, {} targets", d.x.n, d.y.size());
  auto probe = make_probe(d.options);
  probe->fit(d.x, d.y);
  Features head = take_rows(d.x, [&] {
    std::vector<int64_t> r;
    for (int64_t i = 0; i < std::min(kCheckRows, d.x.n); ++i) r.push_back(i);
    return r;
  }());
  ModelFile m;
  int64_t input_dim = d.pca ? d.pca->dim() : d.x.d;
  m.meta = {{"architecture", "probe"},
            {"config", probe_options_to_json(d.options)},
            {"probe", {{"target", d.target}, {"classes", d.class_names}, {"features", d.feature_columns}, {"model_id", d.model_id},
                       {"trained_on", d.trained_on}, {"input_dim", input_dim}, {"pca", d.pca ? d.pca->components() : 0},
                       {"labelled_objects", d.x.n}, {"fit", probe->info()}}},
            {"name", std::filesystem::path(path).stem().string()}};
  m.tensors.push_back(f32_tensor("x", d.x.x.data(), {d.x.n, d.x.d}));
  m.tensors.push_back(f32_tensor("y", d.y));
  m.tensors.push_back(f32_tensor("check", probe->predict(head)));
  if (d.pca) {
    m.tensors.push_back(f32_tensor("pca_mean", d.pca->mean().data(), {d.pca->dim()}));
    m.tensors.push_back(f32_tensor("pca_basis", d.pca->basis().data(), {d.pca->components(), d.pca->dim()}));
  }
  m.write(path);
}

SavedProbe SavedProbe::load(const std::string& path) {
  ModelFile m = ModelFile::read(path);
  require_model_kind(m.meta, {ModelKind::Probe}, path);
  SavedProbe p;
  p.meta_ = m.meta;
  p.options_ = probe_options_from_json(m.meta.at("config"), path);
  const auto& info = m.meta.value("probe", nlohmann::json::object());
  try {
    p.classes_ = info.at("classes").get<std::vector<std::string>>();
    p.columns_ = info.at("features").get<std::vector<std::string>>();
    p.model_id_ = info.at("model_id").get<std::string>();
    p.target_ = info.at("target").get<std::string>();
    p.input_dim_ = json_integer<int64_t>(info.at("input_dim"), path + ": input_dim");
  } catch (const nlohmann::json::exception& e) {
    fail_corrupt("{}: probe header: {}", path, e.what());
  }
  const StoredTensor* xt = m.find("x");
  if (!xt || xt->shape.size() != 2 || xt->shape[0] < 1 || xt->shape[1] < 1) fail_corrupt("{}: probe file has no [n, d] tensor 'x'", path);
  Features x{xt->shape[0], xt->shape[1], floats_of(m, "x", xt->shape, path)};
  auto yf = floats_of(m, "y", {x.n}, path);
  std::vector<double> y(yf.begin(), yf.end());
  if (p.options_.classification) {
    if (static_cast<int64_t>(p.classes_.size()) != p.options_.classes) fail_corrupt("{}: {} class names for {} classes", path, p.classes_.size(), p.options_.classes);
    for (double v : y)
      if (!(v >= 0 && v < p.options_.classes && v == std::floor(v))) fail_corrupt("{}: class index {} out of range", path, v);
  }
  int64_t k = info.value("pca", int64_t{0});
  if (k > 0) {
    if (k != x.d) fail_corrupt("{}: PCA of {} components but features of {}", path, k, x.d);
    p.pca_ = std::make_shared<Pca>(Pca::from(floats_of(m, "pca_mean", {p.input_dim_}, path),
                                             floats_of(m, "pca_basis", {k, p.input_dim_}, path), k, p.input_dim_));
  } else if (p.input_dim_ != x.d) {
    fail_corrupt("{}: input_dim {} but features of {}", path, p.input_dim_, x.d);
  }
  std::shared_ptr<Probe> probe = make_probe(p.options_);
  probe->fit(x, y);
  p.probe_ = probe;
  // The refit must reproduce what was saved.
  int64_t nc = std::min(kCheckRows, x.n);
  auto want = floats_of(m, "check", {nc}, path);
  auto got = probe->predict(take_rows(x, [&] { std::vector<int64_t> r(nc); std::iota(r.begin(), r.end(), 0); return r; }()));
  double scale = 0;
  for (double v : y) scale = std::max(scale, std::abs(v));
  for (int64_t i = 0; i < nc; ++i)
    if (std::abs(got[i] - want[i]) > 1e-4 * std::max(1.0, scale))
      spdlog::warn("{}: the refitted probe predicts {} for training row {} where the saved one predicted {} (another build or BLAS?)",
                   path, got[i], i, want[i]);
  return p;
}

std::vector<double> SavedProbe::predict(const Features& raw) const {
  if (raw.d != input_dim_)
    fail_input("probe '{}' takes {} features per object ({}), got {}", meta_.value("name", ""), input_dim_, fmt::join(columns_, ", "), raw.d);
  return probe_->predict(pca_ ? pca_->project(raw) : raw);
}

}  // namespace astrofm
