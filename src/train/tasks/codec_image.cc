// Training the image codec: inverse-variance weighted reconstruction (AION's
// loss) of range-compressed images through the FSQ bottleneck, on datasets
// that may hold different band sets (Legacy-Survey-like, HSC-like, 8-bit cutouts).
#include "astrofm/codecs.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "codecs/codec_table.h"
#include "codecs/image_codec.h"
#include "../tasks.h"

namespace astrofm::train {
using namespace astrofm::codecs;
namespace {

// Image columns of several datasets, centre-cropped to the codec's crop and
// padded to the largest band count (padding bands are named "").
Table load_image_sets(const nlohmann::json& cfg, const TrainOptions& opt) {
  const int64_t crop = cfg["codec"].value("crop", 96);
  std::vector<Table> parts;
  int64_t nb = 0;
  for (const auto& d : opt.data) {
    Dataset ds = Dataset::open(d);
    std::vector<std::string> cols = {mmu::kObjectId, mmu::kImageArray, mmu::kImageBand};
    for (const char* c : {mmu::kImageIvar, mmu::kImageMask})
      if (ds.has_column(c)) cols.push_back(c);
    Table t = read_table(d, cols);
    const Column& a = t.at(mmu::kImageArray);
    if (a.shape.size() != 3) fail_input("{}: image_array must be [N, bands, H, W], got {}", d, a.describe());
    if (a.shape[1] < crop || a.shape[2] < crop) fail_input("{}: images of {}x{} pixels are smaller than the {}-pixel crop", d, a.shape[1], a.shape[2], crop);
    nb = std::max(nb, a.shape[0]);
    parts.push_back(std::move(t));
  }
  Table out;
  for (auto& t : parts) {
    const int64_t n = t.rows(), b = t.at(mmu::kImageArray).shape[0], h = t.at(mmu::kImageArray).shape[1], w = t.at(mmu::kImageArray).shape[2];
    auto crop_pad = [&](const char* name, bool fill_nan) {
      Column c(name, DType::Float32, {nb, crop, crop}, n);
      const Column* src = t.find(name);
      float* dst = c.ptr<float>();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < nb; ++k)
          for (int64_t y = 0; y < crop; ++y)
            for (int64_t x = 0; x < crop; ++x) {
              float v = fill_nan ? NAN : 0.f;
              if (src && k < b) v = static_cast<float>(src->as_double(((i * b + k) * h + y + (h - crop) / 2) * w + x + (w - crop) / 2));
              dst[((i * nb + k) * crop + y) * crop + x] = v;
            }
      return c;
    };
    Table p;
    p.add(t.at(mmu::kObjectId));
    p.add(crop_pad(mmu::kImageArray, false));
    p.add(crop_pad(mmu::kImageIvar, true));
    std::vector<std::string> bands(static_cast<size_t>(n * nb));
    const Column& bc = t.at(mmu::kImageBand);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < b; ++k) bands[static_cast<size_t>(i * nb + k)] = bc.strings[static_cast<size_t>(i * b + k)];
    p.add(make_string_column(mmu::kImageBand, bands, {nb}));
    if (out.rows() == 0 && out.columns().empty()) out = std::move(p);
    else out.append(p);
  }
  return out;
}

struct CodecImageTask : Task {
  ImageNet net{nullptr};
  nlohmann::json cfg;
  Table data;
  CodecImageTask(const nlohmann::json& c, Table& t, const std::string& where) : cfg(c), data(std::move(t)) {
    t.add(data.at(mmu::kObjectId));  // the loop splits on the ids; the rest lives here only
    net = ImageNet(ImageConfig::from_json(c["codec"], where));
    net->prepare(data.slice(0, std::min<int64_t>(data.rows(), 64)), true, where);  // bad bands fail before training starts
  }
  torch::Tensor loss(const std::vector<int64_t>& rows, bool training) override {
    net->train(training);
    auto p = net->prepare(data.take(rows), true, "training data");
    if (training && cfg["augment"].get<bool>()) {
      // Flips and quarter turns: the sky has no preferred orientation.
      auto r = torch::randint(0, 8, {1}).item<int64_t>();
      auto f = [&](torch::Tensor x) {
        if (r & 4) x = x.flip({3});
        return torch::rot90(x, r & 3, {2, 3});
      };
      p.x = f(p.x), p.weight = f(p.weight);
    }
    p.x = dev(p.x), p.weight = dev(p.weight), p.mask = dev(p.mask);
    auto z = net->latent(p);
    auto zq = net->_quantizer->quantize(z);
    auto rec = net->reconstruct(zq);
    auto m = p.mask.to(torch::kFloat32).view({p.mask.size(0), p.mask.size(1), 1, 1}).expand_as(rec);
    auto chi = p.weight * (rec - p.x).pow(2) * m;
    return chi.sum() / m.sum().clamp_min(1);
  }
  std::vector<torch::Tensor> parameters() override { return net->parameters(); }
  torch::nn::Module& trained() override { return *net; }
  torch::nn::Module& saved() override { return *net; }
  nlohmann::json meta() override {
    return {{"architecture", "codecs"}, {"config", nlohmann::json::object()}, {"training", {{"task", "codec-image"}}}};
  }
  ModelFile model_file(const nlohmann::json& meta) override {
    CodecSet s;
    s.add(make_image_codec(net));
    auto m = meta;
    m["description"] = fmt::format("image codec: {} tokens of {} codes on {} px", net->cfg.tokens(), net->cfg.vocab(), net->cfg.crop);
    return s.model_file(m);
  }
};

}  // namespace

void register_codec_image(TaskTable& t) {
  TaskSpec s;
  s.name = "codec-image";
  s.description = "the image tokenizer (AION's image codec): inverse-variance weighted reconstruction through FSQ";
  s.default_config = [] {
    auto c = common_config();
    c["codec"] = ImageConfig::defaults().to_json();
    c["augment"] = true;
    c["batch"] = 16;
    c["lr"] = 3e-4;
    return c;
  };
  s.columns = [](const TrainOptions&) { return std::vector<std::string>{mmu::kObjectId, mmu::kImageArray, mmu::kImageBand}; };
  s.load = load_image_sets;
  s.make = [](const nlohmann::json& cfg, Table& t, const TrainOptions&, const std::string& where) -> std::unique_ptr<Task> {
    return std::make_unique<CodecImageTask>(cfg, t, where);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::train
