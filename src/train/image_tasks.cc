// Image tasks: SimCLR and DINO self-supervised pre-training, and the
// supervised-from-scratch CNN baseline.
#include <numeric>
#include <set>

#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/cnn.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "tasks.h"

namespace astrofm::train {
using namespace astrofm::models;
namespace F = torch::nn::functional;

torch::Tensor column_tensor(const Column& c) {
  auto sizes = c.shape;
  sizes.insert(sizes.begin(), c.rows);
  auto t = torch::from_blob(const_cast<uint8_t*>(c.data.data()), sizes, c.dtype == DType::Float64 ? torch::kFloat64 : torch::kFloat32);
  return t.to(torch::kFloat32).clone();
}

torch::Tensor index(const torch::Tensor& t, const std::vector<int64_t>& rows) {
  return t.index_select(0, torch::tensor(rows, torch::kLong));
}

torch::Tensor ImageData::prepare(const torch::Tensor& x, const std::vector<int64_t>& rows) const {
  auto flux = index(is_flux, rows);
  if (!flux.any().item<bool>()) return x;
  return torch::where(flux.view({-1, 1, 1, 1}), legacysurvey_rgb(x), x);
}

ImageData load_images(const Table& t, const std::string& where) {
  ImageData d;
  d.images = torch::nan_to_num(column_tensor(t.at(mmu::kImageArray)), 0.0);
  if (d.images.size(1) != 3) fail_input("{}: training needs 3-band images, got {}", where, d.images.size(1));
  const Column& band = t.at(mmu::kImageBand);
  d.is_flux = torch::zeros({t.rows()}, torch::kBool);
  std::set<std::string> kinds;
  for (int64_t i = 0; i < t.rows(); ++i) {
    std::vector<std::string> b(band.strings.begin() + i * 3, band.strings.begin() + i * 3 + 3);
    if (b[0].rfind("DES-", 0) != 0) {
      kinds.insert("unit");
      continue;
    }
    kinds.insert("legacysurvey_rgb");
    d.is_flux[i] = true;
    std::vector<int64_t> order;  // the stretch expects g, r, z
    for (const char* w : {"DES-G", "DES-R", "DES-Z"}) {
      auto it = std::find(b.begin(), b.end(), w);
      if (it == b.end()) fail_input("{}: row {}: Legacy Survey images need DES-G, DES-R and DES-Z bands", where, i);
      order.push_back(it - b.begin());
    }
    d.images[i] = d.images[i].index_select(0, torch::tensor(order, torch::kLong));
  }
  d.kinds.assign(kinds.begin(), kinds.end());
  return d;
}

AugmentOptions augment_options(const nlohmann::json& a, int64_t crop) {
  AugmentOptions o;
  o.crop = crop;
  o.scale_min = a.value("scale_min", o.scale_min);
  o.scale_max = a.value("scale_max", o.scale_max);
  o.gain_jitter = a.value("gain_jitter", o.gain_jitter);
  o.noise_max = a.value("noise_max", o.noise_max);
  o.blur_prob = a.value("blur_prob", o.blur_prob);
  o.blur_sigma_max = a.value("blur_sigma_max", o.blur_sigma_max);
  o.flips = a.value("flips", o.flips);
  return o;
}

namespace {

torch::Tensor l2n(const torch::Tensor& x) { return F::normalize(x, F::NormalizeFuncOptions().dim(1)); }

struct SimClrTask : Task {
  Cnn backbone{nullptr};
  torch::nn::Sequential projector{nullptr};
  std::shared_ptr<torch::nn::Module> both = std::make_shared<torch::nn::Module>("SimCLR");
  ImageData data;
  AugmentOptions aug;
  double tau;
  nlohmann::json cfg;

