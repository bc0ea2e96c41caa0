#include "astrofm/encoder.h"

#include <filesystem>

#include "astrofm/error.h"
#include "astrofm/modality.h"
#include "astrofm/models/architecture.h"
#include "astrofm/models/registry.h"
#include "astrofm/resources.h"

namespace astrofm {
using namespace astrofm::models;

struct Encoder::Impl {
  LoadedModel lm;
  const Architecture* arch = nullptr;
  torch::Device device = torch::kCPU;
  std::string name, path;
  // The device asked for, checked (UsageError where CUDA is absent).
  explicit Impl(const EncoderOptions& opt) {
    if (opt.device != "cpu" && opt.device != "cuda") fail_usage("device must be cpu or cuda, not '{}'", opt.device);
    if (opt.device == "cuda") {
      if (!torch::cuda::is_available()) fail_usage("device cuda: no CUDA device is available");
      device = torch::Device(torch::kCUDA);
    }
  }
  void use(LoadedModel loaded, std::string from) {
    lm = std::move(loaded), path = std::move(from);
    arch = &architecture_table().at(lm.architecture);
    name = lm.meta.value("name", std::filesystem::path(path).stem().string());
  }
};

Encoder::Encoder(const std::string& model, EncoderOptions opt) : impl_(std::make_unique<Impl>(opt)) {
  const std::string path = resolve_model_path(model);
  impl_->use(load_model(path, impl_->device, parse_model_dtype(opt.dtype)), path);
}

Encoder::Encoder(const LoadedModel& loaded, const std::string& path, EncoderOptions opt) : impl_(std::make_unique<Impl>(opt)) {
  impl_->use(loaded, path);  // the module is shared; the caller loaded it onto opt.device
}

Encoder::~Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;

const std::string& Encoder::name() const { return impl_->name; }
const std::string& Encoder::path() const { return impl_->path; }
const std::string& Encoder::architecture() const { return impl_->lm.architecture; }
const nlohmann::json& Encoder::meta() const { return impl_->lm.meta; }
std::vector<std::string> Encoder::modalities() const { return impl_->arch->modalities; }

std::vector<std::string> Encoder::modalities_for(const std::vector<std::string>& columns) const {
  std::vector<std::string> out;
  if (impl_->arch->joint_inputs) {  // one joint embedding when any of the model's inputs is there
    for (const auto& c : impl_->arch->joint_inputs(*impl_->lm.module))
      if (std::find(columns.begin(), columns.end(), c) != columns.end()) return impl_->arch->modalities;
    return out;
  }
  for (const auto& m : impl_->arch->modalities)
    if (std::find(columns.begin(), columns.end(), modality(m).main_column()) != columns.end()) out.push_back(m);
  return out;
}

std::vector<std::string> Encoder::input_columns(const std::vector<std::string>& columns) const {
  auto has = [&](const std::string& c) { return std::find(columns.begin(), columns.end(), c) != columns.end(); };
  std::vector<std::string> out;
  if (impl_->arch->joint_inputs) {
    for (const auto& c : impl_->arch->joint_inputs(*impl_->lm.module))
      if (has(c)) out.push_back(c);
    return out;
  }
  for (const auto& m : modalities_for(columns)) {
    out.push_back(modality(m).main_column());
    if (modality(m).kind == ModalityKind::Image && has(mmu::kImageBand)) out.push_back(mmu::kImageBand);
  }
  return out;
}

Table Encoder::embed(const Table& batch, bool tokens) const {
  torch::NoGradGuard ng;
  std::string where = fmt::format("model {}", impl_->name);
  auto use = modalities_for(batch.names());
  if (use.empty()) {
    std::vector<std::string> need;
    if (impl_->arch->joint_inputs) need = impl_->arch->joint_inputs(*impl_->lm.module);
    else
      for (const auto& m : impl_->arch->modalities) need.push_back(modality(m).main_column());
    fail_input("{}: nothing to embed: the input has none of {}", where, fmt::join(need, ", "));
  }
  Table out;
  if (batch.rows() == 0) return out;
  const auto& pre = impl_->lm.meta.value("preprocessing", nlohmann::json::object());
  if (impl_->arch->embed_joint) {
    Embedded e;
    try {
      e = impl_->arch->embed_joint(*impl_->lm.module, batch, tokens, where);
    } catch (const c10::Error& err) {
      fail_input("{}: the model cannot take these inputs: {}", where, err.what_without_backtrace());
    }
    Modality mod = modality(use.front());
    out.add(tensor_column(mod.embedding_column(), e.embedding));
    if (tokens && e.tokens.defined()) out.add(tensor_column(mod.tokens_column(), e.tokens));
    return out;
  }
  for (const auto& m : use) {
    Embedded e;
    try {
      const ModalityKind kind = modality(m).kind;
      auto x = impl_->arch->prepare(*impl_->lm.module, kind, batch, pre.value(m, nlohmann::json::object()), where);
      e = impl_->arch->embed(*impl_->lm.module, kind, x.to(impl_->device), tokens);
    } catch (const c10::Error& err) {
      fail_input("{}: the model cannot take these {} inputs: {}", where, m, err.what_without_backtrace());
    }
    Modality mod = modality(m);
    out.add(tensor_column(mod.embedding_column(), e.embedding));
    if (tokens && e.tokens.defined()) out.add(tensor_column(mod.tokens_column(), e.tokens));
  }
  return out;
}

}  // namespace astrofm
