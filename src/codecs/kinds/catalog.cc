// The catalog codec (AION's aion/codecs/catalog.py, modality "catalog"): a
// list of Legacy Survey detections around an object, `length` entries of
// five values each (pixel X and Y in the cutout, SHAPE_E1, SHAPE_E2,
// SHAPE_R). X and Y pass through as they are (96 values each); the shapes
// are bucketed by empirical-CDF codebooks from reservoir samples (1,024
// bins each, linear, as the scalar codec). Token j*5+k is entry j's key k,
// offset by the sizes of the keys before it (X 0-95, Y 96-191, E1 192-1215,
// E2 1216-2239, R 2240-3263). An entry AION marks with its mask value 9999
// (or any non-finite value) is missing: all five tokens kMissing, where AION
// writes 9999. MMU columns: catalog_X, catalog_Y, catalog_SHAPE_E1,
// catalog_SHAPE_E2, catalog_SHAPE_R, each [N, length].
#include <cmath>

#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "codecs/codec_table.h"
#include "codecs/nets.h"

namespace astrofm::codecs {
namespace {

const std::vector<std::string> kKeys = {"X", "Y", "SHAPE_E1", "SHAPE_E2", "SHAPE_R"};
constexpr int64_t kPixels = 96;  // X and Y: identity over the cutout's 96 pixels
std::string column_of(const std::string& key) { return "catalog_" + key; }

struct CatalogCodec : Codec {
  using Codec::info_;
  int64_t length = 10;
  double mask_value = 9999;
  torch::Tensor codebook;   // [3, K]: SHAPE_E1, SHAPE_E2, SHAPE_R
  torch::Tensor reservoir;  // [3, R]
  std::vector<int64_t> offsets;  // per key

