// The scalar-field codec (AION's aion/codecs/scalar_field.py, ScalarFieldCodec;
// modality "segmentation_map"): a one-channel map [N, H, W] centre-cropped to
// 96 px, a Sonnet-style VQ-VAE encoder (stride-2 4x4 convolutions, a 3x3
// convolution, a residual stack), a 1x1 projection to the FSQ's channels and
// FSQ (AION: levels 8, 5, 5, 5 = 1,000 codes) on a (96 / 2^downsamples)^2
// grid: 144 tokens. Decoding mirrors it with transposed convolutions and a
// sigmoid, clipped to [0, 1]. Module names follow AION's so that its state
// dicts load by name. A row with no finite value is missing (kMissing tokens).
#include "astrofm/error.h"
#include "codecs/codec_table.h"
#include "codecs/nets.h"

namespace astrofm::codecs {
namespace nn = torch::nn;
namespace {

const std::string kModality = "segmentation_map";  // AION's Modality.name, its codec folder and astrofm's column

struct FieldConfig {
  int64_t encoder_output_dim = 64, decoder_input_dim = 64, embedding_dim = 4;
  int64_t res_hidden_dims = 64, num_res_layers = 2, num_downsamples = 3, crop = 96;
  std::vector<int64_t> levels = {8, 5, 5, 5};
  double extension = 0;  // AION's output_activation_extension (null: 0)

