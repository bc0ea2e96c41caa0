// The supervised-from-scratch CNN baseline: the same CNN with a linear head,
// trained on labels (a column or a CSV joined on object_id). With a
// pre-trained encoder (--init-image) the same task fine-tunes it: its stages
// learn at layer-wise decayed rates (head 1, last stage `layer_decay`, the
// one before `layer_decay`^2, ...), and `train_stages` > 0 freezes all but
// the last stages. `head_init` "probe" fits the head on the frozen features
// before any weight moves (linear probing, then fine-tuning: Kumar et al.
// 2022), so early gradients from a random head do not scramble the
// pre-trained features.
#include <numeric>

#include "astrofm/labels.h"
#include "astrofm/model_file.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/architecture.h"
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
  std::string init;  // the pre-trained encoder fine-tuned, if any
  SupervisedTask(const nlohmann::json& c, ImageData images, const std::vector<double>& labels, const std::string& init_image)
      : data(std::move(images)), cfg(c), init(init_image) {
    classify = c["objective"] == "classification";
    CnnHeadConfig hc;
    hc.backbone = CnnConfig::from_json(c["model"]);
    nlohmann::json init_meta;
    if (!init.empty()) {
      init_meta = ModelFile::read_meta(init);
      if (init_meta.value("architecture", "") != "cnn")
        fail_input("{}: a '{}' model; fine-tuning starts from a CNN image encoder (architecture cnn, e.g. galaxy-cnn-ssl)", init,
                   init_meta.value("architecture", "?"));
      hc.backbone = CnnConfig::from_json(init_meta["config"]);  // the encoder's own shape, not the config's
    }
    if (classify) {
      hc.outputs = static_cast<int64_t>(*std::max_element(labels.begin(), labels.end())) + 1;
      y = torch::tensor(std::vector<int64_t>(labels.begin(), labels.end()), torch::kLong);
    } else {
      y = torch::tensor(labels, torch::kFloat32);
      y_mean = y.mean();
      y_std = y.std().clamp_min(1e-12);  // standardised targets; undone in the head at save time
    }
    model = CnnHead(hc);
    if (!init.empty()) {
      auto lm = load_model(init);
      load_state(*model->backbone, state_of(*lm.module), init);
    }
    if (c["head_init"] != "random" && c["head_init"] != "probe") fail_input("head_init {}: random or probe", c["head_init"].dump());
    if (c["head_init"] == "probe" && init.empty())
      fail_input("head_init 'probe' fits the head on a pre-trained encoder's features: give --init-image");
    aug = augment_options(c["augment"], hc.backbone.img_size);
    const int64_t stages = static_cast<int64_t>(model->backbone->stages->size()), keep = c["train_stages"];
    if (keep < 0 || keep > stages) fail_input("train_stages {}: 0 (all) to {}", keep, stages);
    frozen_below = keep == 0 ? 0 : stages - keep;
    auto l = layers();
    for (int64_t i = 0; i <= frozen_below && frozen_below > 0; ++i)
      for (auto& p : l[i]) p.set_requires_grad(false);
  }
  int64_t frozen_below = 0;  // stages [0, frozen_below) and the stem stay as they are
  // The backbone's layers from the input: the stem, then each stage.
  std::vector<std::vector<torch::Tensor>> layers() {
    std::vector<std::vector<torch::Tensor>> l;
    auto& b = *model->backbone;
    l.push_back(b.stem->parameters());
    for (auto& p : b.stem_bn->parameters()) l.back().push_back(p);
    for (const auto& s : *b.stages) l.push_back(s->parameters());
    return l;
  }
  std::vector<std::pair<std::vector<torch::Tensor>, double>> parameter_groups() override {
    const double decay = cfg["layer_decay"];
    auto l = layers();
    std::vector<std::pair<std::vector<torch::Tensor>, double>> g = {{model->head->parameters(), 1.0}};
    for (int64_t i = static_cast<int64_t>(l.size()) - 1, depth = 1; i >= 0; --i, ++depth) {
      if (i <= frozen_below && frozen_below > 0) break;  // the stem is l[0]: stage k is l[k + 1]
      g.push_back({l[i], std::pow(decay, static_cast<double>(depth))});
    }
    return g;
  }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    model->train(training);
    if (frozen_below > 0) {  // frozen layers keep their batch-norm statistics too
      model->backbone->stem_bn->eval();
      for (int64_t k = 0; k < frozen_below; ++k) (*model->backbone->stages)[k]->eval();
    }
    auto x = training ? augment(data.pixels(rows), aug) : data.pixels(rows, aug.crop);
    auto out = model->forward(dev(data.prepare(x, rows)));
    auto target = dev(index(y, rows));
    if (classify) return F::cross_entropy(out, target);
    return F::mse_loss(out.squeeze(1), (target - y_mean) / y_std);
  }
  void before_training(const std::vector<int64_t>& rows) override {
    if (cfg["head_init"] == "random") return;
    // Frozen features of the training rows, as the evaluation sees them.
    torch::Tensor f;
    {
      torch::NoGradGuard ng;
      model->backbone->eval();
      std::vector<torch::Tensor> parts;
      for (size_t i = 0; i < rows.size(); i += 256) {
        std::vector<int64_t> r(rows.begin() + static_cast<std::ptrdiff_t>(i), rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), i + 256)));
        parts.push_back(model->backbone->forward(dev(data.prepare(data.pixels(r, aug.crop), r))));
      }
      f = torch::cat(parts);
    }
    auto mu = f.mean(0), sd = f.std(0).clamp_min(1e-6);
    auto zf = (f - mu) / sd;
    auto target = dev(index(y, rows));
    if (!classify) target = (target - y_mean.to(target.device())) / y_std.to(target.device());
    // L2 strength 1 / N on the mean loss: scikit-learn's default C = 1.
    const double l2 = 1.0 / static_cast<double>(rows.size());
    auto w = torch::zeros_like(model->head->weight).requires_grad_(true), b = torch::zeros_like(model->head->bias).requires_grad_(true);
    torch::optim::LBFGS opt({w, b}, torch::optim::LBFGSOptions(1.0).max_iter(300).line_search_fn("strong_wolfe"));
    opt.step([&] {
      opt.zero_grad();
      auto out = torch::addmm(b, zf, w.t());
      auto l = (classify ? F::cross_entropy(out, target) : F::mse_loss(out.squeeze(1), target)) + 0.5 * l2 * w.pow(2).sum();
      l.backward();
      return l;
    });
    torch::NoGradGuard ng;  // fold the standardisation into the head: W z + b = (W / sd) f + (b - W mu / sd)
    model->head->weight.copy_(w / sd);
    model->head->bias.copy_(b - torch::mv(w, mu / sd));
  }
  std::vector<torch::Tensor> parameters() override {
    std::vector<torch::Tensor> p;
    for (auto& [ps, m] : parameter_groups()) p.insert(p.end(), ps.begin(), ps.end());
    return p;
  }
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
    if (!init.empty())
      m["training"]["fine_tuned_from"] = {
          {"model", init}, {"layer_decay", cfg["layer_decay"]}, {"train_stages", cfg["train_stages"]}, {"head_init", cfg["head_init"]}};
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
    c["layer_decay"] = 1.0;  // fine-tuning (--init-image): learning-rate factor per layer from the head down
    c["train_stages"] = 0;   // fine-tuning: train only the last N stages (and the head); 0: all
    c["head_init"] = "random";  // fine-tuning: "probe" fits the head on the frozen features first
    return c;
  };
  s.options = {{.name = "target", .help = "the label column (in --labels when given, else in the data)", .required = true},
               {.name = "labels", .help = "CSV of labels joined on object_id"},
               {.name = "objective", .help = "regression or classification (overrides the config)"},
               {.name = "init-image", .help = "fine-tune this CNN image encoder (a model file) instead of starting from scratch"}};
  s.configure = [](nlohmann::json& cfg, const TrainOptions& opt) {
    if (!opt.option("objective").empty()) cfg["objective"] = opt.option("objective");
    if (cfg["objective"] != "regression" && cfg["objective"] != "classification")
      fail_usage("objective must be regression or classification, not {}", cfg["objective"].dump());
  };
  s.columns = [](const TrainOptions& opt) {
    std::vector<std::string> c = {mmu::kObjectId, mmu::kImageArray, mmu::kImageBand};
    if (opt.option("labels").empty()) c.push_back(opt.option("target"));
    return c;
  };
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions& opt, const std::string& where) -> std::unique_ptr<Task> {
    const std::string target = opt.option("target");
    Targets y = load_targets(t, {target, opt.option("labels"), cfg["objective"].get<std::string>()}, where);
    std::vector<int64_t> keep;
    std::vector<double> labels;
    for (int64_t i = 0; i < t.rows(); ++i)
      if (!std::isnan(y.values[i])) keep.push_back(i), labels.push_back(y.values[i]);
    if (keep.size() < 2) fail_input("{}: only {} objects have a '{}' label", where, keep.size(), target);
    // Unlabelled rows are dropped before the images are taken (their pixels
    // are not kept); when every row has a label, nothing is copied.
    if (keep.size() < static_cast<size_t>(t.rows())) t = t.take(keep);
    auto task = std::make_unique<SupervisedTask>(cfg, load_images(t, where), labels, opt.option("init-image"));
    if (y.classification) task->class_names = y.class_names;
    return task;
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train

namespace astrofm {

namespace {

struct SupervisedPredictor {
  std::shared_ptr<models::CnnHeadImpl> net;
  SupervisedPredictions p;
  nlohmann::json pre;  // the model file's image preprocessing
  SupervisedPredictor(models::LoadedModel lm, const std::string& name) {
    if (lm.architecture != "cnn_head") fail_input("{}: a {} model, not a supervised one (train supervised)", name, lm.architecture);
    net = std::dynamic_pointer_cast<models::CnnHeadImpl>(lm.module);
    net->eval();
    pre = lm.meta.value("preprocessing", nlohmann::json::object()).value("image", nlohmann::json::object());
    if (lm.meta.contains("classes")) p.classes = lm.meta["classes"].get<std::vector<std::string>>();
  }
  void add(const Table& b, const std::string& where) {
    torch::NoGradGuard ng;
    const auto& bb = net->cfg.backbone;
    auto x = models::prepare_images(b, pre, bb.img_size, bb.in_chans, where);
    auto out = net->forward(x);
    auto v = (p.classes.empty() ? out.squeeze(1) : out.argmax(1)).to(torch::kFloat64).contiguous();
    p.values.insert(p.values.end(), v.data_ptr<double>(), v.data_ptr<double>() + b.rows());
    const auto& ids = b.at(mmu::kObjectId).strings;
    p.ids.insert(p.ids.end(), ids.begin(), ids.end());
  }
};

}  // namespace

SupervisedPredictions predict_supervised(const std::string& model, const std::string& data) {
  SupervisedPredictor pr(models::load_model(model), model);
  Dataset ds = Dataset::open(data);
  DatasetReader r(ds, {.columns = {mmu::kObjectId, mmu::kImageArray, mmu::kImageBand}, .batch_rows = 256});
  Table b;
  while (r.next(b)) pr.add(b, data);
  return pr.p;
}

SupervisedPredictions predict_supervised(const std::string& model_bytes, const Table& images, const std::string& name) {
  SupervisedPredictor pr(models::load_model(ModelFile::from_bytes(model_bytes, name), name), name);
  for (int64_t s = 0; s < images.rows(); s += 256) pr.add(images.slice(s, std::min<int64_t>(256, images.rows() - s)), name);
  return pr.p;
}

}  // namespace astrofm
