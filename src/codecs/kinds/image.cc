// The image codec (AION's aion/codecs/image.py): centre crop, per-band clip,
// zero-point rescale (HSC 27 -> 22.5), arcsinh range compression, the
// per-band field embedding over a fixed band vocabulary (images from surveys
// with different band sets, or missing bands, share one codec), a MagViT
// autoencoder and FSQ. Tokens: (crop / 2^n_compressions)^2 per image.
#include <cmath>

#include "astrofm/bands.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "codecs/codec_table.h"
#include "codecs/image_codec.h"

namespace astrofm::codecs {
namespace nn = torch::nn;

// ---------------------------------------------------------------- config

namespace {
const double kHscScale = std::pow(10.0, (27.0 - 22.5) / 2.5);

nlohmann::json band_json(const VocabBand& b) {
  nlohmann::json j = {{"name", b.name}, {"clip", b.clip}, {"scale", b.scale}};
  if (b.display) j["display"] = true;
  return j;
}
}  // namespace

int64_t ImageConfig::vocab() const {
  int64_t k = 1;
  for (auto l : levels) k *= l;
  return k;
}

ImageConfig ImageConfig::aion() {
  ImageConfig c;
  // AION's BAND_TO_INDEX and BAND_CENTER_MAX (aion/codecs/preprocessing/band_to_index.py).
  c.bands = {{"HSC-G", false, 80, kHscScale}, {"HSC-R", false, 110, kHscScale}, {"HSC-I", false, 200, kHscScale},
             {"HSC-Z", false, 330, kHscScale}, {"HSC-Y", false, 500, kHscScale}, {"DES-G", false, 6, 1},
             {"DES-R", false, 15, 1},          {"DES-I", false, 20, 1},          {"DES-Z", false, 25, 1}};
  c.decode_bands = {"DES-G", "DES-R", "DES-I", "DES-Z"};
  return c;
}

ImageConfig ImageConfig::defaults() {
  ImageConfig c = aion();
  // SDSS in nanomaggies, clipped like the DECam band nearest in wavelength.
  for (auto [n, clip] : std::vector<std::pair<const char*, double>>{{"SDSS-U", 6}, {"SDSS-G", 6}, {"SDSS-R", 15}, {"SDSS-I", 20}, {"SDSS-Z", 25}})
    c.bands.push_back({n, false, clip, 1});
  for (const char* n : {"SDSS-G", "SDSS-R", "SDSS-I"}) c.bands.push_back({n, true, 1.0, 1});
  c.projection_dims = 6 * static_cast<int64_t>(c.bands.size());  // AION: 54 = 6 x 9 bands
  return c;
}

nlohmann::json ImageConfig::to_json() const {
  nlohmann::json b = nlohmann::json::array();
  for (const auto& v : bands) b.push_back(band_json(v));
  return {{"crop", crop}, {"hidden_dims", hidden_dims}, {"n_compressions", n_compressions}, {"num_consecutive", num_consecutive},
          {"embedding_dim", embedding_dim}, {"projection_dims", projection_dims}, {"levels", levels},
          {"range_compression", range_compression}, {"mult_factor", mult_factor}, {"display_sigma", display_sigma},
          {"bands", b}, {"decode_bands", decode_bands}};
}

ImageConfig ImageConfig::from_json(const nlohmann::json& j, const std::string& where) {
  ImageConfig c = defaults();
  try {
    c.crop = j.value("crop", c.crop);
    c.hidden_dims = j.value("hidden_dims", c.hidden_dims);
    c.n_compressions = j.value("n_compressions", c.n_compressions);
    c.num_consecutive = j.value("num_consecutive", c.num_consecutive);
    c.embedding_dim = j.value("embedding_dim", c.embedding_dim);
    c.projection_dims = j.value("projection_dims", c.projection_dims);
    c.levels = j.value("levels", c.levels);
    c.range_compression = j.value("range_compression", c.range_compression);
    c.mult_factor = j.value("mult_factor", c.mult_factor);
    c.display_sigma = j.value("display_sigma", c.display_sigma);
    c.decode_bands = j.value("decode_bands", c.decode_bands);
    if (j.contains("bands")) {
      c.bands.clear();
      for (const auto& b : j.at("bands")) {
        VocabBand v{band(b.at("name").get<std::string>(), where).name, b.value("display", false), b.at("clip").get<double>(),
                    b.value("scale", 1.0)};
        c.bands.push_back(v);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    fail_input("{}: image codec config: {}", where, e.what());
  }
  if (c.crop < 8 || c.crop % (1 << c.n_compressions) != 0)
    fail_input("{}: image codec crop {} must be at least 8 and divisible by 2^n_compressions = {}", where, c.crop, 1 << c.n_compressions);
  if (static_cast<int64_t>(c.levels.size()) != c.embedding_dim)
    fail_input("{}: {} FSQ levels for an embedding of {} dimensions", where, c.levels.size(), c.embedding_dim);
  if (c.bands.empty()) fail_input("{}: the image codec needs a band vocabulary", where);
  if ((c.hidden_dims >> c.n_compressions) < 1) fail_input("{}: hidden_dims {} too small for {} compressions", where, c.hidden_dims, c.n_compressions);
  return c;
}

// ---------------------------------------------------------------- network

ImageNetImpl::ImageNetImpl(const ImageConfig& c) : cfg(c) {
  const int64_t v = static_cast<int64_t>(c.bands.size());
  _quantizer = register_module("_quantizer", FSQ(c.levels));
  subsample_in = register_module("subsample_in", SubsampledLinear(v, c.projection_dims, true));
  subsample_out = register_module("subsample_out", SubsampledLinear(c.projection_dims, v, false));
  pre_quant_proj = register_module("pre_quant_proj", nn::Conv2d(c.hidden_dims, c.embedding_dim, 1));
  post_quant_proj = register_module("post_quant_proj", nn::Conv2d(c.embedding_dim, c.hidden_dims, 1));
  model = register_module("model", MagVitAE(c.projection_dims, c.hidden_dims, c.n_compressions, c.num_consecutive));
}

ImageNetImpl::Prepared ImageNetImpl::prepare(const Table& b, bool with_weight, const std::string& where) const {
  const Column& arr = b.at(mmu::kImageArray);
  if (arr.shape.size() != 3) fail_input("{}: image_array must be [N, bands, H, W], got {}", where, arr.describe());
  const Column& bandcol = b.at(mmu::kImageBand);
  const int64_t n = arr.rows, nb = arr.shape[0], h = arr.shape[1], w = arr.shape[2], c = cfg.crop;
  if (h < c || w < c) fail_input("{}: images of {}x{} pixels are smaller than the codec's {}x{} crop", where, h, w, c, c);
  if (bandcol.row_elems() != nb) fail_input("{}: image_band names {} bands for {}-band images", where, bandcol.row_elems(), nb);
  using torch::indexing::Slice;
  auto x = torch::nan_to_num(column_tensor(arr, where), 0.0)
               .index({Slice(), Slice(), Slice((h - c) / 2, (h - c) / 2 + c), Slice((w - c) / 2, (w - c) / 2 + c)})
               .contiguous();
  torch::Tensor ivar;
  const Column* ivc = b.find(mmu::kImageIvar);
  if (ivc) ivar = column_tensor(*ivc, where).index({Slice(), Slice(), Slice((h - c) / 2, (h - c) / 2 + c), Slice((w - c) / 2, (w - c) / 2 + c)});
  // Per row: which vocabulary entry each band is (display rows have no noise model).
  std::vector<int64_t> vidx(static_cast<size_t>(n * nb), -1);
  std::vector<float> clip(static_cast<size_t>(n * nb), 1.f), scale(static_cast<size_t>(n * nb), 1.f);
  std::vector<uint8_t> display(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    display[i] = !ivar.defined() || !torch::isfinite(ivar[i]).any().item<bool>();
    for (int64_t k = 0; k < nb; ++k) {
      const std::string& name = bandcol.strings[static_cast<size_t>(i * nb + k)];
      if (name.empty()) continue;  // padding of a mixed-survey batch
      const Band* bd = find_band(name);
      int64_t found = -1;
      for (size_t v = 0; bd && v < cfg.bands.size(); ++v)
        if (cfg.bands[v].name == bd->name && cfg.bands[v].display == static_cast<bool>(display[i])) found = static_cast<int64_t>(v);
      if (found < 0) {
        std::vector<std::string> known;
        for (const auto& v : cfg.bands) known.push_back(v.display ? v.name + " (8-bit)" : v.name);
        fail_input("{}: row {} band '{}'{} is not in the image codec's band vocabulary ({})", where, i, name,
                   display[i] ? " of an 8-bit display image" : "", fmt::join(known, ", "));
      }
      for (int64_t k2 = 0; k2 < k; ++k2)
        if (vidx[static_cast<size_t>(i * nb + k2)] == found) fail_input("{}: row {} names band '{}' twice", where, i, name);
      vidx[static_cast<size_t>(i * nb + k)] = found;
      clip[static_cast<size_t>(i * nb + k)] = static_cast<float>(cfg.bands[found].clip);
      scale[static_cast<size_t>(i * nb + k)] = static_cast<float>(cfg.bands[found].scale);
    }
  }
  auto clip_t = torch::tensor(clip).view({n, nb, 1, 1}), scale_t = torch::tensor(scale).view({n, nb, 1, 1});
  auto xs = torch::clamp(x, -clip_t, clip_t) / scale_t;
  auto xc = torch::arcsinh(xs / cfg.range_compression) * cfg.range_compression;
  xc = xc * cfg.mult_factor;
  const int64_t V = static_cast<int64_t>(cfg.bands.size());
  Prepared p;
  p.x = torch::zeros({n, V, c, c});
  p.mask = torch::zeros({n, V}, torch::kBool);
  if (with_weight) p.weight = torch::zeros({n, V, c, c});
  torch::Tensor wt;
  if (with_weight) {
    auto iv = ivar.defined() ? torch::nan_to_num(ivar, 0.0).clamp_min(0) : torch::zeros_like(x);
    const Column* mc = b.find(mmu::kImageMask);
    if (mc) iv = iv.masked_fill(column_tensor(*mc, where).index({Slice(), Slice(), Slice((h - c) / 2, (h - c) / 2 + c), Slice((w - c) / 2, (w - c) / 2 + c)}), 0.0);
    auto disp = torch::from_blob(display.data(), {n}, torch::kUInt8).to(torch::kBool).view({n, 1, 1, 1});
    iv = torch::where(disp, torch::full_like(iv, 1.0 / (cfg.display_sigma * cfg.display_sigma)), iv * scale_t * scale_t);
    // Inverse variance after the compression, to first order (delta method).
    auto r = xs / cfg.range_compression;
    wt = iv * (1 + r * r) / (cfg.mult_factor * cfg.mult_factor);
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < nb; ++k) {
      int64_t v = vidx[static_cast<size_t>(i * nb + k)];
      if (v < 0) continue;
      p.x[i][v] = xc[i][k];
      p.mask[i][v] = true;
      if (with_weight) p.weight[i][v] = wt[i][k];
    }
  for (int64_t i = 0; i < n; ++i)
    if (!p.mask[i].any().item<bool>()) fail_input("{}: row {} has no bands", where, i);
  return p;
}

torch::Tensor ImageNetImpl::latent(const Prepared& p) {
  auto h = model->encode(subsample_in(p.x, p.mask));
  h = pre_quant_proj(h);
  return h.reshape({h.size(0), h.size(1), -1});
}

torch::Tensor ImageNetImpl::reconstruct(const torch::Tensor& z) {
  const int64_t s = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(z.size(2)))));
  auto h = post_quant_proj(z.reshape({z.size(0), z.size(1), s, s}));
  auto y = model->decode(h);
  auto all = torch::ones({z.size(0), static_cast<int64_t>(cfg.bands.size())}, z.options().dtype(torch::kBool));
  return subsample_out(y, all);
}

