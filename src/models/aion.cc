// AION's transformer, op for op as aion/fourm/fm.py computes it (explicit
// attention with -FLT_MAX masking, LayerNorm eps 1e-6 with zero bias buffers,
// stable selection of the visible tokens), so that converted weights give
// AION's logits and embeddings.
#include "astrofm/models/aion.h"

#include <cfloat>
#include <cmath>

#include "astrofm/error.h"
#include "models/bf16_attention.h"
#include "models/bf16_kernels.h"
#include "models/scratch.h"

namespace astrofm::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

// Whether the layers below draw their starting weights. Not when the weights
// are about to be loaded: drawing 300 M to 3 B random numbers first would cost
// more than the loading (AionImpl's `draw_weights`).
thread_local bool tl_draw_weights = true;

// The dtype the large layers are made in (float32, or bfloat16 for inference
// where float32 weights do not fit or bfloat16 matrix units are faster).
thread_local torch::ScalarType tl_dtype = torch::kFloat32;

// CPU inference: large intermediates in reused scratch buffers (scratch.h).
bool inference_on_cpu(const torch::Tensor& t) { return t.device().is_cpu() && !torch::GradMode::is_enabled(); }

// The residual stream's a + b, in a scratch buffer where that applies.
torch::Tensor plus(const torch::Tensor& a, const torch::Tensor& b) {
  if (inference_on_cpu(a) && a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && b.device().is_cpu()) return scratch_add(a, b);
  return a + b;
}