  SimClrTask(const nlohmann::json& c, const Table& t, const std::string& where) : cfg(c) {
    data = load_images(t, where);
    auto mc = CnnConfig::from_json(c["model"]);
    backbone = Cnn(mc);
    int64_t d = mc.embed_dim(), p = c["projection_dim"];
    projector = torch::nn::Sequential(torch::nn::Linear(d, d), torch::nn::ReLU(), torch::nn::Linear(d, p));
    both->register_module("backbone", backbone);
    both->register_module("projector", projector);
    aug = augment_options(c["augment"], mc.img_size);
    tau = c["temperature"];
  }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    both->train(training);
    auto x = index(data.images, rows);
    auto v1 = data.prepare(augment(x, aug), rows), v2 = data.prepare(augment(x, aug), rows);
    auto z = l2n(projector->forward(backbone->forward(torch::cat({v1, v2}))));
    int64_t n = x.size(0);
    auto sim = torch::matmul(z, z.t()) / tau;
    sim = sim - torch::eye(2 * n) * 1e9;  // no self-pairs
    auto target = torch::cat({torch::arange(n, 2 * n), torch::arange(0, n)});
    return F::cross_entropy(sim, target);
  }
  std::vector<torch::Tensor> parameters() override { return both->parameters(); }
  torch::nn::Module& trained() override { return *both; }
  torch::nn::Module& saved() override { return *backbone; }
  nlohmann::json meta() override {
    return {{"architecture", "cnn"}, {"config", cfg["model"]},
            {"preprocessing", {{"image", {{"kinds", data.kinds}}}}},
            {"training", {{"task", "image-ssl"}, {"method", "SimCLR"}, {"temperature", tau}}}};
  }
};

// DINO's head: MLP, L2-normalised bottleneck, prototypes with unit-norm rows
// (the weight-normalised last layer with its norm frozen at 1).
struct DinoHeadImpl : torch::nn::Module {
  DinoHeadImpl(int64_t in, int64_t hidden, int64_t bottleneck, int64_t out) {
    mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::GELU(),
                                                       torch::nn::Linear(hidden, hidden), torch::nn::GELU(),
                                                       torch::nn::Linear(hidden, bottleneck)));
    prototypes = register_parameter("prototypes", torch::randn({out, bottleneck}) * 0.02);
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::matmul(l2n(mlp->forward(x)), l2n(prototypes).t()); }
  torch::nn::Sequential mlp{nullptr};
  torch::Tensor prototypes;
};
TORCH_MODULE(DinoHead);

// DINO (Caron et al. 2021): a student matches an EMA teacher's centred,
// sharpened distribution over prototypes across crops; the teacher sees only
// the global crops, the student the global and local ones.
struct DinoTask : Task {
  Cnn student{nullptr}, teacher{nullptr};
  DinoHead student_head{nullptr}, teacher_head{nullptr};
  std::shared_ptr<torch::nn::Module> all = std::make_shared<torch::nn::Module>("DINO");
  torch::Tensor center;
  ImageData data;
  AugmentOptions global_aug, local_aug;
  nlohmann::json cfg, dino;