  int64_t grid() const { return crop >> num_downsamples; }
  nlohmann::json to_json() const {
    return {{"encoder_output_dim", encoder_output_dim}, {"decoder_input_dim", decoder_input_dim}, {"embedding_dim", embedding_dim},
            {"res_hidden_dims", res_hidden_dims},       {"num_res_layers", num_res_layers},       {"num_downsamples", num_downsamples},
            {"crop", crop},                             {"levels", levels},                       {"output_activation_extension", extension}};
  }
  static FieldConfig from_json(const nlohmann::json& j) {
    FieldConfig c;
    c.encoder_output_dim = j.at("encoder_output_dim"), c.decoder_input_dim = j.at("decoder_input_dim"), c.embedding_dim = j.at("embedding_dim");
    c.res_hidden_dims = j.at("res_hidden_dims"), c.num_res_layers = j.at("num_res_layers"), c.num_downsamples = j.at("num_downsamples");
    c.crop = j.value("crop", 96), c.levels = j.at("levels").get<std::vector<int64_t>>();
    c.extension = j.value("output_activation_extension", 0.0);
    return c;
  }
};

// ReLU, 3x3 conv, BatchNorm, ReLU, 1x1 conv, added to the input (AION's ResLayer).
struct ResLayerImpl : nn::Module {
  ResLayerImpl(int64_t dims, int64_t hidden) {
    net = register_module("net", nn::Sequential(nn::ReLU(), nn::Conv2d(nn::Conv2dOptions(dims, hidden, 3).padding(1)), nn::BatchNorm2d(hidden),
                                                nn::ReLU(), nn::Conv2d(nn::Conv2dOptions(hidden, dims, 1))));
  }
  torch::Tensor forward(const torch::Tensor& x) { return x + net->forward(x); }
  nn::Sequential net{nullptr};
};
TORCH_MODULE(ResLayer);

struct ResBlockImpl : nn::Module {
  ResBlockImpl(int64_t dims, int64_t hidden, int64_t layers) {
    net = register_module("net", nn::Sequential());
    for (int64_t i = 0; i < layers; ++i) net->push_back(ResLayer(dims, hidden));
  }
  torch::Tensor forward(const torch::Tensor& x) { return net->forward(x); }
  nn::Sequential net{nullptr};
};
TORCH_MODULE(ResBlock);

// Channel counts of the stride-2 stages: AION's _dims (out / 2^(n-1), ..., out / 2, out).
std::vector<int64_t> stage_dims(int64_t first, int64_t top, int64_t last, int64_t n) {
  std::vector<int64_t> d = {first};
  for (int64_t i = n - 1; i > 0; --i) d.push_back(top >> i);
  d.push_back(last);
  return d;
}

struct FieldNetImpl : nn::Module {
  explicit FieldNetImpl(FieldConfig c) : cfg(std::move(c)) {
    auto enc = nn::Sequential();
    auto d = stage_dims(1, cfg.encoder_output_dim, cfg.encoder_output_dim, cfg.num_downsamples);
    for (int64_t i = 0; i < cfg.num_downsamples; ++i) {
      enc->push_back(nn::Conv2d(nn::Conv2dOptions(d[i], d[i + 1], 4).stride(2).padding(1)));
      enc->push_back(nn::ReLU());
    }
    enc->push_back(nn::Conv2d(nn::Conv2dOptions(cfg.encoder_output_dim, cfg.encoder_output_dim, 3).padding(1)));
    enc->push_back(ResBlock(cfg.encoder_output_dim, cfg.res_hidden_dims, cfg.num_res_layers));
    auto dec = nn::Sequential();
    const int64_t h = cfg.decoder_input_dim;
    dec->push_back(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(h, h, 3).padding(1)));
    dec->push_back(ResBlock(h, cfg.res_hidden_dims, cfg.num_res_layers));
    d = stage_dims(h, h, 1, cfg.num_downsamples);
    for (int64_t i = 0; i < cfg.num_downsamples; ++i) {
      dec->push_back(nn::ReLU());
      dec->push_back(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(d[i], d[i + 1], 4).stride(2).padding(1)));
    }
    register_module("encoder", std::make_shared<nn::Module>("Encoder2d"))->register_module("net", enc);
    register_module("decoder", std::make_shared<nn::Module>("Decoder2d"))->register_module("net", dec);
    encode_proj = register_module("encode_proj", nn::Conv2d(nn::Conv2dOptions(cfg.encoder_output_dim, cfg.embedding_dim, 1)));
    decode_proj = register_module("decode_proj", nn::Conv2d(nn::Conv2dOptions(cfg.embedding_dim, cfg.decoder_input_dim, 1)));
    quantizer = register_module("_quantizer", FSQ(cfg.levels));
    enc_net = enc, dec_net = dec;
  }
  torch::Tensor encode(const torch::Tensor& field) {  // [B, 1, crop, crop] -> int32 [B, T]
    auto h = encode_proj->forward(enc_net->forward(field));
    return quantizer->encode(h.flatten(2));
  }
  torch::Tensor decode(const torch::Tensor& codes) {  // [B, T] -> [B, crop, crop] in [0, 1]
    const int64_t g = cfg.grid();
    auto z = quantizer->decode(codes).to(torch::kFloat32).reshape({codes.size(0), cfg.embedding_dim, g, g});
    auto x = torch::sigmoid(dec_net->forward(decode_proj->forward(z)));
    if (cfg.extension != 0) x = (1 + 2 * cfg.extension) * x - cfg.extension;
    return x.clip(0.0, 1.0).squeeze(1);
  }
  FieldConfig cfg;
  nn::Sequential enc_net{nullptr}, dec_net{nullptr};
  nn::Conv2d encode_proj{nullptr}, decode_proj{nullptr};
  FSQ quantizer{nullptr};
};
TORCH_MODULE(FieldNet);

struct FieldCodec : Codec {
  FieldCodec(FieldNet n, const std::string& where) : net(std::move(n)) {
    net->eval();
    const auto& c = net->cfg;
    if (static_cast<int64_t>(c.levels.size()) != c.embedding_dim)
      fail_input("{}: segmentation-map codec: {} FSQ levels for {} latent channels (embedding_dim); AION's quantiser needs one level per channel",
                 where, c.levels.size(), c.embedding_dim);
    if (c.crop % (int64_t{1} << c.num_downsamples) != 0)
      fail_input("{}: segmentation-map codec: a {} px crop does not halve {} times", where, c.crop, c.num_downsamples);
    info_ = {"field", kModality, c.grid() * c.grid(), net->quantizer->codebook_size(), c.to_json()};
  }
  std::vector<std::string> input_columns() const override { return {kModality}; }