// nn::Linear's layout and starting weights (kaiming-uniform, same random
// draws), without drawing them when the weights will be loaded.
struct DenseImpl : nn::Module {
  DenseImpl(int64_t in, int64_t out, bool with_bias = false) {
    weight = register_parameter("weight", torch::empty({out, in}, tl_dtype));
    if (with_bias) bias = register_parameter("bias", torch::empty({out}, tl_dtype));
    if (!tl_draw_weights) return;
    torch::NoGradGuard ng;
    nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
    if (with_bias) bias.uniform_(-1.0 / std::sqrt(static_cast<double>(in)), 1.0 / std::sqrt(static_cast<double>(in)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (!bias.defined() && inference_on_cpu(x) && x.scalar_type() == weight.scalar_type()) return scratch_linear(x, weight);
    return F::linear(x, weight, bias);
  }
  torch::Tensor weight, bias;
};
TORCH_MODULE(Dense);

// nn::Embedding's layout and starting weights (standard normal).
struct TableImpl : nn::Module {
  TableImpl(int64_t rows, int64_t dim) {
    weight = register_parameter("weight", torch::empty({rows, dim}, tl_dtype));
    if (tl_draw_weights) {
      torch::NoGradGuard ng;
      weight.normal_();
    }
  }
  torch::Tensor forward(const torch::Tensor& ids) { return F::embedding(ids, weight); }
  torch::Tensor weight;
};
TORCH_MODULE(Table);

// bfloat16 CPU inference: layer norms and SwiGLU gates go to bf16_kernels.h
// (libtorch 1.13's are unvectorised in bfloat16), which have no gradients.
bool bf16_on_cpu(const torch::Tensor& t) { return t.scalar_type() == torch::kBFloat16 && inference_on_cpu(t); }
uint16_t* bits(const torch::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

// x's rows as the kernels walk them: last dimension contiguous, the ones
// before the last two collapsible into one stride. False when they are not.
bool row_layout(const torch::Tensor& x, bf16::RowLayout& r) {
  const int64_t nd = x.dim();
  if (nd < 2 || x.stride(-1) != 1) return false;
  r = {1, 0, x.size(-2), x.stride(-2), x.size(-1)};
  for (int64_t k = nd - 3; k >= 0; --k) {
    if (k == nd - 3) r.outer = x.size(k), r.outer_stride = x.stride(k);
    else if (x.stride(k) != x.size(k + 1) * x.stride(k + 1)) return false;
    else r.outer *= x.size(k);
  }
  return true;
}

// AION's LayerNorm(bias=False): weight learned, bias a zero buffer, eps 1e-6.
struct NormImpl : nn::Module {
  explicit NormImpl(int64_t d) {
    weight = register_parameter("weight", torch::ones({d}));
    bias = register_buffer("bias", torch::zeros({d}));
  }
  torch::Tensor forward(const torch::Tensor& x) const {
    if (bf16_on_cpu(x) && x.dim() >= 2) {  // float32 arithmetic, a contiguous result; strided rows (q and k inside qkv) read in place
      bf16::RowLayout rows;
      auto src = x;
      if (!row_layout(src, rows)) src = x.contiguous(), row_layout(src, rows);  // a contiguous tensor always has a layout
      auto out = scratch_empty(src.sizes(), src.options());
      auto w = weight.to(torch::kFloat32).contiguous(), b = bias.to(torch::kFloat32).contiguous();
      bf16::layer_norm(bits(src), rows, w.data_ptr<float>(), b.data_ptr<float>(), 1e-6f, bits(out));
      return out;
    }
    return F::layer_norm(x, F::LayerNormFuncOptions({weight.size(0)}).weight(weight).bias(bias).eps(1e-6));
  }
  torch::Tensor weight, bias;
};
TORCH_MODULE(Norm);

// Q/K-norm on token-major [B, N, heads, head_dim] (each token's heads
// contiguous, 1.3-1.8x faster than on the attention layout), then that layout.
torch::Tensor heads_first(const torch::Tensor& x, const Norm& norm, bool qk_norm) {
  return (qk_norm ? norm->forward(x) : x).permute({0, 2, 1, 3});
}

// q [B, heads, N, hd], k and v [B, heads, M, hd], already normalised.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& mask) {
  const double scale = std::pow(static_cast<double>(q.size(-1)), -0.5);
  const bool mask_fits = mask.dim() == 3 && mask.size(0) == q.size(0) && (mask.size(1) == 1 || mask.size(1) == q.size(2)) &&
                         mask.size(2) == k.size(2);
  if (bf16_on_cpu(q) && bf16::attention_available(q.size(-1)) && mask_fits && k.size(2) > 0 && q.stride(-1) == 1 &&
      k.stride(-1) == 1 && v.stride(-1) == 1) {
    // Fused: scores stay in cache in float32 (2.4x libtorch's three passes at
    // Base size, astrofm_bench_bf16_attention). Output token-major, so the
    // caller's transpose is free.
    const bf16::AttentionShape s{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3)};
    auto out = scratch_empty({s.batch, s.queries, s.heads, s.head_dim}, q.options());
    const auto m = mask.to(torch::kBool).contiguous();  // [B, 1 or N, M]
    bf16::attention(bits(q), {q.stride(0), q.stride(1), q.stride(2)}, bits(k), {k.stride(0), k.stride(1), k.stride(2)}, bits(v),
                    {v.stride(0), v.stride(1), v.stride(2)}, m.data_ptr<bool>(), m.size(1), s, static_cast<float>(scale), bits(out));
    return out.permute({0, 2, 1, 3});
  }
  if (q.scalar_type() == torch::kBFloat16) {
    // bfloat16 inference: one object at a time, so its [heads, N, N] scores
    // stay in cache (2.6x faster than the batched form on 2 cores), and K
    // transposed contiguous for the matrix units. Same masking as below.
    std::vector<torch::Tensor> out;
    out.reserve(static_cast<size_t>(q.size(0)));
    // Objects with every token present (most, when embedding) skip the mask.
    const auto masked = mask.flatten(1).any(1).to(torch::kCPU);
    const bool* any_masked = masked.data_ptr<bool>();
    for (int64_t b = 0; b < q.size(0); ++b) {
      auto a = torch::matmul(q[b] * scale, k[b].transpose(-2, -1).contiguous());
      if (any_masked[b]) a.masked_fill_(mask[b].unsqueeze(0), -3.3895313892515355e38);  // the lowest finite bfloat16 (-FLT_MAX would be -inf)
      out.push_back(torch::matmul(a.softmax(-1), v[b]));
    }
    return torch::stack(out);
  }
  auto a = torch::matmul(q, k.transpose(-2, -1)) * scale;
  a = a.masked_fill(mask.unsqueeze(1), -FLT_MAX).softmax(-1);  // a fully masked row averages uniformly, as AION's
  return torch::matmul(a, v);
}

struct SelfAttentionImpl : nn::Module {
  SelfAttentionImpl(int64_t d, int64_t h, bool qkn) : heads(h), qk_norm(qkn) {
    qkv = register_module("qkv", Dense(d, 3 * d));
    proj = register_module("proj", Dense(d, d));
    if (qkn) q_norm = register_module("q_norm", Norm(d / h)), k_norm = register_module("k_norm", Norm(d / h));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask) {
    auto B = x.size(0), N = x.size(1), C = x.size(2);
    auto t = qkv(x).reshape({B, N, 3, heads, C / heads});
    auto o = attend(heads_first(t.select(2, 0), q_norm, qk_norm), heads_first(t.select(2, 1), k_norm, qk_norm),
                    t.select(2, 2).permute({0, 2, 1, 3}), mask);
    return proj(o.transpose(1, 2).reshape({B, N, C}));
  }
  int64_t heads;
  bool qk_norm;
  Dense qkv{nullptr}, proj{nullptr};
  Norm q_norm{nullptr}, k_norm{nullptr};
};
TORCH_MODULE(SelfAttention);

struct CrossAttentionImpl : nn::Module {
  CrossAttentionImpl(int64_t d, int64_t h, bool qkn) : heads(h), qk_norm(qkn) {
    q = register_module("q", Dense(d, d));
    kv = register_module("kv", Dense(d, 2 * d));
    proj = register_module("proj", Dense(d, d));
    if (qkn) q_norm = register_module("q_norm", Norm(d / h)), k_norm = register_module("k_norm", Norm(d / h));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& ctx, const torch::Tensor& mask) {
    auto B = x.size(0), N = x.size(1), C = x.size(2), M = ctx.size(1);
    auto qq = heads_first(q(x).reshape({B, N, heads, C / heads}), q_norm, qk_norm);
    auto t = kv(ctx).reshape({B, M, 2, heads, C / heads});
    auto o = attend(qq, heads_first(t.select(2, 0), k_norm, qk_norm), t.select(2, 1).permute({0, 2, 1, 3}), mask);
    return proj(o.transpose(1, 2).reshape({B, N, -1}));
  }
  int64_t heads;
  bool qk_norm;
  Dense q{nullptr}, kv{nullptr}, proj{nullptr};
  Norm q_norm{nullptr}, k_norm{nullptr};
};
TORCH_MODULE(CrossAttention);

struct SwiGLUImpl : nn::Module {
  SwiGLUImpl(int64_t d, int64_t hidden) {
    fc1 = register_module("fc1", Dense(d, hidden));
    fc2 = register_module("fc2", Dense(hidden, d));
    fc3 = register_module("fc3", Dense(d, hidden));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto gate = fc1(x), up = fc3(x);
    if (!bf16_on_cpu(gate) || !gate.is_contiguous() || !up.is_contiguous()) return fc2(F::silu(gate) * up);
    bf16::silu_mul(bits(gate), bits(up), gate.numel(), bits(gate));  // in place
    return fc2(gate);
  }
  Dense fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
};
TORCH_MODULE(SwiGLU);

struct EncoderBlockImpl : nn::Module {
  EncoderBlockImpl(const AionConfig& c) {
    norm1 = register_module("norm1", Norm(c.dim));
    attn = register_module("attn", SelfAttention(c.dim, c.num_heads, c.qk_norm));
    norm2 = register_module("norm2", Norm(c.dim));
    mlp = register_module("mlp", SwiGLU(c.dim, c.mlp_hidden));
  }
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask) {
    x = plus(x, attn(norm1(x), mask));
    return plus(x, mlp(norm2(x)));
  }
  Norm norm1{nullptr}, norm2{nullptr};
  SelfAttention attn{nullptr};
  SwiGLU mlp{nullptr};
};
TORCH_MODULE(EncoderBlock);

