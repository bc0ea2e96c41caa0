// AION's multimodal masked modelling (the 4M recipe as AION-1 changed it):
// per object, an input budget filled first from one randomly chosen modality
// with a uniform random number of its tokens, then uniformly from the others;
// a target budget whose per-modality counts are skewed towards few tokens
// (Beta(0.1, 1) for the first modality drawn, uniform for the rest); cross-
// entropy averaged per modality. Trains on token datasets (`astrofm tokenize`)
// holding different modality sets: a modality a dataset lacks is absent.
#include <random>
#include <set>

#include "astrofm/codecs.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/aion.h"
#include "astrofm/models/architecture.h"
#include "../tasks.h"

namespace astrofm::train {
using namespace astrofm::models;
namespace {

// The model's modalities: every tok_ column of the data that a codec covers.
AionConfig model_config(const nlohmann::json& cfg, const TrainOptions& opt) {
  if (opt.options("codecs").empty()) fail_usage("train aion: --codecs CODECS (the files the token datasets were made with)");
  auto set = codecs::CodecSet::load(opt.options("codecs"));
  std::set<std::string> cols;
  auto consider = [&](const std::string& name) {
    if (name.rfind("tok_", 0) == 0) cols.insert(name);
  };
  if (opt.table) {
    for (const auto& c : opt.table->columns()) consider(c.name);
  } else {
    for (const auto& d : opt.data)
      for (const auto& c : Dataset::open(d).schema()) consider(c.name);
  }
  if (cols.empty()) fail_input("{}: no tok_<modality> columns (run astrofm tokenize first)", fmt::join(opt.data, ", "));
  nlohmann::json m = cfg["model"];
  nlohmann::json mods = nlohmann::json::array();
  int64_t id = 1;
  for (const auto& c : cols) {
    const auto* codec = set.find(c.substr(4));
    if (!codec) fail_input("{}: no codec among --codecs for {}", fmt::join(opt.data, ", "), c);
    int64_t t = codec->info().num_tokens;
    int64_t s = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(t))));
    const ModalityKind kind = codec->info().modality_kind();
    bool square = (kind == ModalityKind::Image || kind == ModalityKind::Field) && s * s == t;
    mods.push_back({{"key", c}, {"column", c}, {"vocab", codec->info().vocab_size}, {"tokens", t},
                    {"grid", square ? std::vector<int64_t>{s, s} : std::vector<int64_t>{t, 1}}, {"id", id++}});
  }
  m["modalities"] = mods;
  return AionConfig::from_json(m);
}

// Token columns of every dataset, int64 [N, T] per modality; -1 where a dataset lacks the modality.
Table load_tokens(const nlohmann::json& cfg, const TrainOptions& opt) {
  AionConfig c = model_config(cfg, opt);
  Table out;
  for (const auto& d : opt.data) {
    Dataset ds = Dataset::open(d);
    std::vector<std::string> cols = {mmu::kObjectId};
    for (const auto& m : c.modalities)
      if (ds.has_column(m.column)) cols.push_back(m.column);
    Table t = read_table(d, cols);
    Table p;
    p.add(t.at(mmu::kObjectId));
    for (const auto& m : c.modalities) {
      Column col(m.column, DType::Int32, {m.tokens}, t.rows());
      if (const Column* src = t.find(m.column))
        for (int64_t i = 0; i < t.rows() * m.tokens; ++i) col.ptr<int32_t>()[i] = static_cast<int32_t>(src->as_int64(i));
      else
        std::fill_n(col.ptr<int32_t>(), t.rows() * m.tokens, codecs::kMissing);
      p.add(std::move(col));
    }
    if (out.columns().empty()) out = std::move(p);
    else out.append(p);
  }
  return out;
}

struct AionTask : Task {
  Aion model{nullptr};
  nlohmann::json cfg;
  std::vector<torch::Tensor> tokens;  // per modality, int64 [N, T]
  int64_t input_budget, target_budget;
  double beta_a, beta_b;

  AionTask(const nlohmann::json& c, Table& t, const TrainOptions& opt) : cfg(c) {
    AionConfig mc = model_config(c, opt);
    input_budget = c["input_budget"], target_budget = c["target_budget"];
    beta_a = c["target_beta"][0], beta_b = c["target_beta"][1];
    mc.num_encoder_tokens = input_budget;
    model = Aion(mc);
    for (const auto& m : mc.modalities) {
      const Column& col = t.at(m.column);
      tokens.push_back(torch::from_blob(const_cast<int32_t*>(col.ptr<int32_t>()), {col.rows, m.tokens}, torch::kInt32).to(torch::kLong));
    }
  }