  void finish() {
    length = info_.config.at("length").get<int64_t>();
    mask_value = info_.config.value("mask_value", 9999.0);
    if (length < 1) fail_corrupt("catalog codec: length {} (entries per object) must be at least 1", length);
    if (codebook.dim() != 2 || codebook.size(0) != 3 || codebook.size(1) < 2)
      fail_corrupt("catalog codec: shape codebooks of shape [{}], expected [3, bins]", fmt::join(codebook.sizes(), ", "));
    const int64_t sizes[] = {kPixels, kPixels, codebook.size(1), codebook.size(1), codebook.size(1)};
    offsets.clear();
    int64_t at = 0;
    for (int64_t s : sizes) offsets.push_back(at), at += s;
    info_.num_tokens = 5 * length;
    info_.vocab_size = at;
  }
  std::vector<std::string> input_columns() const override {
    std::vector<std::string> c;
    for (const auto& k : kKeys) c.push_back(column_of(k));
    return c;
  }
  torch::Tensor values(const Table& b, const std::string& key, const std::string& where) const {
    const Column& c = b.at(column_of(key));
    if (!dtype_is_float(c.dtype) && !dtype_is_integer(c.dtype)) fail_input("{}: column {} is {}, not numbers", where, c.name, c.describe());
    if (c.row_elems() != length)
      fail_input("{}: column {} has {} entries per object; the catalog codec takes {}", where, c.name, c.row_elems(), length);
    std::vector<double> v(static_cast<size_t>(c.rows * length));
    for (size_t i = 0; i < v.size(); ++i) v[i] = c.as_double(static_cast<int64_t>(i));
    return torch::tensor(v, torch::kFloat64).reshape({c.rows, length});
  }
  Column encode(const Table& b, const std::string& where) const override {
    std::vector<torch::Tensor> v;
    for (const auto& k : kKeys) v.push_back(values(b, k, where));
    auto missing = torch::zeros_like(v[0], torch::kBool);
    for (const auto& x : v) missing |= (x == mask_value) | ~torch::isfinite(x);
    std::vector<torch::Tensor> tok;
    for (int k = 0; k < 2; ++k) {
      auto x = v[k].masked_fill(missing, 0);
      auto bad = (x != x.round()) | (x < 0) | (x >= kPixels);
      if (bad.any().item<bool>()) {
        auto i = bad.nonzero()[0];
        fail_input("{}: {} row {} entry {} is {}: catalog positions are whole pixels 0..{}", where, column_of(kKeys[k]), i[0].item<int64_t>(),
                   i[1].item<int64_t>(), x.index({i[0], i[1]}).item<double>(), kPixels - 1);
      }
      tok.push_back(x.to(torch::kLong) + offsets[k]);
    }
    const int64_t bins = codebook.size(1);
    for (int k = 2; k < 5; ++k) {
      auto z = v[k].masked_fill(missing, 0).to(torch::kFloat32).contiguous();
      tok.push_back(torch::bucketize(z, codebook[k - 2].slice(0, 0, bins - 1).contiguous()) + offsets[k]);
    }
    // [N, length, 5] -> [N, length * 5]: entry by entry, the five keys in order.
    auto t = torch::stack(tok, 2).masked_fill(missing.unsqueeze(2), kMissing).reshape({v[0].size(0), 5 * length});
    return tokens_column(info_.modality, t);
  }
  Table decode(const Column& tokens, const Table&, const std::string& where) const override {
    auto t = tokens_tensor(tokens, info_, true, where).reshape({tokens.rows, length, 5});
    Table out;
    for (int k = 0; k < 5; ++k) {
      auto code = t.select(2, k);
      auto missing = code == kMissing;
      auto local = code - offsets[k];
      const int64_t size = k < 2 ? kPixels : codebook.size(1);
      auto wrong = ~missing & ((local < 0) | (local >= size));
      if (wrong.any().item<bool>())
        fail_input("{}: {} holds a token outside the {} range {}..{} at a {} position", where, tokens.name, kKeys[k], offsets[k],
                   offsets[k] + size - 1, kKeys[k]);
      local = local.clamp(0, size - 1);
      auto x = k < 2 ? local.to(torch::kFloat64) : codebook[k - 2].index_select(0, local.flatten()).reshape(local.sizes()).to(torch::kFloat64);
      x = x.masked_fill(missing, NAN).contiguous();
      Column c(column_of(kKeys[k]), DType::Float64, {length}, tokens.rows);
      if (!c.data.empty()) std::memcpy(c.data.data(), x.data_ptr<double>(), c.data.size());
      out.add(std::move(c));
    }
    return out;
  }
  ModelFile to_part() const override { return codec_part(info_, {{"codebook", codebook}, {"reservoir", reservoir}}); }
};

std::shared_ptr<CatalogCodec> make_catalog(torch::Tensor codebook, torch::Tensor reservoir, nlohmann::json config) {
  auto c = std::make_shared<CatalogCodec>();
  c->codebook = codebook.to(torch::kFloat32);
  c->reservoir = reservoir.to(torch::kFloat32);
  c->info_ = {"catalog", "catalog", 1, 0, std::move(config)};
  c->finish();
  return c;
}

}  // namespace

void register_catalog(CodecTable& t) {
  CodecSpec s;
  s.kind = "catalog";
  s.modality_kind = ModalityKind::Catalog;
  s.description = "Legacy Survey detections around an object: pixel X, Y as they are, SHAPE_E1/E2/R by empirical-CDF bins (AION's catalog codec)";
  s.default_config = [] { return nlohmann::json{{"length", 10}, {"mask_value", 9999}}; };
  s.load = [](const ModelFile& part, const std::string& where) -> std::shared_ptr<const Codec> {
    const auto* cb = part.find("codebook");
    const auto* rs = part.find("reservoir");
    if (!cb || !rs) fail_corrupt("{}: catalog codec without codebook/reservoir tensors", where);
    return make_catalog(models::from_stored(*cb), models::from_stored(*rs), part.meta.at("config"));
  };
  s.convert_kinds = {"aion-codec-catalog"};
  s.convert = [](const std::string&, const StateDict& sd, const nlohmann::json& hp, const std::string& where) -> std::shared_ptr<const Codec> {
    // AION's state dict: _quantizer.quantizers.<key>._index_to_val / ._reservoir for the shapes.
    std::vector<torch::Tensor> cbs, res;
    for (const char* k : {"SHAPE_E1", "SHAPE_E2", "SHAPE_R"}) {
      cbs.push_back(need(sd, fmt::format("_quantizer.quantizers.{}._index_to_val", k), where));
      res.push_back(need(sd, fmt::format("_quantizer.quantizers.{}._reservoir", k), where));
    }
    if (cbs[0].size(0) != cbs[1].size(0) || cbs[0].size(0) != cbs[2].size(0))
      fail_input("{}: the shape codebooks differ in size ({}, {}, {})", where, cbs[0].size(0), cbs[1].size(0), cbs[2].size(0));
    nlohmann::json cfg = {{"length", hp.value("length", 10)}, {"mask_value", hp.value("mask_value", 9999)}};
    return make_catalog(torch::stack(cbs), torch::stack(res), cfg);
  };
  t.add(std::move(s));
}

}  // namespace astrofm::codecs
