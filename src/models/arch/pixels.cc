// "pixels": the raw-pixel baseline as an architecture. The recorded
// preprocessing (stretch, crop), then each band area-averaged onto a
// grid x grid raster: embedding = the flattened raster [B, bands * grid^2],
// tokens = one per cell [B, grid^2, bands]. No weights: what a learned
// encoder must beat (use PCA in the probe for a compact baseline).
#include "astrofm/models/architecture.h"

namespace astrofm::models {

namespace {

struct PixelsImpl : torch::nn::Module {
  int64_t img_size = 64, in_chans = 3, grid = 8;
  explicit PixelsImpl(const nlohmann::json& c)
      : img_size(c.at("img_size")), in_chans(c.at("in_chans")), grid(c.at("grid")) {
    TORCH_CHECK(grid >= 1 && grid <= img_size, "grid must lie in [1, img_size]");
  }
  torch::Tensor cells(const torch::Tensor& x) {  // [B, C, grid, grid]
    return torch::adaptive_avg_pool2d(x, {grid, grid});
  }
};

}  // namespace

void register_pixels(ArchitectureTable& t) {
  Architecture a;
  a.name = "pixels";
  a.description = "raw pixels area-averaged onto a grid (a baseline; no weights)";
  a.modalities = {"image"};
  a.default_config = [] { return nlohmann::json{{"img_size", 64}, {"in_chans", 3}, {"grid", 8}}; };
  a.build = [](const nlohmann::json& c) -> Module { return std::make_shared<PixelsImpl>(c); };
  a.preprocessing = [](const nlohmann::json& c) { return nlohmann::json{{"image", stretch_preprocessing(c.at("img_size"), /*with_cutouts=*/true)}}; };
  a.prepare = [](torch::nn::Module& m, ModalityKind, const Table& b, const nlohmann::json& pre, const std::string& where) {
    auto& p = dynamic_cast<PixelsImpl&>(m);
    return prepare_images(b, pre, p.img_size, p.in_chans, where);
  };
  a.embed = [](torch::nn::Module& m, ModalityKind, const torch::Tensor& x, bool tokens) {
    auto c = dynamic_cast<PixelsImpl&>(m).cells(x);
    return Embedded{c.flatten(1), tokens ? c.flatten(2).transpose(1, 2) : torch::Tensor()};
  };
  t.add(std::move(a));
}

}  // namespace astrofm::models