  // AION's CenterCrop of the maps: [N, 1, crop, crop], NaN kept.
  torch::Tensor cropped(const Table& b, const std::string& where) const {
    const Column& c = b.at(kModality);
    const int64_t crop = net->cfg.crop;
    const bool one_channel = c.shape.size() == 3 && c.shape[0] == 1;
    if (!(c.shape.size() == 2 || one_channel))
      fail_input("{}: column {} is [N, {}]; a segmentation map is [N, H, W]", where, c.name, fmt::join(c.shape, ", "));
    const int64_t H = c.shape[c.shape.size() - 2], W = c.shape.back();
    if (H < crop || W < crop)
      fail_input("{}: column {} maps are {}x{} px; the segmentation-map codec crops the central {}x{}", where, c.name, H, W, crop, crop);
    return column_tensor(c, where).reshape({c.rows, 1, H, W}).narrow(2, (H - crop) / 2, crop).narrow(3, (W - crop) / 2, crop);
  }

  Column encode(const Table& b, const std::string& where) const override {
    // NaN -> 0; a row with nothing finite is missing.
    auto x = cropped(b, where);
    auto finite = torch::isfinite(x);
    auto missing = ~finite.flatten(1).any(1);
    x = torch::where(finite, x, torch::zeros({}, x.options())).contiguous();
    torch::NoGradGuard ng;
    auto t = net->encode(x).masked_fill(missing.unsqueeze(1), kMissing);
    return tokens_column(kModality, t);
  }
  Table decode(const Column& tokens, const Table&, const std::string& where) const override {
    auto t = tokens_tensor(tokens, info_, true, where);
    auto missing = (t == kMissing).any(1);
    torch::NoGradGuard ng;
    auto x = net->decode(t.clamp_min(0)).masked_fill(missing.view({-1, 1, 1}), NAN).contiguous();
    Table out;
    out.add(models::tensor_column(kModality, x));
    return out;
  }
  Column preprocessed(const Table& b, const std::string& where) const override {
    return models::tensor_column(kModality, torch::nan_to_num(cropped(b, where).squeeze(1), 0.0, 0.0, 0.0).contiguous());
  }
  ModelFile to_part() const override { return module_part(*net, info_); }
  mutable FieldNet net;  // forward passes are not const in libtorch
};

