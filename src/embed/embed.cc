#include "astrofm/embed.h"

#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/config.h"
#include "astrofm/fits_table.h"
#include "astrofm/mmu.h"
#include "astrofm/models/astroclip.h"
#include "astrofm/models/preprocess.h"
#include "astrofm/models/registry.h"
#include "astrofm/progress.h"

namespace astrofm {
namespace fs = std::filesystem;
using namespace astrofm::models;

std::vector<std::pair<std::string, std::string>> shipped_models() {
  std::vector<std::pair<std::string, std::string>> out;
  fs::path dir = fs::path(ASTROFM_SOURCE_DIR) / "models";
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".afm") out.push_back({e.path().stem().string(), e.path().string()});
  std::sort(out.begin(), out.end());
  return out;
}

std::string resolve_model_path(const std::string& name) {
  if (fs::exists(name)) return name;
  for (const auto& [n, p] : shipped_models())
    if (n == name) return p;
  fail_input("no model file or shipped model named '{}' (see `astrofm models`)", name);
}

namespace {

torch::Tensor to_tensor(const Column& c) {
  auto sizes = c.shape;
  sizes.insert(sizes.begin(), c.rows);
  if (c.dtype == DType::Float32)
    return torch::from_blob(const_cast<uint8_t*>(c.data.data()), sizes, torch::kFloat32).clone();
  if (c.dtype == DType::Float64)
    return torch::from_blob(const_cast<uint8_t*>(c.data.data()), sizes, torch::kFloat64).to(torch::kFloat32);
  fail_input("column '{}' is {}, expected float32 or float64", c.name, dtype_name(c.dtype));
}

Column to_column(const std::string& name, const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat32).contiguous();
  std::vector<int64_t> shape(c.sizes().begin() + 1, c.sizes().end());  // [D] or tokens [T, D]
  Column col(name, DType::Float32, shape, c.size(0));
  std::memcpy(col.data.data(), c.data_ptr<float>(), col.data.size());
  return col;
}

// Band order the model expects, found in each row's image_band.
torch::Tensor select_bands(const Table& b, const torch::Tensor& images, const std::vector<std::string>& want) {
  const Column* band = b.find(mmu::kImageBand);
  if (!band) return images;
  int64_t nb = band->row_elems();
  std::vector<int64_t> idx;
  for (const auto& w : want) {
    int64_t k = -1;
    for (int64_t j = 0; j < nb; ++j)
      if (band->strings[j] == w) k = j;
    if (k < 0) fail_input("the model needs band '{}' but image_band holds {}", w, fmt::join(std::vector<std::string>(band->strings.begin(), band->strings.begin() + nb), ", "));
    idx.push_back(k);
  }
  return images.index_select(1, torch::tensor(idx, torch::kLong));
}

struct Embedder {
  LoadedModel lm;
  torch::Device device = torch::kCPU;
  bool image = false, spectrum = false;
  std::vector<std::string> bands = {"DES-G", "DES-R", "DES-Z"};
  int64_t crop = 144;
  bool tokens = false;  // also write the backbones' token outputs (for attentive probes)

  std::map<std::string, torch::Tensor> run(const Table& b) {
    torch::NoGradGuard ng;
    std::map<std::string, torch::Tensor> out;
    if (image) {
      // Legacy-Survey flux (DES bands) gets AstroCLIP's stretch; 8-bit colour cutouts are used as they are.
      const Column* band = b.find(mmu::kImageBand);
      bool flux = !band || band->strings[0].rfind("DES-", 0) == 0;
      auto x = to_tensor(b.at(mmu::kImageArray));
      x = flux ? astroclip_image_input(select_bands(b, x, bands), crop) : center_crop(torch::nan_to_num(x, 0.0), crop).contiguous();
      x = x.to(device);
      if (lm.architecture == "astroclip") {
        auto tower = std::dynamic_pointer_cast<AstroClipImpl>(lm.module)->image_encoder;
        out["embedding_image"] = tower->forward(x);
        if (tokens) out["tokens_image"] = tower->backbone_tokens(x);
      } else if (lm.architecture == "cnn") {
        auto cnn = std::dynamic_pointer_cast<CnnImpl>(lm.module);
        auto t = cnn->forward_tokens(x);
        out["embedding_image"] = t.mean(1);
        if (tokens) out["tokens_image"] = t;
      } else {
        auto vit = std::dynamic_pointer_cast<ViTImpl>(lm.module);
        auto t = vit->forward_tokens(x);
        out["embedding_image"] = t.select(1, 0);
        if (tokens) out["tokens_image"] = t;
      }
    }
    if (spectrum) {
      auto flux = to_tensor(b.at(mmu::kSpectrumFlux));
      if (lm.architecture == "astroclip") {
        auto clip = std::dynamic_pointer_cast<AstroClipImpl>(lm.module);
        auto in = specformer_preprocess(flux, clip->cfg.spectrum).to(device);
        out["embedding_spectrum"] = clip->spectrum_encoder->forward(in);
        if (tokens) out["tokens_spectrum"] = clip->spectrum_encoder->backbone->forward_tokens(in);
      } else {
        auto sf = std::dynamic_pointer_cast<SpecFormerImpl>(lm.module);
        // One vector per spectrum: the mean of SpecFormer's output tokens.
        auto t = sf->forward_tokens(specformer_preprocess(flux, sf->cfg).to(device));
        out["embedding_spectrum"] = t.mean(1);
        if (tokens) out["tokens_spectrum"] = t;
      }
    }
    return out;
  }
};

}  // namespace

