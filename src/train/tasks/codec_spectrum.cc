// Training the spectrum codec: inverse-variance weighted reconstruction of the
// normalised flux on the latent grid through LFQ (plus LFQ's entropy and
// commitment losses), on spectra of any grid (DESI linear, SDSS log-lambda).
#include "astrofm/codecs.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "codecs/codec_table.h"
#include "codecs/spectrum_codec.h"
#include "../tasks.h"

namespace astrofm::train {
using namespace astrofm::codecs;
namespace {

// Spectra of several datasets, padded to the longest (lambda -1, mask true).
Table load_spectrum_sets(const nlohmann::json&, const TrainOptions& opt) {
  std::vector<Table> parts;
  int64_t len = 0;
  for (const auto& d : opt.data) {
    Dataset ds = Dataset::open(d);
    std::vector<std::string> cols = {mmu::kObjectId, mmu::kSpectrumFlux, mmu::kSpectrumLambda};
    for (const char* c : {mmu::kSpectrumIvar, mmu::kSpectrumMask})
      if (ds.has_column(c)) cols.push_back(c);
    parts.push_back(read_table(d, cols));
    len = std::max(len, parts.back().at(mmu::kSpectrumFlux).row_elems());
  }
  Table out;
  for (auto& t : parts) {
    const int64_t n = t.rows(), l = t.at(mmu::kSpectrumFlux).row_elems();
    auto pad = [&](const char* name, float fill, float missing) {
      Column c(name, DType::Float32, {len}, n);
      const Column* src = t.find(name);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < len; ++k)
          c.ptr<float>()[i * len + k] = k < l ? (src ? static_cast<float>(src->as_double(i * l + k)) : missing) : fill;
      return c;
    };
    Table p;
    p.add(t.at(mmu::kObjectId));
    p.add(pad(mmu::kSpectrumFlux, 0, 0));
    p.add(pad(mmu::kSpectrumLambda, -1, -1));
    p.add(pad(mmu::kSpectrumIvar, 0, NAN));
    Column m(mmu::kSpectrumMask, DType::Bool, {len}, n);
    const Column* sm = t.find(mmu::kSpectrumMask);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < len; ++k) m.data[i * len + k] = k >= l || (sm && sm->data[i * l + k]);
    p.add(std::move(m));
    if (out.columns().empty()) out = std::move(p);
    else out.append(p);
  }
  return out;
}

struct CodecSpectrumTask : Task {
  SpectrumNet net{nullptr};
  Table data;
  CodecSpectrumTask(const nlohmann::json& c, Table& t, const std::string& where) : data(std::move(t)) {
    t.add(data.at(mmu::kObjectId));  // the loop splits on the ids; the rest lives here only
    net = SpectrumNet(SpectrumConfig::from_json(c["codec"], where));
    net->prepare(data.slice(0, std::min<int64_t>(data.rows(), 64)), true, where);  // spectra off the grid fail now
  }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    net->train(training);
    auto p = net->prepare(data.take(rows), true, "training data");
    p.x = dev(p.x), p.target = dev(p.target), p.weight = dev(p.weight), p.norm = dev(p.norm);
    auto q = net->_quantizer->forward(net->latent(p.x));
    auto rec = net->reconstruct(q.quantized);
    auto chi = (p.weight * (rec - p.target).pow(2)).sum() / (p.weight > 0).sum().clamp_min(1);
    return chi + q.aux_loss;
  }
  std::vector<torch::Tensor> parameters() override { return net->parameters(); }
  torch::nn::Module& trained() override { return *net; }
  torch::nn::Module& saved() override { return *net; }
  nlohmann::json meta() override {
    return {{"architecture", "codecs"}, {"config", nlohmann::json::object()}, {"training", {{"task", "codec-spectrum"}}}};
  }
  ModelFile model_file(const nlohmann::json& meta) override {
    CodecSet s;
    s.add(make_spectrum_codec(net));
    auto m = meta;
    m["description"] = fmt::format("spectrum codec: {} tokens on {:.0f}-{:.0f} A at {} A", net->cfg.tokens(), net->cfg.lambda_min,
                                   net->cfg.lambda_min + net->cfg.resolution * (net->cfg.num_pixels - 1), net->cfg.resolution);
    return s.model_file(m);
  }
};

}  // namespace

void register_codec_spectrum(TaskTable& t) {
  TaskSpec s;
  s.name = "codec-spectrum";
  s.description = "the spectrum tokenizer (AION's spectrum codec): inverse-variance weighted reconstruction through LFQ";
  s.default_config = [] {
    auto c = common_config();
    c["codec"] = SpectrumConfig{}.to_json();
    c["batch"] = 16;
    c["lr"] = 3e-4;
    return c;
  };
  s.columns = [](const TrainOptions&) { return std::vector<std::string>{mmu::kObjectId, mmu::kSpectrumFlux, mmu::kSpectrumLambda}; };
  s.load = load_spectrum_sets;
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions&, const std::string& where) -> std::unique_ptr<Task> {
    return std::make_unique<CodecSpectrumTask>(cfg, t, where);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train