struct DecoderBlockImpl : nn::Module {
  DecoderBlockImpl(const AionConfig& c) {
    norm1 = register_module("norm1", Norm(c.dim));
    self_attn = register_module("self_attn", SelfAttention(c.dim, c.num_heads, c.qk_norm));
    cross_attn = register_module("cross_attn", CrossAttention(c.dim, c.num_heads, c.qk_norm));
    query_norm = register_module("query_norm", Norm(c.dim));
    context_norm = register_module("context_norm", Norm(c.dim));
    norm2 = register_module("norm2", Norm(c.dim));
    mlp = register_module("mlp", SwiGLU(c.dim, c.mlp_hidden));
  }
  torch::Tensor forward(torch::Tensor y, const torch::Tensor& ctx, const torch::Tensor& sa_mask, const torch::Tensor& xa_mask) {
    y = plus(y, self_attn(norm1(y), sa_mask));
    y = plus(y, cross_attn(query_norm(y), context_norm(ctx), xa_mask));
    return plus(y, mlp(norm2(y)));
  }
  Norm norm1{nullptr}, norm2{nullptr}, query_norm{nullptr}, context_norm{nullptr};
  SelfAttention self_attn{nullptr};
  CrossAttention cross_attn{nullptr};
  SwiGLU mlp{nullptr};
};
TORCH_MODULE(DecoderBlock);

