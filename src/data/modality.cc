#include "astrofm/modality.h"

#include <algorithm>

#include "astrofm/error.h"

namespace astrofm {

const char* modality_kind_name(ModalityKind k) {
  switch (k) {
    case ModalityKind::Image: return "image";
    case ModalityKind::Spectrum: return "spectrum";
    case ModalityKind::Scalar: return "scalar";
    case ModalityKind::Catalog: return "catalog";
    case ModalityKind::Field: return "field";
  }
  return "?";
}

std::vector<std::string> Modality::column_names(bool required_only) const {
  std::vector<std::string> out;
  for (const auto& c : columns)
    if (c.required || !required_only) out.push_back(c.name);
  return out;
}

const std::vector<Modality>& modality_table() {
  const std::vector<DType> flt = {DType::Float32, DType::Float64};
  static const std::vector<Modality> t = {
      {"image", ModalityKind::Image, 4, "[N, bands, H, W]",
       {{mmu::kImageArray, flt, "float32 flux", ShapeRule::Main},
        {mmu::kImageIvar, flt, "float32", ShapeRule::SameAsMain},
        {mmu::kImageMask, {DType::Bool}, "bool", ShapeRule::SameAsMain},
        {mmu::kImageBand, {DType::String}, "string band names", ShapeRule::PerBand},
        {mmu::kImagePsfFwhm, flt, "float", ShapeRule::PerBand},
        {mmu::kImageScale, flt, "float", ShapeRule::PerBand}}},
      {"spectrum", ModalityKind::Spectrum, 2, "[N, L]",
       {{mmu::kSpectrumFlux, flt, "float", ShapeRule::Main},
        {mmu::kSpectrumIvar, flt, "float", ShapeRule::SameAsMain},
        {mmu::kSpectrumLambda, flt, "float", ShapeRule::SameAsMain},
        {mmu::kSpectrumMask, {DType::Bool}, "bool", ShapeRule::SameAsMain},
        {mmu::kSpectrumLsfSigma, flt, "float", ShapeRule::SameAsMain, /*required=*/false}}},
      // AION's catalog: up to `length` Legacy Survey detections around the
      // object, pixel positions and shapes, 9999 or NaN where a slot is empty.
      {"catalog", ModalityKind::Catalog, 2, "[N, length]",
       {{"catalog_X", flt, "float pixel x", ShapeRule::Main},
        {"catalog_Y", flt, "float pixel y", ShapeRule::SameAsMain},
        {"catalog_SHAPE_E1", flt, "float", ShapeRule::SameAsMain},
        {"catalog_SHAPE_E2", flt, "float", ShapeRule::SameAsMain},
        {"catalog_SHAPE_R", flt, "float", ShapeRule::SameAsMain}}},
      // AION's segmentation map: which pixels of the cutout belong to the
      // object's detections, a float map in [0, 1] (its codec takes the central 96 px).
      {"segmentation_map", ModalityKind::Field, 3, "[N, H, W]", {{"segmentation_map", flt, "float map", ShapeRule::Main}}},
  };
  return t;
}

Modality scalar_modality(const std::string& column) {
  return {column, ModalityKind::Scalar, 1, "[N]",
          {{column,
            {DType::Float32, DType::Float64, DType::Int8, DType::Int16, DType::Int32, DType::Int64, DType::UInt8, DType::UInt16,
             DType::UInt32, DType::UInt64},
            "a number",
            ShapeRule::Main}}};
}

Modality modality(const std::string& name) {
  for (const auto& m : modality_table())
    if (m.name == name) return m;
  if (name.empty()) fail_usage("an empty modality name");
  return scalar_modality(name);
}

std::vector<Modality> modalities_in(const std::vector<std::string>& columns, const std::vector<ColumnSchema>& schema) {
  std::vector<Modality> out;
  auto has = [&](const std::string& c) { return std::find(columns.begin(), columns.end(), c) != columns.end(); };
  std::vector<std::string> owned;
  for (const auto& m : modality_table())
    if (has(m.main_column())) {
      out.push_back(m);
      for (const auto& c : m.columns) owned.push_back(c.name);
    }
  for (const auto& s : schema) {
    bool numeric = dtype_is_float(s.dtype) || dtype_is_integer(s.dtype);
    if (!numeric || !s.shape.empty() || std::find(owned.begin(), owned.end(), s.name) != owned.end()) continue;
    if (s.name == mmu::kRa || s.name == mmu::kDec || s.name == mmu::kHealpix || s.name.rfind("embedding_", 0) == 0 ||
        s.name.rfind("tokens_", 0) == 0 || s.name.rfind("tok_", 0) == 0)
      continue;
    out.push_back(scalar_modality(s.name));
  }
  return out;
}

}  // namespace astrofm
