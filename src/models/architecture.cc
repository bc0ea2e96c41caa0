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
  X(aion)                        \
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

Column tensor_column(const std::string& name, const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat32).contiguous();
  std::vector<int64_t> shape(c.sizes().begin() + 1, c.sizes().end());
  Column col(name, DType::Float32, shape, c.size(0));
  if (!col.data.empty()) std::memcpy(col.data.data(), c.data_ptr<float>(), col.data.size());
  return col;
}

nlohmann::json stretch_preprocessing(int64_t crop, bool with_cutouts) {
  RgbStretch s;
  nlohmann::json j = {{"kind", "legacysurvey_rgb"}, {"bands", kStretchBands},
                      {"scales", {s.scale_g, s.scale_r, s.scale_z}}, {"offset", s.offset}, {"Q", s.q},
                      {"swap_axes", false}, {"crop", crop}};
  if (with_cutouts) j["kinds"] = {"legacysurvey_rgb", "unit"};
  return j;
}

torch::Tensor prepare_images(const Table& b, const nlohmann::json& pre, int64_t crop, int64_t channels, const std::string& where) {
  auto x = torch::nan_to_num(batch_tensor(b.at(mmu::kImageArray), where), 0.0);
  if (x.dim() != 4) fail_input("{}: image_array must be [N, bands, H, W], got {}-d", where, x.dim());
  std::vector<std::string> stretch_bands = pre.value("bands", kStretchBands);
  RgbStretch s;
  if (pre.contains("scales")) {
    auto sc = pre["scales"].get<std::vector<double>>();
    if (sc.size() != 3) fail_corrupt("{}: preprocessing.image.scales needs 3 values", where);
    s.scale_g = sc[0], s.scale_r = sc[1], s.scale_z = sc[2];
  }
  s.offset = pre.value("offset", s.offset);
  s.q = pre.value("Q", s.q);
  const Column* band = b.find(mmu::kImageBand);
  // Flux rows, in the stretch's band order, are stretched together; other
  // rows (8-bit cutouts) are used as they are.
  std::vector<torch::Tensor> rows(b.rows()), flux;
  std::vector<int64_t> flux_rows;
  for (int64_t i = 0; i < b.rows(); ++i) {
    torch::Tensor r = x[i];
    if (!band) {  // unnamed bands: taken as the stretch's, in its order
      if (r.size(0) != 3) fail_input("{}: {} bands without image_band names; the stretch needs {}", where, r.size(0), fmt::join(stretch_bands, ", "));
      flux_rows.push_back(i), flux.push_back(r);
    } else if (auto order = stretch_band_order(*band, i, stretch_bands, where); !order.empty()) {
      flux_rows.push_back(i), flux.push_back(r.index_select(0, torch::tensor(order, torch::kLong)));
    } else if (r.size(0) != channels) {
      fail_input("{}: row {}: {} bands ({}) but the model takes {}", where, i, r.size(0), fmt::join(row_bands(*band, i), ", "), channels);
    } else {
      rows[i] = r;
    }
  }
  if (!flux.empty()) {
    auto stretched = legacysurvey_rgb(torch::stack(flux), s);
    for (size_t k = 0; k < flux_rows.size(); ++k) rows[flux_rows[k]] = stretched[k];
  }
  auto out = torch::stack(rows);
  if (pre.value("swap_axes", false)) out = out.transpose(-2, -1);
  if (out.size(-1) < crop || out.size(-2) < crop)
    fail_input("{}: images are {}x{}, smaller than the model's input {}", where, out.size(-2), out.size(-1), crop);
  return center_crop(out, crop).contiguous();
}

}  // namespace astrofm::models