// AION's sin-cos position code of `pos` (float32 [n]): [sin p w, cos p w]
// with w = 10000^(-k / (dim / 2)), k < dim / 2 (build_1d_sincos_posemb).
torch::Tensor sincos_of(const torch::Tensor& pos, int64_t dim) {
  const int64_t pd = dim / 2;
  auto omega = 1.0 / torch::pow(10000.0, torch::arange(pd, torch::kFloat32) / static_cast<double>(pd));
  auto a = pos.unsqueeze(1) * omega.unsqueeze(0);
  return torch::cat({a.sin(), a.cos()}, 1);
}

// build_2d_sincos_posemb: token n at (n / h, n % h), each coordinate coded in half the width.
torch::Tensor sincos(int64_t h, int64_t w, int64_t dim) {
  auto n = torch::arange(h * w, torch::kLong);
  return torch::cat({sincos_of(n.div(h, "floor").to(torch::kFloat32), dim / 2), sincos_of(n.remainder(h).to(torch::kFloat32), dim / 2)}, 1)
      .unsqueeze(0);
}

struct EmbeddingImpl : nn::Module {
  EmbeddingImpl(const AionModality& m, int64_t dim, torch::Tensor shared_mod_emb, bool decoder) {
    mod_emb = register_parameter("mod_emb", shared_mod_emb);
    pos_emb = register_buffer("pos_emb", m.sequence ? sincos_of(torch::arange(m.grid_h, torch::kFloat32), dim).unsqueeze(0) : sincos(m.grid_h, m.grid_w, dim));
    token_emb = register_module("token_emb", Table(m.vocab, dim));
    if (decoder) to_logits = register_module("to_logits", Dense(dim, m.vocab));
  }
  torch::Tensor mod_emb, pos_emb;
  Table token_emb{nullptr};
  Dense to_logits{nullptr};
};
TORCH_MODULE(Embedding);

// A scalar's bins are ordered, but its embedding rows start unrelated: with
// little data each bin is seen a few times and bin k learns nothing from k+1.
// Rows start as a Fourier basis of the bin's position instead (frequencies 1
// to vocab/4, geometric), so neighbouring bins start alike; the output head
// likewise, scaled down, so the first predictive densities are smooth.
void ordinal_init(EmbeddingImpl& e, int64_t vocab, int64_t dim) {
  torch::NoGradGuard ng;
  const int64_t half = dim / 2;
  auto u = (torch::arange(vocab, torch::kFloat32) + 0.5) / static_cast<double>(vocab);
  auto f = torch::pow(std::max(2.0, vocab / 4.0), torch::arange(half, torch::kFloat32) / std::max<int64_t>(1, half - 1));
  auto a = 2 * M_PI * u.unsqueeze(1) * f.unsqueeze(0);
  auto basis = torch::zeros({vocab, dim});
  basis.slice(1, 0, half).copy_(a.sin());
  basis.slice(1, half, 2 * half).copy_(a.cos());
  e.token_emb->weight.copy_(basis);
  if (e.to_logits) e.to_logits->weight.copy_(basis * 0.02);
}

}  // namespace

struct AionImpl::Impl {
  std::map<std::string, Embedding> enc, dec;
  std::vector<EncoderBlock> encoder;
  std::vector<DecoderBlock> decoder;
  Norm encoder_norm{nullptr}, decoder_norm{nullptr};
  Dense proj_context{nullptr};
  torch::Tensor mask_token;
};

