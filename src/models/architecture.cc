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
  // The column is viewed in place and cropped first: the stretch works pixel
  // by pixel, so stretching only the pixels the model sees gives the same
  // values, and the only full copy is of those pixels.
  const Column& col = b.at(mmu::kImageArray);
  if (col.dtype != DType::Float32 && col.dtype != DType::Float64)
    fail_input("{}: column '{}' is {}, expected float32 or float64", where, col.name, dtype_name(col.dtype));
  std::vector<int64_t> sizes = col.shape;
  sizes.insert(sizes.begin(), col.rows);
  if (sizes.size() != 4) fail_input("{}: image_array must be [N, bands, H, W], got {}-d", where, sizes.size());
  if (col.rows == 0) return torch::empty({0, channels, crop, crop});
  auto view = torch::from_blob(const_cast<uint8_t*>(col.data.data()), sizes, col.dtype == DType::Float32 ? torch::kFloat32 : torch::kFloat64);
  if (pre.value("swap_axes", false)) view = view.transpose(-2, -1);
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
  std::vector<std::vector<int64_t>> orders(b.rows());
  std::vector<bool> is_flux(b.rows(), false);
  for (int64_t i = 0; i < b.rows(); ++i) {
    const int64_t nb = view.size(1);
    if (!band) {  // unnamed bands: taken as the stretch's, in its order
      if (nb != 3) fail_input("{}: {} bands without image_band names; the stretch needs {}", where, nb, fmt::join(stretch_bands, ", "));
      is_flux[i] = true, orders[i] = {0, 1, 2};
    } else if (auto order = stretch_band_order(*band, i, stretch_bands, where); !order.empty()) {
      is_flux[i] = true, orders[i] = order;
    } else if (nb != channels) {
      fail_input("{}: row {}: {} bands ({}) but the model takes {}", where, i, nb, fmt::join(row_bands(*band, i), ", "), channels);
    }
  }
  if (view.size(-1) < crop || view.size(-2) < crop)
    fail_input("{}: images are {}x{}, smaller than the model's input {}", where, view.size(-2), view.size(-1), crop);
  auto x = torch::nan_to_num(center_crop(view, crop).to(torch::kFloat32), 0.0);  // the one copy (new storage)
  const bool all_flux = std::all_of(is_flux.begin(), is_flux.end(), [](bool f) { return f; });
  const bool same_order = std::all_of(orders.begin(), orders.end(), [&](const auto& o) { return o == orders.front(); });
  if (all_flux && same_order) {
    // The usual batch: one survey's bands in one order, stretched at once.
    const auto& o = orders.front();
    const bool identity = o == std::vector<int64_t>{0, 1, 2} && x.size(1) == 3;
    return legacysurvey_rgb(identity ? x : x.index_select(1, torch::tensor(o, torch::kLong)), s).contiguous();
  }
  std::vector<torch::Tensor> rows(b.rows()), flux;
  std::vector<int64_t> flux_rows;
  for (int64_t i = 0; i < b.rows(); ++i) {
    if (is_flux[i]) flux_rows.push_back(i), flux.push_back(x[i].index_select(0, torch::tensor(orders[i], torch::kLong)));
    else rows[i] = x[i];
  }
  if (!flux.empty()) {
    auto stretched = legacysurvey_rgb(torch::stack(flux), s);
    for (size_t k = 0; k < flux_rows.size(); ++k) rows[flux_rows[k]] = stretched[k];
  }
  return torch::stack(rows).contiguous();
}

}  // namespace astrofm::models
