#pragma once
// Internal: the spectrum codec's network and preprocessing, shared by the
// codec (spectrum.cc) and its training task (src/train/tasks/codec_spectrum.cc).
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "astrofm/table.h"
#include "codecs/nets.h"

namespace astrofm::codecs {

struct SpectrumConfig {
  double lambda_min = 3500, resolution = 0.8;  // the latent grid (Angstrom)
  int64_t num_pixels = 8704;
  std::vector<int64_t> encoder_depths = {3, 3, 9, 3}, encoder_dims = {96, 192, 384, 768};
  std::vector<int64_t> decoder_depths = {3, 3, 9, 3}, decoder_dims = {384, 192, 96, 1};
  int64_t latent_channels = 768, embedding_dim = 10, codebook_size = 1024;
  double clip_ivar = 100, clip_flux = 0;  // clip_flux <= 0: none
  double input_scaling = 0.2;
  std::vector<double> normalization_range = {-1, 5};
  int64_t normalization_bins = 1024;
  nlohmann::json to_json() const;
  static SpectrumConfig from_json(const nlohmann::json& j, const std::string& where);
  int64_t downsampling() const { return 4LL << (encoder_dims.size() - 1); }
  int64_t tokens() const { return 1 + num_pixels / downsampling(); }
  int64_t vocab() const { return std::max(codebook_size, normalization_bins); }
};

struct SpectrumNetImpl : torch::nn::Module {
  explicit SpectrumNetImpl(const SpectrumConfig& c);
  SpectrumConfig cfg;
  LFQ _quantizer{nullptr};
  ConvNext1d encoder{nullptr}, decoder{nullptr};
  torch::nn::LayerNorm pre_quant_norm{nullptr};
  torch::nn::Conv1d quant_conv{nullptr}, post_quant_conv{nullptr};
  torch::Tensor buckets, grid;  // normalisation_quantizer.buckets, latent_grid._wavelength [1, L]

  struct Prepared {
    torch::Tensor x;          // [N, 2, L] arcsinh of the scaled flux and 1/sigma on the grid
    torch::Tensor norm;       // [N] log10(mean flux + 1) before quantisation
    torch::Tensor target;     // [N, L] flux / n - 1 on the grid (training)
    torch::Tensor weight;     // [N, L] its inverse variance (0 where masked or off the data)
  };
  Prepared prepare(const Table& batch, bool with_target, const std::string& where) const;
  torch::Tensor latent(const torch::Tensor& x);  // [N, E, T]
  torch::Tensor reconstruct(const torch::Tensor& z);  // quantised latent -> [N, L] (flux / n - 1)
  torch::Tensor norm_value(const torch::Tensor& norm_tokens) const;  // bucket values
  torch::Tensor norm_token(const torch::Tensor& norm) const;
};
TORCH_MODULE(SpectrumNet);

class Codec;
std::shared_ptr<const Codec> make_spectrum_codec(SpectrumNet net);

}  // namespace astrofm::codecs