AionImpl::AionImpl(AionConfig cfg, bool draw_weights, torch::ScalarType dtype)
    : cfg_(std::move(cfg)), impl_(std::make_shared<Impl>()), dtype_(dtype) {
  auto& I = *impl_;
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16) fail_usage("AION runs in float32 or bfloat16, not {}", c10::toString(dtype));
  if (dtype != torch::kFloat32 && draw_weights) fail_usage("AION: a bfloat16 model is for loaded weights (training is float32)");
  struct DrawScope {
    bool saved = tl_draw_weights;
    torch::ScalarType saved_dtype = tl_dtype;
    ~DrawScope() { tl_draw_weights = saved, tl_dtype = saved_dtype; }
  } scope;
  tl_draw_weights = draw_weights;
  tl_dtype = dtype;
  I.mask_token = register_parameter("mask_token", torch::zeros({1, 1, cfg_.dim}).normal_(0, 0.02));
  auto enc = register_module("encoder_embeddings", nn::ModuleDict());
  auto dec = register_module("decoder_embeddings", nn::ModuleDict());
  for (const auto& m : cfg_.modalities) {
    auto mod_emb = torch::zeros({1, 1, cfg_.dim}).normal_(0, 0.02);
    I.enc.emplace(m.key, Embedding(m, cfg_.dim, mod_emb, false));
    I.dec.emplace(m.key, Embedding(m, cfg_.dim, mod_emb, true));  // the same tensor: AION shares it
    if (draw_weights && cfg_.ordinal_scalar_init && m.tokens == 1) ordinal_init(*I.enc.at(m.key), m.vocab, cfg_.dim), ordinal_init(*I.dec.at(m.key), m.vocab, cfg_.dim);
    enc->update({{m.key, I.enc.at(m.key).ptr()}});
    dec->update({{m.key, I.dec.at(m.key).ptr()}});
  }
  auto e = register_module("encoder", nn::ModuleList());
  for (int64_t i = 0; i < cfg_.encoder_depth; ++i) I.encoder.push_back(EncoderBlock(cfg_)), e->push_back(I.encoder.back());
  I.encoder_norm = register_module("encoder_norm", Norm(cfg_.dim));
  I.proj_context = register_module("decoder_proj_context", Dense(cfg_.dim, cfg_.dim, /*with_bias=*/true));
  auto d = register_module("decoder", nn::ModuleList());
  for (int64_t i = 0; i < cfg_.decoder_depth; ++i) I.decoder.push_back(DecoderBlock(cfg_)), d->push_back(I.decoder.back());
  I.decoder_norm = register_module("decoder_norm", Norm(cfg_.dim));
  if (dtype != torch::kFloat32) to(dtype);  // the small rest: norms, positions, modality embeddings
}

AionEncoded AionImpl::encode(const AionInputs& in, int64_t keep) const {
  auto& I = *impl_;
  if (in.tokens.empty()) fail_input("AION: no input tokens");
  std::vector<torch::Tensor> xs, es, ms;
  const int64_t B = in.tokens.front().second.size(0);
  for (size_t k = 0; k < in.tokens.size(); ++k) {
    const auto& [key, t0] = in.tokens[k];
    const auto& m = cfg_.modality(key);
    auto t = t0.to(torch::kLong);
    if (t.dim() == 1) t = t.unsqueeze(1);
    if (t.size(1) != m.tokens) fail_input("AION: {} has {} tokens per object, the model expects {}", key, t.size(1), m.tokens);
    auto& emb = I.enc.at(m.key);
    auto mask = k < in.masks.size() && in.masks[k].defined() ? in.masks[k].to(t.device(), torch::kBool) : torch::zeros({B, m.tokens}, t.options().dtype(torch::kBool));
    // Missing tokens (-1) are absent tokens: masked, looked up as 0.
    mask = mask | (t < 0);
    if (m.sequence) {
      // 4M's SequenceEncoderEmbedding: the n-th token present takes position n.
      if ((t.masked_fill(mask, 0) + m.vocab_offset >= m.vocab).any().item<bool>())
        fail_input("AION: {} holds a token beyond {} (its vocabulary of {} less the offset {})", key, m.vocab - m.vocab_offset - 1, m.vocab, m.vocab_offset);
      auto pos_id = ((~mask).to(torch::kLong).cumsum(1) - 1).masked_fill(mask, 0);
      auto pos = emb->pos_emb[0].index_select(0, pos_id.flatten()).reshape({B, m.tokens, -1}).masked_fill(mask.unsqueeze(-1), 0.0);
      xs.push_back(emb->token_emb((t + m.vocab_offset).masked_fill(mask, 0)));
      es.push_back(pos + emb->mod_emb);
    } else {
      xs.push_back(emb->token_emb(t.clamp_min(0)));
      es.push_back((emb->pos_emb + emb->mod_emb).expand({B, -1, -1}));
    }
    ms.push_back(mask);
  }
  auto X = torch::cat(xs, 1), E = torch::cat(es, 1), M = torch::cat(ms, 1);
  const int64_t D = X.size(2);
  auto ids = std::get<1>(torch::sort(M.to(torch::kLong), /*stable=*/true, 1, false)).slice(1, 0, std::min<int64_t>(keep, M.size(1)));
  auto idx = ids.unsqueeze(-1).expand({-1, -1, D});
  X = X.gather(1, idx).clone();
  E = E.gather(1, idx).clone();
  M = M.gather(1, ids);
  X.masked_fill_(M.unsqueeze(-1), 0.0);
  E.masked_fill_(M.unsqueeze(-1), 0.0);
  auto key_mask = M.unsqueeze(1);  // [B, 1, N]: only keys are masked
  auto x = X + E;
  for (auto& blk : I.encoder) x = blk->forward(x, key_mask);
  x = I.encoder_norm(x);
  return {(I.proj_context(x) + E).to(torch::kFloat32), M};  // float32 out, whatever the model runs in
}

