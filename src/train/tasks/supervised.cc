// The supervised-from-scratch CNN baseline: the same CNN with a linear head,
// trained on labels (a column or a CSV joined on object_id).
#include <numeric>

#include "astrofm/labels.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/cnn.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "../tasks.h"

namespace astrofm::train {
using namespace astrofm::models;
namespace F = torch::nn::functional;
namespace {

struct SupervisedTask : Task {
  CnnHead model{nullptr};
  ImageData data;
  torch::Tensor y;
  bool classify;
  AugmentOptions aug;
  torch::Tensor y_mean = torch::zeros({}), y_std = torch::ones({});
  nlohmann::json cfg;
  SupervisedTask(const nlohmann::json& c, const Table& t, const std::vector<double>& labels, const std::string& where) : cfg(c) {
    data = load_images(t, where);
    classify = c["objective"] == "classification";
    CnnHeadConfig hc;
    hc.backbone = CnnConfig::from_json(c["model"]);
    if (classify) {
      hc.outputs = static_cast<int64_t>(*std::max_element(labels.begin(), labels.end())) + 1;
      y = torch::tensor(std::vector<int64_t>(labels.begin(), labels.end()), torch::kLong);
    } else {
      y = torch::tensor(labels, torch::kFloat32);
      y_mean = y.mean();
      y_std = y.std().clamp_min(1e-12);  // standardised targets; undone in the head at save time
    }
    model = CnnHead(hc);
    aug = augment_options(c["augment"], hc.backbone.img_size);
  }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    model->train(training);
    auto x = index(data.images, rows);
    x = training ? augment(x, aug) : center_crop(x, aug.crop).contiguous();
    auto out = model->forward(dev(data.prepare(x, rows)));
    auto target = dev(index(y, rows));
    if (classify) return F::cross_entropy(out, target);
    return F::mse_loss(out.squeeze(1), (target - y_mean) / y_std);
  }
  std::vector<torch::Tensor> parameters() override { return model->parameters(); }
  torch::nn::Module& trained() override { return *model; }
  torch::nn::Module& saved() override {
    if (!classify) {  // fold the target standardisation into the head
      torch::NoGradGuard ng;
      model->head->weight.mul_(y_std);
      model->head->bias.mul_(y_std).add_(y_mean);
      y_mean = torch::zeros({}), y_std = torch::ones({});
    }
    return *model;
  }
  std::vector<std::string> class_names;
  nlohmann::json meta() override {
    nlohmann::json m = {{"architecture", "cnn_head"}, {"config", model->cfg.to_json()},
                        {"preprocessing", {{"image", {{"kinds", data.kinds}}}}},
                        {"training", {{"task", "supervised"}, {"objective", cfg["objective"]}}}};
    if (!class_names.empty()) m["classes"] = class_names;
    return m;
  }
};

}  // namespace

void register_supervised(TaskTable& t) {
  TaskSpec s;
  s.name = "supervised";
  s.description = "the CNN with a linear head trained from scratch on labels (the baseline)";
  s.default_config = [] {
    auto c = common_config();
    c["architecture"] = "cnn_head";
    c["model"] = CnnConfig{}.to_json();
    c["objective"] = "regression";
    c["augment"] = augment_config();
    c["augment"]["scale_min"] = 0.8;  // mild zoom: the label may depend on apparent size
    return c;
  };
  s.columns = [](const TrainOptions& opt) {
    std::vector<std::string> c = {mmu::kObjectId, mmu::kImageArray, mmu::kImageBand};
    if (opt.labels_csv.empty()) c.push_back(opt.target);
    return c;
  };
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions& opt, const std::string& where) -> std::unique_ptr<Task> {
    Targets y = load_targets(t, {opt.target, opt.labels_csv, cfg["objective"].get<std::string>()}, where);
    std::vector<int64_t> keep;
    std::vector<double> labels;
    for (int64_t i = 0; i < t.rows(); ++i)
      if (!std::isnan(y.values[i])) keep.push_back(i), labels.push_back(y.values[i]);
    if (keep.size() < 2) fail_input("{}: only {} objects have a '{}' label", where, keep.size(), opt.target);
    t = t.take(keep);
    auto task = std::make_unique<SupervisedTask>(cfg, t, labels, where);
    if (y.classification) task->class_names = y.class_names;
    return task;
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train

namespace astrofm {

SupervisedPredictions predict_supervised(const std::string& model, const std::string& data) {
  using namespace astrofm::models;
  auto lm = load_model(model);
  if (lm.architecture != "cnn_head") fail_input("{}: a {} model, not a supervised one (train supervised)", model, lm.architecture);
  auto net = std::dynamic_pointer_cast<CnnHeadImpl>(lm.module);
  net->eval();
  torch::NoGradGuard ng;
  SupervisedPredictions p;
  if (lm.meta.contains("classes")) p.classes = lm.meta["classes"].get<std::vector<std::string>>();
  Dataset ds = Dataset::open(data);
  DatasetReader r(ds, {.columns = {mmu::kObjectId, mmu::kImageArray, mmu::kImageBand}, .batch_rows = 256});
  Table b;
  while (r.next(b)) {
    auto img = train::load_images(b, data);
    std::vector<int64_t> rows(b.rows());
    std::iota(rows.begin(), rows.end(), 0);
    auto x = center_crop(img.prepare(img.images, rows), net->cfg.backbone.img_size).contiguous();
    auto out = net->forward(x);
    auto v = (p.classes.empty() ? out.squeeze(1) : out.argmax(1)).to(torch::kFloat64).contiguous();
    p.values.insert(p.values.end(), v.data_ptr<double>(), v.data_ptr<double>() + b.rows());
    const auto& ids = b.at(mmu::kObjectId).strings;
    p.ids.insert(p.ids.end(), ids.begin(), ids.end());
  }
  return p;
}

}  // namespace astrofm
