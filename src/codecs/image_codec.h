#pragma once
// Internal: the image codec's network and preprocessing, shared by the codec
// (image.cc) and its training task (src/train/tasks/codec_image.cc).
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/table.h"
#include "codecs/nets.h"

namespace astrofm::codecs {

// One entry of the codec's band vocabulary: a survey band (from the band
// table) in flux units, or the same band in an 8-bit display image.
struct VocabBand {
  std::string name;      // canonical band name ("DES-G")
  bool display = false;  // 8-bit display cutouts (no noise model, values in [0, 1])
  double clip = 0;       // |flux| clipped here before compression (native units)
  double scale = 1;      // flux divided by this first: zero point 27 -> 22.5 for HSC
};

struct ImageConfig {
  int64_t crop = 96, hidden_dims = 512, n_compressions = 2, num_consecutive = 4, embedding_dim = 5, projection_dims = 54;
  std::vector<int64_t> levels = {7, 5, 5, 5, 5};
  double range_compression = 0.01, mult_factor = 10.0;
  double display_sigma = 0.01;  // noise assumed for display images in the training loss
  std::vector<VocabBand> bands;  // the vocabulary; order = channel index
  std::vector<std::string> decode_bands;  // written when the context names none
  nlohmann::json to_json() const;
  static ImageConfig from_json(const nlohmann::json& j, const std::string& where);
  static ImageConfig aion();      // AION's: 9 bands (HSC g..y, DES g..z), 96 px, hidden 512
  static ImageConfig defaults();  // AION's vocabulary plus SDSS u..z and 8-bit display g r i
  int64_t tokens() const { return (crop >> n_compressions) * (crop >> n_compressions); }
  int64_t vocab() const;
};

struct ImageNetImpl : torch::nn::Module {
  explicit ImageNetImpl(const ImageConfig& c);
  ImageConfig cfg;
  FSQ _quantizer{nullptr};
  SubsampledLinear subsample_in{nullptr}, subsample_out{nullptr};
  torch::nn::Conv2d pre_quant_proj{nullptr}, post_quant_proj{nullptr};
  MagVitAE model{nullptr};

  // Range-compressed images on the vocabulary's channels, their band mask,
  // and (with ivar) the inverse variance in that compressed space.
  struct Prepared {
    torch::Tensor x;       // [N, V, crop, crop]
    torch::Tensor mask;    // bool [N, V]
    torch::Tensor weight;  // [N, V, crop, crop] (empty without ivar)
  };
  Prepared prepare(const Table& batch, bool with_weight, const std::string& where) const;
  torch::Tensor latent(const Prepared& p);                 // [N, E, T] before quantisation
  torch::Tensor reconstruct(const torch::Tensor& z);       // quantised [N, E, T] -> compressed [N, V, crop, crop]
  torch::Tensor decompress(const torch::Tensor& x) const;  // inverse range compression (scaled units)
};
TORCH_MODULE(ImageNet);

class Codec;
std::shared_ptr<const Codec> make_image_codec(ImageNet net);

}  // namespace astrofm::codecs