  DinoTask(const nlohmann::json& c, const Table& t, const std::string& where) : cfg(c), dino(c["dino"]) {
    data = load_images(t, where);
    auto mc = CnnConfig::from_json(c["model"]);
    int64_t d = mc.embed_dim(), out = dino["out_dim"], hidden = dino["hidden_dim"], bottleneck = dino["bottleneck_dim"];
    student = all->register_module("student", Cnn(mc));
    teacher = all->register_module("teacher", Cnn(mc));
    student_head = all->register_module("student_head", DinoHead(d, hidden, bottleneck, out));
    teacher_head = all->register_module("teacher_head", DinoHead(d, hidden, bottleneck, out));
    center = all->register_buffer("center", torch::zeros({1, out}));
    copy_to_teacher(0.0);
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    for (auto& p : teacher_head->parameters()) p.set_requires_grad(false);
    global_aug = augment_options(c["augment"], mc.img_size);
    global_aug.scale_min = dino["global_scale"][0];
    global_aug.scale_max = dino["global_scale"][1];
    local_aug = global_aug;
    local_aug.crop = dino["local_size"];
    local_aug.scale_min = dino["local_scale"][0];
    local_aug.scale_max = dino["local_scale"][1];
  }
  // teacher = m * teacher + (1 - m) * student, parameters and BatchNorm statistics.
  void copy_to_teacher(double m) {
    torch::NoGradGuard ng;
    auto blend = [m](torch::nn::Module& from, torch::nn::Module& to) {
      auto f = from.named_parameters(), t = to.named_parameters();
      for (auto& kv : f) t[kv.key()].mul_(m).add_(kv.value().detach(), 1.0 - m);
      auto fb = from.named_buffers(), tb = to.named_buffers();
      for (auto& kv : fb) tb[kv.key()].copy_(kv.value());
    };
    blend(*student, *teacher);
    blend(*student_head, *teacher_head);
  }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    all->train(training);
    auto x = index(data.images, rows);
    int64_t n = x.size(0), locals = dino["local_crops"];
    std::vector<torch::Tensor> globals = {data.prepare(augment(x, global_aug), rows), data.prepare(augment(x, global_aug), rows)};
    auto g = torch::cat(globals);
    torch::Tensor t_out;
    {
      torch::NoGradGuard ng;
      t_out = teacher_head->forward(teacher->forward(g));
    }
    std::vector<torch::Tensor> s_out = {student_head->forward(student->forward(g))};
    if (locals > 0) {
      std::vector<torch::Tensor> l;
      for (int64_t k = 0; k < locals; ++k) l.push_back(data.prepare(augment(x, local_aug), rows));
      s_out.push_back(student_head->forward(student->forward(torch::cat(l))));
    }
    auto s = torch::cat(s_out) / dino["student_temp"].get<double>();
    auto t = F::softmax((t_out - center) / dino["teacher_temp"].get<double>(), F::SoftmaxFuncOptions(1)).detach();
    auto s_log = F::log_softmax(s, F::LogSoftmaxFuncOptions(1)).split(n);  // 2 + locals views
    auto t_views = t.split(n);
    torch::Tensor total = torch::zeros({});
    int64_t terms = 0;
    for (int64_t iq = 0; iq < 2; ++iq)
      for (int64_t v = 0; v < static_cast<int64_t>(s_log.size()); ++v) {
        if (v == iq) continue;
        total = total + torch::sum(-t_views[iq] * s_log[v], 1).mean();
        ++terms;
      }
    if (training) {
      torch::NoGradGuard ng;
      double cm = dino["center_momentum"];
      center.mul_(cm).add_(t_out.mean(0, true), 1.0 - cm);
    }
    return total / terms;
  }
  void after_step(int64_t step, int64_t steps) override {
    double m0 = dino["momentum"];  // cosine from m0 to 1
    copy_to_teacher(1.0 - (1.0 - m0) * 0.5 * (1 + std::cos(M_PI * step / std::max<int64_t>(1, steps))));
  }
  std::vector<torch::Tensor> parameters() override {
    auto p = student->parameters();
    auto h = student_head->parameters();
    p.insert(p.end(), h.begin(), h.end());
    return p;
  }
  torch::nn::Module& trained() override { return *all; }
  torch::nn::Module& saved() override { return *teacher; }  // DINO evaluates the teacher
  nlohmann::json meta() override {
    return {{"architecture", "cnn"}, {"config", cfg["model"]},
            {"preprocessing", {{"image", {{"kinds", data.kinds}}}}},
            {"training", {{"task", "image-ssl"}, {"method", "DINO"}, {"dino", dino}}}};
  }
};

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
    auto out = model->forward(data.prepare(x, rows));
    auto target = index(y, rows);
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
  nlohmann::json meta() override {
    return {{"architecture", "cnn_head"}, {"config", model->cfg.to_json()},
            {"preprocessing", {{"image", {{"kinds", data.kinds}}}}},
            {"training", {{"task", "supervised"}, {"objective", cfg["objective"]}}}};
  }
};

}  // namespace

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

namespace astrofm::train {

std::unique_ptr<Task> make_image_ssl(const nlohmann::json& cfg, const Table& t, const std::string& where) {
  std::string method = cfg["method"];
  if (method == "simclr") return std::make_unique<SimClrTask>(cfg, t, where);
  if (method == "dino") return std::make_unique<DinoTask>(cfg, t, where);
  fail_input("image-ssl: unknown method '{}' (simclr or dino)", method);
}

std::unique_ptr<Task> make_supervised(const nlohmann::json& cfg, const Table& t, const std::vector<double>& labels,
                                      const std::string& where) {
  return std::make_unique<SupervisedTask>(cfg, t, labels, where);
}

}  // namespace astrofm::train
