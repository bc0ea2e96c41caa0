#pragma once
// Internal: the codecs' networks and quantisers, with AION's module names
// (aion/codecs/modules/, aion/codecs/quantizers/) so that its state dicts load
// by name.
#include <vector>

#include <torch/torch.h>

namespace astrofm::codecs {

// Finite scalar quantisation (Mentzer et al. 2023): each latent channel bounded
// by tanh and rounded to `levels[c]` values; the code is the mixed-radix number.
struct FSQImpl : torch::nn::Module {
  explicit FSQImpl(std::vector<int64_t> levels, double eps = 1e-3);
  torch::Tensor quantize(const torch::Tensor& z);  // [B, C, T] -> normalised values in [-1, 1] (straight-through)
  torch::Tensor encode(const torch::Tensor& z);    // [B, C, T] -> int32 [B, T]
  torch::Tensor decode(const torch::Tensor& codes);  // [B, T] -> [B, C, T]
  int64_t codebook_size() const;
  torch::Tensor levels, basis;
  std::vector<int64_t> levels_v;
  double eps;

 private:
  torch::Tensor quantize_last(const torch::Tensor& z);  // channels last
};
TORCH_MODULE(FSQ);

// Lookup-free quantisation (MagViT-2): the sign of each of log2(K) channels is
// one bit of the code (first channel = most significant bit). Training adds
// the entropy and commitment losses of lucidrains' LFQ.
struct LFQInnerImpl : torch::nn::Module {
  LFQInnerImpl(int64_t dim, int64_t codebook_size);
  torch::Tensor mask;  // 2^(d-1) .. 1
  torch::Tensor codebook;
  torch::nn::Linear project_in{nullptr}, project_out{nullptr};
  int64_t dim, codebook_dim;
};
TORCH_MODULE(LFQInner);
struct LFQImpl : torch::nn::Module {
  LFQImpl(int64_t dim, int64_t codebook_size);
  struct Out {
    torch::Tensor quantized;  // [B, C, T]
    torch::Tensor indices;    // [B, T]
    torch::Tensor aux_loss;   // scalar
  };
  Out forward(const torch::Tensor& z);               // [B, C, T]
  torch::Tensor decode(const torch::Tensor& codes);  // [B, T] -> [B, C, T]
  LFQInner _quantizer{nullptr};
  double inv_temperature = 100, entropy_weight = 0.1, commitment_weight = 0.25, diversity_gamma = 1.0;
};
TORCH_MODULE(LFQ);

// Linear bins on a fixed range (AION's ScalarLinearQuantizer): encode is the
// bucketize of the value (clamped), decode the bin's value.
torch::Tensor linear_bucketize(const torch::Tensor& z, const torch::Tensor& buckets);

// MagViT autoencoder (AION's MagVitAE, from lucidrains' magvit2-pytorch).
struct MagVitAEImpl : torch::nn::Module {
  MagVitAEImpl(int64_t n_bands, int64_t hidden_dims, int64_t n_compressions, int64_t num_consecutive);
  torch::Tensor encode(torch::Tensor x);
  torch::Tensor decode(torch::Tensor x);
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};  // registered as conv_in.conv / conv_out.conv
  torch::nn::ModuleList encoder_layers, decoder_layers;
};
TORCH_MODULE(MagVitAE);

// AION's per-band field embedding: a linear map over the present bands of a
// fixed band vocabulary, scaled by sqrt(vocabulary / present) on the way in;
// masked on the way out.
struct SubsampledLinearImpl : torch::nn::Module {
  SubsampledLinearImpl(int64_t dim_in, int64_t dim_out, bool subsample_in);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);  // x [B, C, H, W], mask bool [B, C_in or C_out]
  torch::Tensor weight, bias;
  int64_t dim_in, dim_out;
  bool subsample_in;
};
TORCH_MODULE(SubsampledLinear);

// ConvNeXt-V2 1-D encoder and its mirrored decoder (AION's spectrum codec).
struct ConvNext1dImpl : torch::nn::Module {
  // encoder: in_chans -> dims, downsampling 4 then 2 per stage; decoder: upsampling 2 ..., 4 last.
  ConvNext1dImpl(bool encoder, int64_t in_chans, std::vector<int64_t> depths, std::vector<int64_t> dims);
  torch::Tensor forward(torch::Tensor x);
  bool is_encoder;
  torch::nn::ModuleList sample_layers, stages;
  torch::nn::AnyModule norm;  // encoder only
};
TORCH_MODULE(ConvNext1d);

// LayerNorm over the channel axis of [B, C, ...] (AION's channels_first LayerNorm).
struct ChannelNormImpl : torch::nn::Module {
  explicit ChannelNormImpl(int64_t dim, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
  double eps;
};
TORCH_MODULE(ChannelNorm);

// Linear interpolation per row (AION's interp1d): x [B, N] increasing in its
// first `valid[b]` entries, y [B, N], xnew [B, M]; 0 outside [x0, x_last].
torch::Tensor interp_rows(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& xnew, const torch::Tensor& valid);

}  // namespace astrofm::codecs