torch::Tensor ImageNetImpl::decompress(const torch::Tensor& x) const {
  auto y = x / cfg.mult_factor;
  return torch::sinh(y / cfg.range_compression) * cfg.range_compression;
}

// ---------------------------------------------------------------- codec

namespace {

struct ImageCodec : Codec {
  mutable ImageNet net{nullptr};
  explicit ImageCodec(ImageNet n) : net(std::move(n)) {
    net->eval();
    info_ = {"image", "image", net->cfg.tokens(), net->cfg.vocab(), net->cfg.to_json()};
  }
  std::vector<std::string> input_columns() const override { return {mmu::kImageArray, mmu::kImageBand}; }
  Column encode(const Table& b, const std::string& where) const override {
    torch::NoGradGuard ng;
    auto p = net->prepare(b, false, where);
    return tokens_column("image", net->_quantizer->encode(net->latent(p)));
  }
  Column preprocessed(const Table& b, const std::string& where) const override {
    torch::NoGradGuard ng;
    return models::tensor_column("preprocessed", net->prepare(b, false, where).x);
  }
  Table decode(const Column& tokens, const Table& ctx, const std::string& where) const override {
    torch::NoGradGuard ng;
    auto t = tokens_tensor(tokens, info_, false, where);
    auto img = net->decompress(net->reconstruct(net->_quantizer->decode(t)));
    const int64_t n = t.size(0);
    const Column* bc = ctx.find(mmu::kImageBand);
    const Column* dc = ctx.find("image_display");
    const auto& cfg = net->cfg;
    int64_t nb = bc ? bc->row_elems() : static_cast<int64_t>(cfg.decode_bands.size());
    auto out = torch::zeros({n, nb, cfg.crop, cfg.crop});
    std::vector<std::string> names(static_cast<size_t>(n * nb));
    for (int64_t i = 0; i < n; ++i) {
      bool display = dc && dc->as_int64(i) != 0;
      for (int64_t k = 0; k < nb; ++k) {
        std::string name = bc ? bc->strings[static_cast<size_t>(i * nb + k)] : cfg.decode_bands[k];
        names[static_cast<size_t>(i * nb + k)] = name;
        if (name.empty()) continue;
        const Band* bd = find_band(name);
        int64_t v = -1;
        for (size_t j = 0; bd && j < cfg.bands.size(); ++j)
          if (cfg.bands[j].name == bd->name && cfg.bands[j].display == display) v = static_cast<int64_t>(j);
        if (v < 0) fail_input("{}: cannot decode band '{}': not in the image codec's vocabulary", where, name);
        auto x = img[i][v] * cfg.bands[v].scale;
        out[i][k] = display ? x.clamp(0, 1) : x;
      }
    }
    Table res;
    res.add(models::tensor_column(mmu::kImageArray, out));
    res.add(make_string_column(mmu::kImageBand, names, {nb}));
    // The rest of the MMU image columns: decoded flux carries no noise model
    // (ivar 0: no weight; display images NaN as 8-bit cutouts have), no mask.
    Column iv(mmu::kImageIvar, DType::Float32, {nb, cfg.crop, cfg.crop}, n);
    const int64_t per = nb * cfg.crop * cfg.crop;
    for (int64_t i = 0; i < n; ++i)
      std::fill_n(iv.ptr<float>() + i * per, per, dc && dc->as_int64(i) != 0 ? NAN : 0.f);
    res.add(std::move(iv));
    res.add(Column(mmu::kImageMask, DType::Bool, {nb, cfg.crop, cfg.crop}, n));
    Column psf(mmu::kImagePsfFwhm, DType::Float32, {nb}, n), sc(mmu::kImageScale, DType::Float32, {nb}, n);
    std::fill_n(psf.ptr<float>(), n * nb, NAN);
    std::fill_n(sc.ptr<float>(), n * nb, NAN);
    res.add(std::move(psf));
    res.add(std::move(sc));
    return res;
  }
  ModelFile to_part() const override { return module_part(*net, info_); }
};

// AION's ImageCodec state dict -> config (what the weights reveal; AION's fixed vocabulary and crop).
ImageConfig aion_config_from(const StateDict& sd, const nlohmann::json& hp, const std::string& where) {
  ImageConfig c = ImageConfig::aion();
  auto pre = need(sd, "pre_quant_proj.weight", where);
  c.embedding_dim = pre.size(0);
  c.hidden_dims = pre.size(1);
  auto sub = need(sd, "subsample_in.weight", where);
  c.projection_dims = sub.size(0);
  if (sub.size(1) != 9) fail_input("{}: subsample_in has {} bands; AION's vocabulary has 9", where, sub.size(1));
  auto lv = need(sd, "_quantizer.levels", where).to(torch::kLong);
  c.levels.assign(lv.data_ptr<int64_t>(), lv.data_ptr<int64_t>() + lv.numel());
  int64_t comp = 0;
  while (sd.count(fmt::format("model.encoder_layers.{}.conv.weight", 1 + 2 * comp)) &&
         sd.at(fmt::format("model.encoder_layers.{}.conv.weight", 1 + 2 * comp)).size(2) == 3)
    ++comp;
  c.n_compressions = comp;
  int64_t consec = 0;
  while (sd.count(fmt::format("model.encoder_layers.2.{}.net.0.conv.weight", consec))) ++consec;
  c.num_consecutive = consec;
  c.range_compression = hp.value("range_compression_factor", c.range_compression);
  c.mult_factor = hp.value("mult_factor", c.mult_factor);
  return c;
}

}  // namespace

void register_image(CodecTable& t) {
  CodecSpec s;
  s.kind = "image";
  s.modality_kind = ModalityKind::Image;
  s.description = "range compression, per-band field embedding, MagViT autoencoder, FSQ (AION's image codec)";
  s.default_config = [] { return ImageConfig::defaults().to_json(); };
  s.load = [](const ModelFile& part, const std::string& where) -> std::shared_ptr<const Codec> {
    ImageNet net(ImageConfig::from_json(part.meta.at("config"), where));
    load_module(*net, part, where);
    return std::make_shared<ImageCodec>(net);
  };
  s.convert_kinds = {"aion-codec-image"};
  s.convert = [](const std::string&, const StateDict& sd, const nlohmann::json& hp, const std::string& where) -> std::shared_ptr<const Codec> {
    ImageNet net(aion_config_from(sd, hp, where));
    models::load_state(*net, sd, where);
    return std::make_shared<ImageCodec>(net);
  };
  t.add(std::move(s));
}

std::shared_ptr<const Codec> make_image_codec(ImageNet net) { return std::make_shared<ImageCodec>(std::move(net)); }

}  // namespace astrofm::codecs
