#include "astrofm/models/architecture.h"

#include "astrofm/bands.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/preprocess.h"

namespace astrofm::models {

// The registered architectures: one line each, defined in
// src/models/arch/<name>.cc as register_<name>(ArchitectureTable&).
#define ASTROFM_ARCHITECTURES(X) \
  X(cnn)                         \
  X(cnn_head)                    \
  X(vit)                         \
  X(specformer)                  \
  X(astroclip)                   \
  X(pixels)                      \
  /* add an architecture above this line */

#define ASTROFM_DECLARE(name) void register_##name(ArchitectureTable&);
ASTROFM_ARCHITECTURES(ASTROFM_DECLARE)
#undef ASTROFM_DECLARE

const ArchitectureTable& architecture_table() {
  static const ArchitectureTable t = [] {
    ArchitectureTable t;
#define ASTROFM_REGISTER(name) register_##name(t);
    ASTROFM_ARCHITECTURES(ASTROFM_REGISTER)
#undef ASTROFM_REGISTER
    return t;
  }();
  return t;
}

void ArchitectureTable::add(Architecture a) {
  ASTROFM_ASSERT(!a.name.empty() && a.build && a.default_config && a.embed && a.prepare && a.preprocessing,
                 "architecture '{}' is incomplete", a.name);
  ASTROFM_ASSERT(!table_.count(a.name), "architecture '{}' registered twice", a.name);
  table_[a.name] = std::move(a);
}

const Architecture* ArchitectureTable::find(const std::string& name) const {
  auto it = table_.find(name);
  return it == table_.end() ? nullptr : &it->second;
}

const Architecture& ArchitectureTable::at(const std::string& name) const {
  if (const auto* a = find(name)) return *a;
  fail_not_found("unknown architecture '{}' (known: {})", name, fmt::join(names(), ", "));
}

const Architecture* ArchitectureTable::for_convert_kind(const std::string& kind) const {
  for (const auto& [n, a] : table_)
    for (const auto& k : a.convert_kinds)
      if (k == kind) return &a;
  return nullptr;
}

std::vector<std::string> ArchitectureTable::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : table_) out.push_back(k);
  return out;
}

torch::Tensor batch_tensor(const Column& c, const std::string& where) {
  auto sizes = c.shape;
  sizes.insert(sizes.begin(), c.rows);
  if (c.dtype == DType::Float32)
    return torch::from_blob(const_cast<uint8_t*>(c.data.data()), sizes, torch::kFloat32).clone();
  if (c.dtype == DType::Float64)
    return torch::from_blob(const_cast<uint8_t*>(c.data.data()), sizes, torch::kFloat64).to(torch::kFloat32);
  fail_input("{}: column '{}' is {}, expected float32 or float64", where, c.name, dtype_name(c.dtype));
}

torch::Tensor prepare_images(const Table& b, const nlohmann::json& pre, int64_t crop, int64_t channels, const std::string& where) {
  auto x = torch::nan_to_num(batch_tensor(b.at(mmu::kImageArray), where), 0.0);
  if (x.dim() != 4) fail_input("{}: image_array must be [N, bands, H, W], got {}-d", where, x.dim());
  std::vector<std::string> stretch_bands = pre.value("bands", std::vector<std::string>{"DES-G", "DES-R", "DES-Z"});
  RgbStretch s;
  if (pre.contains("scales")) {
    auto sc = pre["scales"].get<std::vector<double>>();
    if (sc.size() != 3) fail_corrupt("{}: preprocessing.image.scales needs 3 values", where);
    s.scale_g = sc[0], s.scale_r = sc[1], s.scale_z = sc[2];
  }
  s.offset = pre.value("offset", s.offset);
  s.q = pre.value("Q", s.q);
  const Column* band = b.find(mmu::kImageBand);
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < b.rows(); ++i) {
    bool flux = !band;
    if (band) {
      auto have = row_bands(*band, i);
      const Band* first = find_band(have.empty() ? "" : have[0]);
      flux = first && first->survey == find_band(stretch_bands[0])->survey;
    }
    torch::Tensor r = x[i];
    if (flux) {
      if (band) r = r.index_select(0, torch::tensor(select_bands(*band, i, stretch_bands, where), torch::kLong));
      else if (r.size(0) != 3) fail_input("{}: {} bands without image_band names; the stretch needs {}", where, r.size(0), fmt::join(stretch_bands, ", "));
      r = legacysurvey_rgb(r.unsqueeze(0), s).squeeze(0);
    } else if (r.size(0) != channels) {
      fail_input("{}: row {}: {} bands ({}) but the model takes {}", where, i, r.size(0),
                 band ? fmt::format("{}", fmt::join(row_bands(*band, i), ", ")) : std::string("unnamed"), channels);
    }
    rows.push_back(r);
  }
  auto out = torch::stack(rows);
  if (pre.value("swap_axes", false)) out = out.transpose(-2, -1);
  if (out.size(-1) < crop || out.size(-2) < crop)
    fail_input("{}: images are {}x{}, smaller than the model's input {}", where, out.size(-2), out.size(-1), crop);
  return center_crop(out, crop).contiguous();
}

}  // namespace astrofm::models
