// Small networks on frozen features: an MLP head (AstroCLIP's few-shot
// recipe: hidden [64, 64], dropout 0.1, Adam, early stopping on a validation
// split) and attentive pooling (a learned query attending over a frozen
// model's token outputs, then LayerNorm and a linear layer).
#include <torch/torch.h>

#include <cmath>
#include <random>

#include "astrofm/error.h"
#include "probe_internal.h"

namespace astrofm::detail {
namespace {

struct AttentivePoolImpl : torch::nn::Module {
  AttentivePoolImpl(int64_t dim, int64_t heads, int64_t out) {
    query = register_parameter("query", torch::randn({1, 1, dim}) * 0.02);
    attn = register_module("attn", torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(dim, heads)));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    head = register_module("head", torch::nn::Linear(dim, out));
  }
  torch::Tensor forward(const torch::Tensor& tokens) {  // [B, T, D]
    auto kv = tokens.transpose(0, 1);                   // [T, B, D]
    auto q = query.expand({1, tokens.size(0), tokens.size(2)});
    auto pooled = std::get<0>(attn->forward(q, kv, kv)).squeeze(0);
    return head(norm(pooled));
  }
  torch::Tensor query;
  torch::nn::MultiheadAttention attn{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(AttentivePool);

class NeuralProbe : public Probe {
 public:
  explicit NeuralProbe(const ProbeOptions& o) : o_(o) {}

  void fit(const Features& x, const std::vector<double>& y) override {
    check_finite(x, "training");
    if (x.n < 4) fail_input("{} needs at least 4 labelled objects, have {}", o_.kind, x.n);
    torch::manual_seed(o_.seed);
    scaler_.fit(x);
    int64_t out = o_.classification ? o_.classes : 1;
    if (o_.kind == "attentive") {
      if (o_.tokens <= 0 || x.d % o_.tokens) fail_input("attentive: rows of {} values are not {} tokens", x.d, o_.tokens);
      net_ = AttentivePool(x.d / o_.tokens, o_.heads, out).ptr();
    } else {
      auto seq = torch::nn::Sequential();
      int64_t in = x.d;
      for (int64_t h : o_.hidden) {
        seq->push_back(torch::nn::Linear(in, h));
        seq->push_back(torch::nn::ReLU());
        seq->push_back(torch::nn::Dropout(o_.dropout));
        in = h;
      }
      seq->push_back(torch::nn::Linear(in, out));
      net_ = seq.ptr();
    }
    auto X = input(x);
    torch::Tensor Y;
    if (o_.classification) {
      Y = torch::tensor(std::vector<int64_t>(y.begin(), y.end()), torch::kLong);
      auto counts = torch::bincount(Y, {}, o_.classes).to(torch::kFloat32);
      class_w_ = o_.balanced ? torch::where(counts > 0, x.n / (o_.classes * counts.clamp_min(1)), torch::zeros_like(counts))
                             : torch::ones({o_.classes});
    } else {
      auto yt = torch::tensor(y, torch::kFloat64);
      y_mean_ = yt.mean().item<double>();
      y_std_ = std::max(1e-12, yt.std().item<double>());
      Y = ((yt - y_mean_) / y_std_).to(torch::kFloat32);
    }
    // Validation split (stratified for classes); at least one object on each side.
    auto fold = fold_of(y, o_.classification, std::max(2, static_cast<int>(std::lround(1.0 / o_.val_fraction))), o_.seed);
    std::vector<int64_t> tr, va;
    for (int64_t i = 0; i < x.n; ++i) (fold[i] == 0 ? va : tr).push_back(i);
    auto Xtr = X.index_select(0, torch::tensor(tr)), Ytr = Y.index_select(0, torch::tensor(tr));
    auto Xva = X.index_select(0, torch::tensor(va)), Yva = Y.index_select(0, torch::tensor(va));
    torch::optim::Adam adam(net_->parameters(), torch::optim::AdamOptions(o_.lr).weight_decay(o_.weight_decay));
    double best = INFINITY;
    int64_t since = 0;
    std::vector<torch::Tensor> best_state;
    std::mt19937_64 rng(o_.seed);
    std::vector<int64_t> order(tr.size());
    std::iota(order.begin(), order.end(), 0);
    for (epochs_ = 0; epochs_ < o_.max_epochs && since < o_.patience; ++epochs_) {
      net_->train();
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t s = 0; s < order.size(); s += o_.batch) {
        std::vector<int64_t> rows(order.begin() + s, order.begin() + std::min(order.size(), s + o_.batch));
        auto idx = torch::tensor(rows);
        adam.zero_grad();
        auto l = loss(forward(Xtr.index_select(0, idx)), Ytr.index_select(0, idx));
        l.backward();
        adam.step();
      }
      torch::NoGradGuard ng;
      net_->eval();
      double v = loss(forward(Xva), Yva).item<double>();
      if (v < best - 1e-6) {
        best = v, since = 0, best_epoch_ = epochs_;
        best_state.clear();
        for (auto& p : net_->parameters()) best_state.push_back(p.detach().clone());
      } else {
        ++since;
      }
    }
    torch::NoGradGuard ng;
    auto params = net_->parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_state[i]);
    best_val_ = best;
    net_->eval();
  }