  // torch's generator drives every draw: resuming at a step replays it exactly.
  static double uniform() { return torch::rand({1}, torch::kFloat64).item<double>(); }
  static double beta(double a, double b) {
    auto x = torch::_standard_gamma(torch::full({1}, a, torch::kFloat64)).item<double>();
    auto y = torch::_standard_gamma(torch::full({1}, b, torch::kFloat64)).item<double>();
    return x + y > 0 ? x / (x + y) : 0.0;
  }

  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    model->train(training);
    const auto& mods = model->config().modalities;
    const int64_t B = static_cast<int64_t>(rows.size()), M = static_cast<int64_t>(mods.size());
    auto idx = torch::tensor(rows, torch::kLong);
    std::vector<torch::Tensor> tok(M), in_mask(M), tgt_mask(M);
    // Masks are built in plain arrays (per-element tensor writes cost more
    // than the network on CPU); every random draw still comes from torch.
    std::vector<const int64_t*> tp(M);
    std::vector<std::vector<uint8_t>> inm(M), tgm(M);
    for (int64_t m = 0; m < M; ++m) {
      tok[m] = tokens[m].index_select(0, idx).contiguous();
      tp[m] = tok[m].data_ptr<int64_t>();
      inm[m].assign(B * mods[m].tokens, 1);
      tgm[m].assign(B * mods[m].tokens, 0);
    }
    for (int64_t b = 0; b < B; ++b) {
      // Positions of each available modality's observed tokens, in random order.
      std::vector<int64_t> avail;
      std::vector<std::vector<int64_t>> perm(M);
      for (int64_t m = 0; m < M; ++m) {
        const int64_t T = mods[m].tokens;
        std::vector<int64_t> obs;
        for (int64_t k = 0; k < T; ++k)
          if (tp[m][b * T + k] >= 0) obs.push_back(k);
        if (obs.empty()) continue;
        avail.push_back(m);
        auto order = torch::randperm(static_cast<int64_t>(obs.size()), torch::kLong);
        const int64_t* o = order.data_ptr<int64_t>();
        for (size_t k = 0; k < obs.size(); ++k) perm[m].push_back(obs[o[k]]);
      }
      if (avail.empty()) continue;
      std::vector<int64_t> n_obs(M, 0), used(M, 0);
      int64_t total_obs = 0;
      for (int64_t m : avail) n_obs[m] = static_cast<int64_t>(perm[m].size()), total_obs += n_obs[m];
      // Inputs: a random primary modality with a uniform count of its tokens,
      // then the rest of the budget uniformly from every token left.
      int64_t primary = avail[std::min(avail.size() - 1, static_cast<size_t>(uniform() * avail.size()))];
      if (total_obs < 2) continue;  // at least one token is left over to be a target
      int64_t budget = std::min(input_budget, total_obs - 1);
      used[primary] = std::min(budget, 1 + std::min(n_obs[primary] - 1, static_cast<int64_t>(uniform() * n_obs[primary])));
      budget -= used[primary];
      std::vector<int64_t> rest;  // one entry per token left, naming its modality
      for (int64_t m : avail)
        for (int64_t k = used[m]; k < n_obs[m]; ++k) rest.push_back(m);
      auto order = torch::randperm(static_cast<int64_t>(rest.size()), torch::kLong);
      const int64_t* ro = order.data_ptr<int64_t>();
      for (int64_t k = 0; k < std::min<int64_t>(budget, static_cast<int64_t>(rest.size())); ++k) ++used[rest[ro[k]]];
      // Which tokens: the first used[m] of the modality's random order.
      for (int64_t m : avail)
        for (int64_t k = 0; k < used[m]; ++k) inm[m][b * mods[m].tokens + perm[m][k]] = 0;
      // Targets: from what is not an input; the first modality drawn by Beta, the rest uniform.
      int64_t tbudget = target_budget, n_targets = 0;
      auto morder = torch::randperm(static_cast<int64_t>(avail.size()), torch::kLong);
      const int64_t* mo = morder.data_ptr<int64_t>();
      for (int64_t j = 0; j < static_cast<int64_t>(avail.size()); ++j) {
        int64_t m = avail[mo[j]];
        int64_t left = std::min(tbudget, n_obs[m] - used[m]);
        if (left <= 0) continue;
        double f = j == 0 ? beta(beta_a, beta_b) : uniform();
        int64_t n = std::min(left, static_cast<int64_t>(std::llround(f * left)));
        for (int64_t k = 0; k < n; ++k) tgm[m][b * mods[m].tokens + perm[m][used[m] + k]] = 1;
        tbudget -= n, n_targets += n;
      }
      if (n_targets == 0)  // at least one target per object
        for (int64_t m : avail)
          if (n_obs[m] > used[m]) {
            tgm[m][b * mods[m].tokens + perm[m][used[m]]] = 1;
            break;
          }
    }
    for (int64_t m = 0; m < M; ++m) {
      in_mask[m] = torch::from_blob(inm[m].data(), {B, mods[m].tokens}, torch::kUInt8).to(torch::kBool);
      tgt_mask[m] = torch::from_blob(tgm[m].data(), {B, mods[m].tokens}, torch::kUInt8).to(torch::kBool);
    }
    AionInputs in;
    std::vector<std::string> targets;
    std::vector<int64_t> target_mods;
    for (int64_t m = 0; m < M; ++m) {
      in.tokens.emplace_back(mods[m].key, dev(tok[m]));
      in.masks.push_back(dev(in_mask[m]));
      if (tgt_mask[m].any().item<bool>()) targets.push_back(mods[m].key), target_mods.push_back(m);
    }
    if (targets.empty()) return torch::zeros({}, torch::requires_grad());
    auto enc = model->encode(in, input_budget);
    std::vector<torch::Tensor> selected;
    for (int64_t m : target_mods) selected.push_back(dev(tgt_mask[m]));
    auto out = model->decode_selected(enc, targets, selected, target_budget);
    // Cross-entropy per modality over its target tokens, averaged over modalities.
    std::vector<torch::Tensor> per;
    for (size_t k = 0; k < targets.size(); ++k) {
      const auto& [logits, flat] = out[k];
      if (flat.numel() == 0) continue;  // all its targets were past the decoder budget
      per.push_back(torch::nn::functional::cross_entropy(logits, dev(tok[target_mods[k]]).flatten().index_select(0, flat)));
    }
    if (per.empty()) return torch::zeros({}, torch::requires_grad());
    return torch::stack(per).mean();
  }
  std::vector<torch::Tensor> parameters() override {
    // The modality embeddings are shared by encoder and decoder: each parameter once.
    std::vector<torch::Tensor> out;
    std::set<void*> seen;
    for (auto& p : model->parameters())
      if (seen.insert(p.data_ptr()).second) out.push_back(p);
    return out;
  }
  torch::nn::Module& trained() override { return *model; }
  torch::nn::Module& saved() override { return *model; }
  nlohmann::json meta() override {
    return {{"architecture", "aion"}, {"config", model->config().to_json()},
            {"training", {{"task", "aion"}, {"input_budget", input_budget}, {"target_budget", target_budget}, {"target_beta", cfg["target_beta"]}}}};
  }
};

}  // namespace

void register_aion(TaskTable& t) {
  TaskSpec s;
  s.name = "aion";
  s.description = "AION-1 multimodal masked modelling on codec tokens of several datasets";
  s.options = {{.name = "codecs", .help = "the codec files the token datasets were made with", .multiple = true, .required = true}};
  s.default_config = [] {
    auto c = common_config();
    auto m = architecture_table().at("aion").default_config();
    m.erase("modalities");  // from the data and the codecs
    c["model"] = m;
    c["input_budget"] = 256;   // AION's
    c["target_budget"] = 128;  // AION's
    c["target_beta"] = {0.1, 1.0};
    c["batch"] = 32;
    c["lr"] = 2e-4;
    c["weight_decay"] = 0.05;
    return c;
  };
  s.columns = [](const TrainOptions&) { return std::vector<std::string>{mmu::kObjectId}; };
  s.load = load_tokens;
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions& opt, const std::string&) -> std::unique_ptr<Task> {
    return std::make_unique<AionTask>(cfg, t, opt);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train
