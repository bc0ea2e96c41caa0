// The spectrum codec (AION's aion/codecs/spectrum.py): a normalisation token
// (the mean unmasked flux, clamped at 0.1, log10(n + 1), on linear bins), the
// scaled flux and 1/sigma interpolated onto a fixed latent wavelength grid,
// arcsinh, a ConvNeXt-1D autoencoder and LFQ. Works on any input grid (DESI's
// linear, SDSS/BOSS log-lambda), padding (lambda = -1) included.
#include <cmath>

#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "codecs/codec_table.h"
#include "codecs/spectrum_codec.h"

namespace astrofm::codecs {
namespace nn = torch::nn;

nlohmann::json SpectrumConfig::to_json() const {
  return {{"lambda_min", lambda_min}, {"resolution", resolution}, {"num_pixels", num_pixels}, {"encoder_depths", encoder_depths},
          {"encoder_dims", encoder_dims}, {"decoder_depths", decoder_depths}, {"decoder_dims", decoder_dims},
          {"latent_channels", latent_channels}, {"embedding_dim", embedding_dim}, {"codebook_size", codebook_size},
          {"clip_ivar", clip_ivar}, {"clip_flux", clip_flux}, {"input_scaling", input_scaling},
          {"normalization_range", normalization_range}, {"normalization_bins", normalization_bins}};
}

SpectrumConfig SpectrumConfig::from_json(const nlohmann::json& j, const std::string& where) {
  SpectrumConfig c;
  try {
    c.lambda_min = j.value("lambda_min", c.lambda_min);
    c.resolution = j.value("resolution", c.resolution);
    c.num_pixels = j.value("num_pixels", c.num_pixels);
    c.encoder_depths = j.value("encoder_depths", c.encoder_depths);
    c.encoder_dims = j.value("encoder_dims", c.encoder_dims);
    c.decoder_depths = j.value("decoder_depths", c.decoder_depths);
    c.decoder_dims = j.value("decoder_dims", c.decoder_dims);
    c.latent_channels = j.value("latent_channels", c.latent_channels);
    c.embedding_dim = j.value("embedding_dim", c.embedding_dim);
    c.codebook_size = j.value("codebook_size", c.codebook_size);
    c.clip_ivar = j.value("clip_ivar", c.clip_ivar);
    c.clip_flux = j.contains("clip_flux") && j["clip_flux"].is_number() ? j["clip_flux"].get<double>() : 0.0;
    c.input_scaling = j.value("input_scaling", c.input_scaling);
    c.normalization_range = j.value("normalization_range", c.normalization_range);
    c.normalization_bins = j.value("normalization_bins", c.normalization_bins);
  } catch (const nlohmann::json::exception& e) {
    fail_input("{}: spectrum codec config: {}", where, e.what());
  }
  if (c.encoder_dims.back() != c.latent_channels)
    fail_input("{}: the last encoder dim ({}) must equal latent_channels ({})", where, c.encoder_dims.back(), c.latent_channels);
  if (c.num_pixels % c.downsampling() != 0)
    fail_input("{}: num_pixels {} must be divisible by the encoder's downsampling {}", where, c.num_pixels, c.downsampling());
  if (c.decoder_dims.size() != c.encoder_dims.size()) fail_input("{}: encoder and decoder need the same number of stages", where);
  int64_t bits = static_cast<int64_t>(std::llround(std::log2(static_cast<double>(c.codebook_size))));
  if ((1LL << bits) != c.codebook_size) fail_input("{}: LFQ codebook_size {} must be a power of 2", where, c.codebook_size);
  if (c.normalization_range.size() != 2 || !(c.normalization_range[1] > c.normalization_range[0]))
    fail_input("{}: normalization_range must be [lo, hi] with lo < hi", where);
  return c;
}

namespace {
struct BucketsImpl : nn::Module {
  explicit BucketsImpl(torch::Tensor b) { buckets = register_buffer("buckets", b); }
  torch::Tensor buckets;
};
TORCH_MODULE(Buckets);
struct GridImpl : nn::Module {
  GridImpl(double lmin, double res, int64_t n) {
    register_buffer("lambda_min", torch::tensor(static_cast<float>(lmin)));
    register_buffer("resolution", torch::tensor(static_cast<float>(res)));
    register_buffer("length", torch::tensor(n, torch::kLong));
    wavelength = register_buffer("_wavelength", (torch::arange(0, n, torch::kLong) * res + lmin).to(torch::kFloat32).reshape({1, n}));
  }
  torch::Tensor wavelength;
};
TORCH_MODULE(Grid);
}  // namespace

SpectrumNetImpl::SpectrumNetImpl(const SpectrumConfig& c) : cfg(c) {
  _quantizer = register_module("_quantizer", LFQ(c.embedding_dim, c.codebook_size));
  encoder = register_module("encoder", ConvNext1d(true, 2, c.encoder_depths, c.encoder_dims));
  decoder = register_module("decoder", ConvNext1d(false, c.latent_channels, c.decoder_depths, c.decoder_dims));
  buckets = register_module("normalization_quantizer",
                            Buckets(torch::linspace(c.normalization_range[0], c.normalization_range[1], c.normalization_bins)))
                ->buckets;
  grid = register_module("latent_grid", Grid(c.lambda_min, c.resolution, c.num_pixels))->wavelength;
  pre_quant_norm = register_module("pre_quant_norm", nn::LayerNorm(nn::LayerNormOptions({c.latent_channels})));
  quant_conv = register_module("quant_conv", nn::Conv1d(c.latent_channels, c.embedding_dim, 1));
  post_quant_conv = register_module("post_quant_conv", nn::Conv1d(c.embedding_dim, c.latent_channels, 1));
}

torch::Tensor SpectrumNetImpl::norm_token(const torch::Tensor& norm) const { return linear_bucketize(norm, buckets); }
torch::Tensor SpectrumNetImpl::norm_value(const torch::Tensor& tok) const { return buckets.index_select(0, tok.flatten().to(torch::kLong)); }

SpectrumNetImpl::Prepared SpectrumNetImpl::prepare(const Table& b, bool with_target, const std::string& where) const {
  const Column& fc = b.at(mmu::kSpectrumFlux);
  if (fc.shape.size() != 1) fail_input("{}: spectrum_flux must be [N, L], got {}", where, fc.describe());
  auto flux = torch::nan_to_num(column_tensor(fc, where), 0.0);
  auto lam = column_tensor(b.at(mmu::kSpectrumLambda), where);
  const int64_t n = flux.size(0), l = flux.size(1);
  auto ivar = b.has(mmu::kSpectrumIvar) ? torch::nan_to_num(column_tensor(b.at(mmu::kSpectrumIvar), where), 0.0) : torch::zeros_like(flux);
  auto mask = b.has(mmu::kSpectrumMask) ? column_tensor(b.at(mmu::kSpectrumMask), where) : torch::zeros({n, l}, torch::kBool);
  // MMU pads shorter spectra with lambda = -1 (and mask = true) at the end.
  auto good_lambda = lam > 0;
  auto valid = good_lambda.sum(1);
  mask = mask | ~good_lambda;
  const float g0 = grid[0][0].item<float>(), g1 = grid[0][-1].item<float>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t v = valid[i].item<int64_t>();
    if (v < 2) fail_input("{}: row {} has {} valid wavelengths; a spectrum needs at least 2", where, i, v);
    float lo = lam[i][0].item<float>(), hi = lam[i][v - 1].item<float>();
    if (hi < g0 || lo > g1)
      fail_input("{}: row {} spectrum covers {:.1f}-{:.1f} A, outside the codec's wavelength grid {:.1f}-{:.1f} A", where, i, lo, hi, g0, g1);
  }
  if (cfg.clip_flux > 0) flux = torch::clamp(flux, -cfg.clip_flux, cfg.clip_flux);
  ivar = torch::clamp(ivar, 0, cfg.clip_ivar);
  auto istd = torch::sqrt(ivar);
  Prepared p;
  auto normalization = (flux * (1.0 - mask.to(torch::kFloat32))).sum(-1) / (torch::count_nonzero(~mask, c10::IntArrayRef{-1}) + 1.0);
  normalization = torch::clamp_min(normalization, 0.1);
  p.norm = torch::log10(normalization + 1.0);
  // Preparation runs on the CPU even when the network has moved to a GPU (training).
  const auto bk = buckets.to(torch::kCPU), gr = grid.to(torch::kCPU);
  auto q = bk.index_select(0, linear_bucketize(p.norm, bk).to(torch::kLong));
  auto nn_ = torch::clamp_min(torch::pow(10, q.unsqueeze(-1)) - 1.0, 0.1);
  auto spectrum = (flux / nn_ - 1.0) * cfg.input_scaling;
  auto is = (istd / nn_) * cfg.input_scaling;
  auto g = gr.expand({n, cfg.num_pixels}).contiguous();
  auto s_lat = interp_rows(lam, spectrum, g, valid);
  auto i_lat = interp_rows(lam, is, g, valid);
  p.x = torch::arcsinh(torch::stack({s_lat, i_lat}, 1));
  if (with_target) {
    p.target = s_lat / cfg.input_scaling;
    auto good_istd = (istd / nn_).masked_fill(mask, 0.0);
    auto w = interp_rows(lam, good_istd, g, valid);
    // Interpolating across a masked pixel must not borrow weight from it.
    auto bad = interp_rows(lam, mask.to(torch::kFloat32), g, valid) > 0;
    p.weight = (w * w).masked_fill(bad, 0.0);
  }
  return p;
}