EmbedResult embed_dataset(const EmbedOptions& opt) {
  if (opt.batch <= 0) fail_usage("--batch must be positive");
  Embedder e;
  e.tokens = opt.tokens;
  e.device = opt.device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (e.device.is_cuda() && !torch::cuda::is_available()) fail_usage("--device cuda: no CUDA device is available");
  std::string model_path = resolve_model_path(opt.model);
  e.lm = load_model(model_path, e.device);
  Dataset ds = Dataset::open(opt.data);
  bool has_image = ds.has_column(mmu::kImageArray), has_spec = ds.has_column(mmu::kSpectrumFlux);
  const auto& arch = e.lm.architecture;
  e.image = has_image && (arch == "astroclip" || arch == "vit" || arch == "cnn");
  e.spectrum = has_spec && (arch == "astroclip" || arch == "specformer");
  if (!e.image && !e.spectrum)
    fail_input("{}: nothing to embed with a '{}' model (the dataset has {}{})", opt.data, arch, has_image ? "images" : "no images",
               has_spec ? " and spectra" : " and no spectra");
  const auto& pre = e.lm.meta.value("preprocessing", nlohmann::json::object());
  if (pre.contains("image")) {
    e.bands = pre["image"].value("bands", e.bands);
  }
  e.crop = arch == "astroclip" ? std::dynamic_pointer_cast<AstroClipImpl>(e.lm.module)->image_encoder->img_size()
           : arch == "vit"     ? std::dynamic_pointer_cast<ViTImpl>(e.lm.module)->cfg.img_size
           : arch == "cnn"     ? std::dynamic_pointer_cast<CnnImpl>(e.lm.module)->cfg.img_size
                               : e.crop;
  std::string model_id = e.lm.meta.value("name", fs::path(model_path).stem().string());
  std::vector<std::string> cols = {mmu::kObjectId, mmu::kRa, mmu::kDec};
  if (e.image) cols.push_back(mmu::kImageArray);
  if (e.image && ds.has_column(mmu::kImageBand)) cols.push_back(mmu::kImageBand);
  if (e.spectrum) cols.push_back(mmu::kSpectrumFlux);

  EmbedResult res;
  std::unique_ptr<DatasetWriter> w;
  std::unique_ptr<FitsTableWriter> fw;
  int64_t skip = 0;
  if (opt.format == "fits") {
    if (opt.resume) fail_usage("--resume works with the hdf5 format only");
    fw = std::make_unique<FitsTableWriter>(opt.out, "EMBEDDINGS", opt.overwrite);
  } else if (opt.format == "hdf5") {
    WriteOptions wo;
    wo.overwrite = opt.overwrite;
    wo.resume = opt.resume;
    w = std::make_unique<DatasetWriter>(opt.out, "embeddings", wo);
    w->set_attribute("model", model_id);
    w->set_attribute("source", "astrofm embed --model " + model_id + " --data " + opt.data);
    if (auto st = w->resume_state()) skip = nlohmann::json::parse(*st).at("rows").get<int64_t>();
  } else {
    fail_usage("--format must be hdf5 or fits, got '{}'", opt.format);
  }
  DatasetReader r(ds, {.columns = cols, .batch_rows = opt.batch});
  Progress bar("embed", ds.rows(), skip);
  Table b;
  int64_t seen = 0, since = 0;
  while (r.next(b)) {
    if (seen + b.rows() <= skip) {  // already embedded before the interruption
      seen += b.rows();
      continue;
    }
    if (seen < skip) b = b.slice(skip - seen, b.rows() - (skip - seen)), seen = skip;
    Table out;
    out.add(b.at(mmu::kObjectId));
    out.add(b.at(mmu::kRa));
    out.add(b.at(mmu::kDec));
    std::map<std::string, torch::Tensor> emb;
    try {
      emb = e.run(b);
    } catch (const c10::Error& err) {
      fail_input("{}: the model cannot take these inputs: {}", opt.data, err.what_without_backtrace());
    }
    for (auto& [name, t] : emb) out.add(to_column(name, t));
    out.add(make_string_column("model_id", std::vector<std::string>(b.rows(), model_id)));
    if (res.columns.empty())
      for (auto& [name, t] : emb) res.columns.push_back(name);
    if (w) w->append(out);
    else fw->append(out);
    seen += b.rows();
    since += b.rows();
    res.objects += b.rows();
    bar.advance(b.rows());
    if (w && since >= 4096) {
      w->checkpoint(nlohmann::json{{"rows", seen}}.dump());
      since = 0;
    }
  }
  bar.finish();
  if (w) w->commit();
  else fw->commit();
  return res;
}

}  // namespace astrofm
