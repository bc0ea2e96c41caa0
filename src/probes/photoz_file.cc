// The photo-z model file: an astrofm model file of architecture "photoz"
// (settings, standardisation and calibration in the header, each member's
// weights as tensors), in memory for pickles or on disk.
#include "astrofm/fsutil.h"
#include "astrofm/model_file.h"
#include "astrofm/models/registry.h"
#include "photoz_impl.h"

namespace astrofm {

using photoz_internal::Mdn;

namespace {
constexpr const char* kArch = "photoz";
}

std::string PhotozEstimator::to_bytes() const {
  const auto& I = *impl_;
  if (!I.fitted) fail_usage("photoz: the estimator has not been fitted");
  const auto& o = I.o;
  ModelFile mf;
  mf.meta["architecture"] = kArch;
  mf.meta["config"] = {{"bands", o.bands}, {"errors", o.errors}, {"extra", o.extra}, {"zmin", o.zmin}, {"zmax", o.zmax},
                       {"nzbins", o.nzbins}, {"members", o.members}, {"components", o.components}, {"hidden", o.hidden},
                       {"epochs", o.epochs}, {"batch", o.batch}, {"patience", o.patience}, {"lr", o.lr},
                       {"weight_decay", o.weight_decay}, {"val_fraction", o.val_fraction},
                       {"calibration_fraction", o.calibration_fraction}, {"band_dropout", o.band_dropout}, {"seed", o.seed},
                       {"pretrain_epochs", o.pretrain_epochs}, {"error_noise", o.error_noise}};
  mf.meta["preprocessing"] = {{"mean", I.mean}, {"scale", I.scale}, {"z_mean", I.z_mean}, {"z_scale", I.z_scale}, {"calibration", I.cal_q},
                              {"temperature", I.temperature}};
  mf.meta["training"] = I.info;
  for (size_t m = 0; m < I.members.size(); ++m)
    for (const auto& item : I.members[m]->named_parameters())
      mf.tensors.push_back(models::to_stored(fmt::format("m{}.{}", m, item.key()), item.value()));
  return mf.to_bytes();
}

void PhotozEstimator::save(const std::string& path) const {
  auto bytes = to_bytes();
  ModelFile::from_bytes(std::move(bytes), path).write(path);
}

PhotozEstimator PhotozEstimator::from_bytes(std::string bytes, const std::string& name) {
  auto mf = ModelFile::from_bytes(std::move(bytes), name);
  require_model_kind(mf.meta, {ModelKind::Photoz}, name);
  PhotozEstimator e;
  auto& I = *e.impl_;
  try {
    const auto& c = mf.meta.at("config");
    auto& o = I.o;
    o.bands = c.at("bands").get<std::vector<std::string>>();
    o.errors = c.at("errors").get<std::vector<std::string>>();
    o.extra = c.at("extra").get<int64_t>();
    o.zmin = c.at("zmin").get<double>(), o.zmax = c.at("zmax").get<double>();
    o.nzbins = c.at("nzbins").get<int64_t>(), o.members = c.at("members").get<int64_t>();
    o.components = c.at("components").get<int64_t>(), o.hidden = c.at("hidden").get<std::vector<int64_t>>();
    o.epochs = c.at("epochs").get<int64_t>(), o.batch = c.at("batch").get<int64_t>(), o.patience = c.at("patience").get<int64_t>();
    o.lr = c.at("lr").get<double>(), o.weight_decay = c.at("weight_decay").get<double>();
    o.val_fraction = c.at("val_fraction").get<double>(), o.calibration_fraction = c.at("calibration_fraction").get<double>();
    o.band_dropout = c.at("band_dropout").get<double>(), o.seed = c.at("seed").get<uint64_t>();
    o.pretrain_epochs = c.value("pretrain_epochs", int64_t{0});
    o.error_noise = c.value("error_noise", 0.0);
    const auto& p = mf.meta.at("preprocessing");
    I.mean = p.at("mean").get<std::vector<float>>(), I.scale = p.at("scale").get<std::vector<float>>();
    I.z_mean = p.at("z_mean").get<double>(), I.z_scale = p.at("z_scale").get<double>();
    I.cal_q = p.at("calibration").get<std::vector<double>>();
    I.temperature = p.value("temperature", 1.0);
    I.info = mf.meta.value("training", nlohmann::json::object());
  } catch (const nlohmann::json::exception& ex) {
    fail_corrupt("{}: photoz model file: {}", name, ex.what());
  }
  const auto& o = I.o;
  if (o.bands.empty() || (!o.errors.empty() && o.errors.size() != o.bands.size()) || o.extra < 0 || o.extra > (1 << 20) ||
      o.members < 1 || o.members > 1000 || o.components < 1 || o.components > 1000 || o.nzbins < 2 || o.nzbins > (1 << 20) ||
      !(o.zmax > o.zmin) || static_cast<int64_t>(I.mean.size()) != I.raw_dim() || I.scale.size() != I.mean.size() ||
      (!I.cal_q.empty() && I.cal_q.size() < 3) || !(I.z_scale > 0) || !(I.temperature > 0.01 && I.temperature < 100))
    fail_corrupt("{}: photoz model file has inconsistent settings", name);
  for (const auto& h : o.hidden)
    if (h < 1 || h > (1 << 16)) fail_corrupt("{}: photoz model file has a hidden layer of {}", name, h);
  for (int64_t m = 0; m < o.members; ++m) {
    Mdn net(I.in_dim(), o.hidden, o.components);
    torch::NoGradGuard ng;
    for (auto& item : net->named_parameters()) {
      const std::string& pname = item.key();
      auto& t = item.value();
      const auto* s = mf.find(fmt::format("m{}.{}", m, pname));
      if (!s) fail_corrupt("{}: photoz model file lacks tensor m{}.{}", name, m, pname);
      if (s->shape != t.sizes().vec() || s->dtype != TensorDType::F32)
        fail_corrupt("{}: photoz tensor m{}.{} has the wrong shape or type", name, m, pname);
      t.copy_(models::from_stored(*s));
    }
    net->eval();
    I.members.push_back(net);
  }
  I.fitted = true;
  return e;
}

PhotozEstimator PhotozEstimator::load(const std::string& path) { return from_bytes(read_file(path), path); }

}  // namespace astrofm