// What AION's weights say of the architecture; config.json (when given) must agree.
FieldConfig config_from(const StateDict& sd, const nlohmann::json& hp, const std::string& where) {
  FieldConfig c;
  auto conv = [&](const std::string& name) -> const torch::Tensor& {  // a convolution's [out, in, kh, kw]
    const auto& w = need(sd, name, where);
    if (w.dim() != 4) fail_input("{}: {} has shape [{}], not a 2-D convolution's", where, name, fmt::join(w.sizes(), ", "));
    return w;
  };
  const auto& ep = conv("encode_proj.weight");
  c.embedding_dim = ep.size(0), c.encoder_output_dim = ep.size(1);
  c.decoder_input_dim = conv("decode_proj.weight").size(0);
  c.num_downsamples = 0;
  while (sd.count(fmt::format("encoder.net.{}.weight", 2 * c.num_downsamples)) &&
         conv(fmt::format("encoder.net.{}.weight", 2 * c.num_downsamples)).size(2) == 4)
    ++c.num_downsamples;
  const std::string res = fmt::format("encoder.net.{}.net.", 2 * c.num_downsamples + 1);
  c.num_res_layers = 0;
  while (sd.count(res + std::to_string(c.num_res_layers) + ".net.1.weight")) ++c.num_res_layers;
  c.res_hidden_dims = c.num_res_layers ? conv(res + "0.net.1.weight").size(0) : c.res_hidden_dims;
  if (c.num_downsamples == 0) fail_input("{}: no stride-2 encoder convolutions (encoder.net.0.weight 4x4): not AION's ScalarFieldCodec", where);
  auto lv = need(sd, "_quantizer.levels", where).to(torch::kLong).contiguous();
  c.levels.assign(lv.data_ptr<int64_t>(), lv.data_ptr<int64_t>() + lv.numel());
  int64_t codes = 1;
  for (int64_t l : c.levels) {
    if (l < 2 || l > 1024) fail_input("{}: FSQ level {} (each must be 2..1024)", where, l);
    codes *= l;
    if (codes > (int64_t{1} << 24)) fail_input("{}: FSQ levels {} make more than 2^24 codes", where, nlohmann::json(c.levels).dump());
  }
  if (hp.value("variational", false)) fail_input("{}: variational: true; AION's segmentation-map codec quantises a plain autoencoder", where);
  if (hp.contains("output_activation_extension") && !hp["output_activation_extension"].is_null())
    c.extension = hp["output_activation_extension"].get<double>();
  const std::pair<const char*, int64_t> said[] = {{"encoder_output_dim", c.encoder_output_dim}, {"decoder_input_dim", c.decoder_input_dim},
                                                  {"embedding_dim", c.embedding_dim},           {"res_hidden_dims", c.res_hidden_dims},
                                                  {"num_res_layers", c.num_res_layers},         {"num_downsamples", c.num_downsamples}};
  for (const auto& [k, v] : said)
    if (hp.contains(k) && !hp[k].is_null() && hp[k].get<int64_t>() != v)
      fail_input("{}: config says {} {} but the weights hold {}", where, k, hp[k].dump(), v);
  if (hp.contains("levels") && hp["levels"].get<std::vector<int64_t>>() != c.levels)
    fail_input("{}: config says levels {} but the weights hold {}", where, hp["levels"].dump(), nlohmann::json(c.levels).dump());
  c.crop = hp.value("crop", c.crop);  // astrofm's header; AION's config has none: its 96
  if (c.crop < 8 || c.crop > 4096) fail_input("{}: crop {} px is not a segmentation map's size", where, c.crop);
  return c;
}

// The codec from AION-named weights and its settings (config.json or a codec
// file's header). Sizes come from the tensors, the settings checked against
// them: a hostile header cannot make the network allocate more than the file holds.
std::shared_ptr<const Codec> from_weights(const StateDict& sd, const nlohmann::json& hp, const std::string& where) {
  FieldNet net(config_from(sd, hp, where));
  models::load_state(*net, sd, where);
  return std::make_shared<FieldCodec>(net, where);
}

}  // namespace

void register_field(CodecTable& t) {
  CodecSpec s;
  s.kind = "field";
  s.modality_kind = ModalityKind::Field;
  s.description = "one-channel map, 96 px centre crop, VQ-VAE encoder and FSQ on a 12x12 grid (AION's segmentation-map ScalarFieldCodec)";
  s.default_config = [] { return FieldConfig{}.to_json(); };
  s.load = [](const ModelFile& part, const std::string& where) { return from_weights(part_state(part), part.meta.at("config"), where); };
  s.convert_kinds = {"aion-codec-field"};
  s.convert = [](const std::string&, const StateDict& sd, const nlohmann::json& hp, const std::string& where) { return from_weights(sd, hp, where); };
  t.add(std::move(s));
}

std::shared_ptr<const Codec> make_field_codec(const nlohmann::json& config) {
  FieldConfig c = FieldConfig::from_json(config);
  return std::make_shared<FieldCodec>(FieldNet(c), "field codec");
}

}  // namespace astrofm::codecs