torch::Tensor SpectrumNetImpl::latent(const torch::Tensor& x) {
  auto h = encoder(x);
  h = pre_quant_norm(h.movedim(1, -1)).movedim(-1, 1);
  return quant_conv(h);
}

torch::Tensor SpectrumNetImpl::reconstruct(const torch::Tensor& z) {
  auto s = decoder(post_quant_conv(z));
  return s.select(1, 0);  // one output channel: the flux (AION's 2-channel flux+mask variant is not trained here)
}

namespace {

struct SpectrumCodec : Codec {
  mutable SpectrumNet net{nullptr};
  explicit SpectrumCodec(SpectrumNet n) : net(std::move(n)) {
    net->eval();
    info_ = {"spectrum", "spectrum", net->cfg.tokens(), net->cfg.vocab(), net->cfg.to_json()};
    info_.token_vocab.assign(info_.num_tokens, net->cfg.codebook_size);
    info_.token_vocab[0] = net->cfg.normalization_bins;
  }
  std::vector<std::string> input_columns() const override { return {mmu::kSpectrumFlux, mmu::kSpectrumLambda}; }
  Column encode(const Table& b, const std::string& where) const override {
    torch::NoGradGuard ng;
    auto p = net->prepare(b, false, where);
    auto codes = net->_quantizer->forward(net->latent(p.x)).indices.to(torch::kLong);
    auto nt = net->norm_token(p.norm).to(torch::kLong).unsqueeze(1);
    return tokens_column("spectrum", torch::cat({nt, codes}, 1));
  }
  Column preprocessed(const Table& b, const std::string& where) const override {
    torch::NoGradGuard ng;
    return models::tensor_column("preprocessed", net->prepare(b, false, where).x);
  }
  Table decode(const Column& tokens, const Table& ctx, const std::string& where) const override {
    torch::NoGradGuard ng;
    auto t = tokens_tensor(tokens, info_, false, where);
    auto nt = t.select(1, 0);
    auto body = t.slice(1, 1);
    auto norm = net->norm_value(nt);
    auto s = net->reconstruct(net->_quantizer->decode(body));
    const int64_t n = t.size(0);
    torch::Tensor lam, mask;
    if (const Column* lc = ctx.find(mmu::kSpectrumLambda)) {
      lam = column_tensor(*lc, where);
      auto g = net->grid.expand({n, net->cfg.num_pixels}).contiguous();
      s = interp_rows(g, s, lam, torch::full({n}, net->cfg.num_pixels, torch::kLong));
      mask = (lam < net->grid[0][0]) | (lam > net->grid[0][-1]);
    } else {
      lam = net->grid.expand({n, net->cfg.num_pixels}).contiguous();
      mask = torch::zeros_like(lam, torch::kBool);
    }
    auto flux = (s + 1.0) * torch::clamp_min(torch::pow(10, norm.unsqueeze(-1)) - 1.0, 0.1);
    flux = flux.masked_fill(mask, 0.0);
    const int64_t len = flux.size(1);
    Table out;
    out.add(models::tensor_column(mmu::kSpectrumFlux, flux));
    out.add(models::tensor_column(mmu::kSpectrumLambda, lam));
    out.add(models::tensor_column(mmu::kSpectrumIvar, torch::full_like(flux, NAN)));  // ivar is not decoded
    Column m(mmu::kSpectrumMask, DType::Bool, {len}, n);
    auto mb = mask.to(torch::kUInt8).contiguous();
    std::memcpy(m.data.data(), mb.data_ptr<uint8_t>(), m.data.size());
    out.add(std::move(m));
    return out;
  }
  ModelFile to_part() const override { return module_part(*net, info_); }
};

std::vector<int64_t> stage_layout(const StateDict& sd, const std::string& prefix, std::vector<int64_t>& dims, const std::string& where) {
  std::vector<int64_t> depths;
  for (int64_t s = 0; sd.count(fmt::format("{}.stages.{}.0.dwconv.weight", prefix, s)); ++s) {
    int64_t d = 0;
    while (sd.count(fmt::format("{}.stages.{}.{}.dwconv.weight", prefix, s, d))) ++d;
    depths.push_back(d);
    dims.push_back(sd.at(fmt::format("{}.stages.{}.0.dwconv.weight", prefix, s)).size(0));
  }
  if (depths.empty()) fail_input("{}: no {}.stages.*: not an AION spectrum codec", where, prefix);
  return depths;
}

SpectrumConfig aion_config_from(const StateDict& sd, const nlohmann::json& hp, const std::string& where) {
  SpectrumConfig c;
  c.encoder_dims.clear();
  c.decoder_dims.clear();
  c.encoder_depths = stage_layout(sd, "encoder", c.encoder_dims, where);
  c.decoder_depths = stage_layout(sd, "decoder", c.decoder_dims, where);
  c.latent_channels = c.encoder_dims.back();
  c.embedding_dim = need(sd, "quant_conv.weight", where).size(0);
  c.codebook_size = 1LL << need(sd, "_quantizer._quantizer.mask", where).size(0);
  auto wl = need(sd, "latent_grid._wavelength", where);
  c.num_pixels = wl.size(-1);
  c.lambda_min = need(sd, "latent_grid.lambda_min", where).item<double>();
  c.resolution = need(sd, "latent_grid.resolution", where).item<double>();
  auto b = need(sd, "normalization_quantizer.buckets", where);
  c.normalization_bins = b.size(0);
  c.normalization_range = {b[0].item<double>(), b[-1].item<double>()};
  c.clip_ivar = hp.value("clip_ivar", c.clip_ivar);
  c.input_scaling = hp.value("input_scaling", c.input_scaling);
  if (hp.contains("clip_flux") && hp["clip_flux"].is_number()) c.clip_flux = hp["clip_flux"];
  return c;
}

}  // namespace

std::shared_ptr<const Codec> make_spectrum_codec(SpectrumNet net) { return std::make_shared<SpectrumCodec>(std::move(net)); }

void register_spectrum(CodecTable& t) {
  CodecSpec s;
  s.kind = "spectrum";
  s.modality_kind = ModalityKind::Spectrum;
  s.description = "latent wavelength grid, normalisation token, ConvNeXt-1D autoencoder, LFQ (AION's spectrum codec)";
  s.default_config = [] { return SpectrumConfig{}.to_json(); };
  s.load = [](const ModelFile& part, const std::string& where) -> std::shared_ptr<const Codec> {
    SpectrumNet net(SpectrumConfig::from_json(part.meta.at("config"), where));
    load_module(*net, part, where);
    return std::make_shared<SpectrumCodec>(net);
  };
  s.convert_kinds = {"aion-codec-spectrum"};
  s.convert = [](const std::string&, const StateDict& sd, const nlohmann::json& hp, const std::string& where) -> std::shared_ptr<const Codec> {
    SpectrumNet net(aion_config_from(sd, hp, where));
    models::load_state(*net, sd, where);
    return std::make_shared<SpectrumCodec>(net);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::codecs