std::vector<torch::Tensor> AionImpl::decode(const AionEncoded& enc, const std::vector<std::string>& targets) const {
  // Every token of every target selected: the stable partition keeps their
  // order, so each target's logits come back row-major and reshape to [B, T, V].
  const int64_t B = enc.context.size(0);
  std::vector<torch::Tensor> all;
  int64_t total = 0;
  for (const auto& t : targets) {
    const auto& m = cfg_.modality(t);
    all.push_back(torch::ones({B, m.tokens}, enc.context.options().dtype(torch::kBool)));
    total += m.tokens;
  }
  auto sel = decode_selected(enc, targets, all, total);
  std::vector<torch::Tensor> out;
  for (size_t k = 0; k < targets.size(); ++k) out.push_back(sel[k].first.reshape({B, cfg_.modality(targets[k]).tokens, -1}));
  return out;
}

std::vector<std::pair<torch::Tensor, torch::Tensor>> AionImpl::decode_selected(const AionEncoded& enc, const std::vector<std::string>& targets,
                                                                                 const std::vector<torch::Tensor>& selected,
                                                                                 int64_t num_decoder_tokens) const {
  auto& I = *impl_;
  const int64_t B = enc.context.size(0);
  const auto on = enc.context.options();  // masks and positions live where the model runs
  std::vector<torch::Tensor> es, sel, mods, pos;
  for (size_t k = 0; k < targets.size(); ++k) {
    const auto& m = cfg_.modality(targets[k]);
    check_generable(m, "AION");
    es.push_back((I.dec.at(m.key)->pos_emb + I.dec.at(m.key)->mod_emb).expand({B, -1, -1}));
    sel.push_back(selected[k].to(on.device(), torch::kBool));
    mods.push_back(torch::full({B, m.tokens}, static_cast<int64_t>(k), on.dtype(torch::kLong)));
    pos.push_back(torch::arange(m.tokens, on.dtype(torch::kLong)).expand({B, -1}));
  }
  auto E = torch::cat(es, 1), S = torch::cat(sel, 1), Mo = torch::cat(mods, 1), P = torch::cat(pos, 1);
  const int64_t D = E.size(2);
  // Selected tokens first (a stable partition), the first num_decoder_tokens kept.
  auto ids = std::get<1>(torch::sort((~S).to(torch::kLong), /*stable=*/true, 1, false)).slice(1, 0, std::min<int64_t>(num_decoder_tokens, S.size(1)));
  E = E.gather(1, ids.unsqueeze(-1).expand({-1, -1, D}));
  S = S.gather(1, ids), Mo = Mo.gather(1, ids), P = P.gather(1, ids);
  auto y = I.mask_token.expand({B, ids.size(1), -1}) + E;
  torch::Tensor sa;
  if (cfg_.decoder_self_attention == "aion")
    sa = torch::ones({B, ids.size(1), ids.size(1)}, on.dtype(torch::kBool));
  else  // own modality, selected keys only
    sa = (Mo.unsqueeze(2) != Mo.unsqueeze(1)) | (~S).unsqueeze(1);
  auto xa = enc.mask.unsqueeze(1);
  const auto ctx = enc.context.to(dtype_);
  for (auto& blk : I.decoder) y = blk->forward(y, ctx, sa, xa);
  y = I.decoder_norm(y);
  auto row = torch::arange(B, on.dtype(torch::kLong)).unsqueeze(1).expand_as(P);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> out;
  for (size_t k = 0; k < targets.size(); ++k) {
    const auto& m = cfg_.modality(targets[k]);
    auto here = S & (Mo == static_cast<int64_t>(k));
    out.emplace_back(I.dec.at(m.key)->to_logits(y.index({here})).to(torch::kFloat32), (row * m.tokens + P).index({here}));
  }
  return out;
}

}  // namespace astrofm::models