  std::vector<double> predict(const Features& x) const override {
    check_finite(x, "test");
    if (x.d != static_cast<int64_t>(scaler_.mean.size())) fail_input("test features have {} dimensions, training had {}", x.d, scaler_.mean.size());
    torch::NoGradGuard ng;
    auto out = const_cast<NeuralProbe*>(this)->forward(input(x));
    torch::Tensor p = o_.classification ? out.argmax(1).to(torch::kFloat64) : out.squeeze(1).to(torch::kFloat64) * y_std_ + y_mean_;
    p = p.contiguous();
    return {p.data_ptr<double>(), p.data_ptr<double>() + x.n};
  }
  nlohmann::json info() const override {
    nlohmann::json j = {{"epochs", epochs_}, {"best_epoch", best_epoch_}, {"best_val_loss", best_val_}, {"lr", o_.lr}};
    if (o_.kind == "mlp") j["hidden"] = o_.hidden, j["dropout"] = o_.dropout;
    else j["tokens"] = o_.tokens, j["heads"] = o_.heads;
    return j;
  }

 private:
  torch::Tensor input(const Features& x) const {
    auto t = torch::from_blob(const_cast<float*>(x.x.data()), {x.n, x.d}, torch::kFloat32);
    auto m = torch::tensor(std::vector<float>(scaler_.mean.begin(), scaler_.mean.end()));
    auto s = torch::tensor(std::vector<float>(scaler_.scale.begin(), scaler_.scale.end()));
    t = (t - m) / s;
    if (o_.kind == "attentive") t = t.view({x.n, o_.tokens, x.d / o_.tokens});
    return t;
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (o_.kind == "attentive") return std::dynamic_pointer_cast<AttentivePoolImpl>(net_)->forward(x);
    return std::dynamic_pointer_cast<torch::nn::SequentialImpl>(net_)->forward(x);
  }
  torch::Tensor loss(const torch::Tensor& out, const torch::Tensor& y) const {
    if (o_.classification) return torch::nn::functional::cross_entropy(out, y, torch::nn::functional::CrossEntropyFuncOptions().weight(class_w_));
    return torch::mse_loss(out.squeeze(1), y);
  }

  ProbeOptions o_;
  Scaler scaler_;
  std::shared_ptr<torch::nn::Module> net_;
  torch::Tensor class_w_;
  double y_mean_ = 0, y_std_ = 1, best_val_ = NAN;
  int64_t epochs_ = 0, best_epoch_ = 0;
};

}  // namespace

std::unique_ptr<Probe> make_mlp(const ProbeOptions& o) { return std::make_unique<NeuralProbe>(o); }

}  // namespace astrofm::detail
