// "specformer": AstroCLIP's spectrum transformer. Embedding: the mean of its
// output tokens; converts SpecFormer state dicts.
#include "astrofm/models/architecture.h"
#include "astrofm/mmu.h"
#include "astrofm/models/specformer.h"
#include "models/convert_util.h"

namespace astrofm::models {

torch::Tensor prepare_specformer(const Table& b, const SpecFormerConfig& c, const std::string& where) {
  auto flux = torch::nan_to_num(batch_tensor(b.at(mmu::kSpectrumFlux), where), 0.0);
  if (flux.dim() != 2) fail_input("{}: spectrum_flux must be [N, L], got {}-d", where, flux.dim());
  auto tokens = specformer_preprocess(flux, c);
  if (tokens.size(1) > c.max_len)
    fail_input("{}: spectra of {} pixels give {} tokens, more than the model's {}", where, flux.size(1), tokens.size(1), c.max_len);
  return tokens;
}

void register_specformer(ArchitectureTable& t) {
  Architecture a;
  a.name = "specformer";
  a.description = "SpecFormer spectrum transformer; embedding = mean of the output tokens";
  a.modalities = {"spectrum"};
  a.default_config = [] { return SpecFormerConfig{}.to_json(); };
  a.build = [](const nlohmann::json& c) -> Module { return SpecFormer(SpecFormerConfig::from_json(c)).ptr(); };
  a.preprocessing = [](const nlohmann::json&) { return nlohmann::json{{"spectrum", {{"kind", "specformer"}}}}; };
  a.prepare = [](torch::nn::Module& m, ModalityKind, const Table& b, const nlohmann::json&, const std::string& where) {
    return prepare_specformer(b, dynamic_cast<SpecFormerImpl&>(m).cfg, where);
  };
  a.embed = [](torch::nn::Module& m, ModalityKind, const torch::Tensor& x, bool tokens) {
    auto t = dynamic_cast<SpecFormerImpl&>(m).forward_tokens(x);
    return Embedded{t.mean(1), tokens ? t : torch::Tensor()};
  };
  a.convert_kinds = {"specformer"};
  a.convert = [](const std::string&, StateDict sd, const nlohmann::json& hp, const std::string& where) {
    return Converted{specformer_config_from(sd, "", hp, where), sd};
  };
  t.add(std::move(a));
}

}  // namespace astrofm::models
