// SimCLR (Chen et al. 2020): two augmented views of each galaxy, NT-Xent
// over the batch, a projection head that is dropped after training.
#include "astrofm/error.h"
#include "astrofm/models/cnn.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "../tasks.h"

namespace astrofm::train {
using namespace astrofm::models;
namespace F = torch::nn::functional;
namespace {

struct SimClrTask : Task {
  Cnn backbone{nullptr};
  torch::nn::Sequential projector{nullptr};
  std::shared_ptr<torch::nn::Module> both = std::make_shared<torch::nn::Module>("SimCLR");
  ImageData data;
  AugmentOptions aug;
  double tau;
  nlohmann::json cfg;

  SimClrTask(const nlohmann::json& c, Table& t, const std::string& where) : cfg(c) {
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
    auto x = data.pixels(rows);
    auto v1 = data.prepare(augment(x, aug), rows), v2 = data.prepare(augment(x, aug), rows);
    auto z = l2n(projector->forward(backbone->forward(dev(torch::cat({v1, v2})))));
    int64_t n = x.size(0);
    auto sim = torch::matmul(z, z.t()) / tau;
    sim = sim - torch::eye(2 * n, sim.options()) * 1e9;  // no self-pairs
    auto target = torch::cat({torch::arange(n, 2 * n), torch::arange(0, n)});
    return F::cross_entropy(sim, dev(target));
  }
  std::vector<torch::Tensor> parameters() override { return both->parameters(); }
  torch::nn::Module& trained() override { return *both; }
  torch::nn::Module& saved() override { return *backbone; }
  nlohmann::json meta() override { return cnn_encoder_meta(cfg, data, {{"task", "simclr"}, {"method", "SimCLR"}, {"temperature", tau}}); }
};

}  // namespace

void register_simclr(TaskTable& t) {
  TaskSpec s;
  s.name = "simclr";
  s.description = "SimCLR image pre-training of the CNN encoder";
  s.default_config = [] {
    auto c = cnn_pretraining_config();
    c["method"] = "simclr";
    c["temperature"] = 0.2;
    c["projection_dim"] = 128;
    return c;
  };
  s.columns = image_columns;
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions&, const std::string& where) -> std::unique_ptr<Task> {
    return std::make_unique<SimClrTask>(cfg, t, where);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train
