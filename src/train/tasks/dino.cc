// DINO self-distillation for the CNN image encoder.
#include "astrofm/error.h"
#include "astrofm/models/cnn.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "../tasks.h"

namespace astrofm::train {
using namespace astrofm::models;
namespace F = torch::nn::functional;
namespace {

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

  DinoTask(const nlohmann::json& c, Table& t, const std::string& where) : cfg(c), dino(c["dino"]) {
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
    auto x = data.pixels(rows);
    int64_t n = x.size(0), locals = dino["local_crops"];
    std::vector<torch::Tensor> globals = {data.prepare(augment(x, global_aug), rows), data.prepare(augment(x, global_aug), rows)};
    auto g = dev(torch::cat(globals));
    torch::Tensor t_out;
    {
      torch::NoGradGuard ng;
      t_out = teacher_head->forward(teacher->forward(g));
    }
    std::vector<torch::Tensor> s_out = {student_head->forward(student->forward(g))};
    if (locals > 0) {
      std::vector<torch::Tensor> l;
      for (int64_t k = 0; k < locals; ++k) l.push_back(data.prepare(augment(x, local_aug), rows));
      s_out.push_back(student_head->forward(student->forward(dev(torch::cat(l)))));
    }
    auto s = torch::cat(s_out) / dino["student_temp"].get<double>();
    auto t = F::softmax((t_out - center) / dino["teacher_temp"].get<double>(), F::SoftmaxFuncOptions(1)).detach();
    auto s_log = F::log_softmax(s, F::LogSoftmaxFuncOptions(1)).split(n);  // 2 + locals views
    auto t_views = t.split(n);
    torch::Tensor total = torch::zeros({}, s.options());
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
  nlohmann::json meta() override { return cnn_encoder_meta(cfg, data, {{"task", "dino"}, {"method", "DINO"}, {"dino", dino}}); }
};

}  // namespace

void register_dino(TaskTable& t) {
  TaskSpec s;
  s.name = "dino";
  s.description = "DINO image pre-training of the CNN encoder (EMA teacher, multi-crop)";
  s.default_config = [] {
    auto c = cnn_pretraining_config();
    c["method"] = "dino";
    // DINO's published ResNet recipe, scaled to small CPU runs (out_dim 65536 -> 4096).
    c["dino"] = {{"out_dim", 4096}, {"hidden_dim", 1024}, {"bottleneck_dim", 128}, {"student_temp", 0.1},
                 {"teacher_temp", 0.04}, {"momentum", 0.996}, {"center_momentum", 0.9}, {"local_crops", 4},
                 {"local_size", 32}, {"global_scale", {0.4, 1.0}}, {"local_scale", {0.1, 0.4}}};
    return c;
  };
  s.columns = image_columns;
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions&, const std::string& where) -> std::unique_ptr<Task> {
    return std::make_unique<DinoTask>(cfg, t, where);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train
