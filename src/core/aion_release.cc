#include "astrofm/aion_release.h"

#include <filesystem>
#include <fstream>
#include <regex>

#include "astrofm/error.h"
#include "astrofm/hash.h"
#include "astrofm/strict_json.h"
#include "core/mapped_file.h"

namespace astrofm::aion {
namespace fs = std::filesystem;
namespace {

// clang-format off
constexpr ReleaseModality kModalities[] = {
  // class                      token key            codec dir               codec class         astrofm column          tok  vocab  grid     sequence, offset
  {"LegacySurveyImage",         "tok_image",         "image",                "ImageCodec",       "tok_image",            576, 4375, 24, 24},
  {"HSCImage",                  "tok_image_hsc",     "image",                "ImageCodec",       "tok_image_hsc",        576, 4375, 24, 24},
  {"DESISpectrum",              "tok_spectrum_desi", "spectrum",             "SpectrumCodec",    "tok_spectrum",         273, 1024, 273, 1},
  {"SDSSSpectrum",              "tok_spectrum_sdss", "spectrum",             "SpectrumCodec",    "tok_spectrum_sdss",    273, 1024, 273, 1},
  {"LegacySurveyFluxG",         "tok_flux_g",        "FLUX_G",               "LogScalarCodec",   "tok_FLUX_G",           1, 1024, 1, 1},
  {"LegacySurveyFluxR",         "tok_flux_r",        "FLUX_R",               "LogScalarCodec",   "tok_FLUX_R",           1, 1024, 1, 1},
  {"LegacySurveyFluxI",         "tok_flux_i",        "FLUX_I",               "LogScalarCodec",   "tok_FLUX_I",           1, 1024, 1, 1},
  {"LegacySurveyFluxZ",         "tok_flux_z",        "FLUX_Z",               "LogScalarCodec",   "tok_FLUX_Z",           1, 1024, 1, 1},
  {"LegacySurveyFluxW1",        "tok_flux_w1",       "FLUX_W1",              "LogScalarCodec",   "tok_FLUX_W1",          1, 1024, 1, 1},
  {"LegacySurveyFluxW2",        "tok_flux_w2",       "FLUX_W2",              "LogScalarCodec",   "tok_FLUX_W2",          1, 1024, 1, 1},
  {"LegacySurveyFluxW3",        "tok_flux_w3",       "FLUX_W3",              "LogScalarCodec",   "tok_FLUX_W3",          1, 1024, 1, 1},
  {"LegacySurveyFluxW4",        "tok_flux_w4",       "FLUX_W4",              "LogScalarCodec",   "tok_FLUX_W4",          1, 1024, 1, 1},
  {"LegacySurveyShapeR",        "tok_shape_r",       "SHAPE_R",              "LogScalarCodec",   "tok_SHAPE_R",          1, 1024, 1, 1},
  {"LegacySurveyShapeE1",       "tok_shape_e1",      "SHAPE_E1",             "ScalarCodec",      "tok_SHAPE_E1",         1, 1024, 1, 1},
  {"LegacySurveyShapeE2",       "tok_shape_e2",      "SHAPE_E2",             "ScalarCodec",      "tok_SHAPE_E2",         1, 1024, 1, 1},
  {"LegacySurveyEBV",           "tok_ebv",           "EBV",                  "ScalarCodec",      "tok_EBV",              1, 1024, 1, 1},
  {"Z",                         "tok_z",             "Z",                    "GridScalarCodec",  "tok_Z",                1, 1025, 1, 1},
  {"HSCMagG",                   "tok_mag_g",         "g_cmodel_mag",         "ScalarCodec",      "tok_g_cmodel_mag",     1, 1024, 1, 1},
  {"HSCMagR",                   "tok_mag_r",         "r_cmodel_mag",         "ScalarCodec",      "tok_r_cmodel_mag",     1, 1024, 1, 1},
  {"HSCMagI",                   "tok_mag_i",         "i_cmodel_mag",         "ScalarCodec",      "tok_i_cmodel_mag",     1, 1024, 1, 1},
  {"HSCMagZ",                   "tok_mag_z",         "z_cmodel_mag",         "ScalarCodec",      "tok_z_cmodel_mag",     1, 1024, 1, 1},
  {"HSCMagY",                   "tok_mag_y",         "y_cmodel_mag",         "ScalarCodec",      "tok_y_cmodel_mag",     1, 1024, 1, 1},
  {"HSCAG",                     "tok_a_g",           "a_g",                  "ScalarCodec",      "tok_a_g",              1, 1024, 1, 1},
  {"HSCAR",                     "tok_a_r",           "a_r",                  "ScalarCodec",      "tok_a_r",              1, 1024, 1, 1},
  {"HSCAI",                     "tok_a_i",           "a_i",                  "ScalarCodec",      "tok_a_i",              1, 1024, 1, 1},
  {"HSCAZ",                     "tok_a_z",           "a_z",                  "ScalarCodec",      "tok_a_z",              1, 1024, 1, 1},
  {"HSCAY",                     "tok_a_y",           "a_y",                  "ScalarCodec",      "tok_a_y",              1, 1024, 1, 1},
  {"HSCShape11",                "tok_shape11",       "i_sdssshape_shape11",  "ScalarCodec",      "tok_i_sdssshape_shape11", 1, 1024, 1, 1},
  {"HSCShape22",                "tok_shape22",       "i_sdssshape_shape22",  "ScalarCodec",      "tok_i_sdssshape_shape22", 1, 1024, 1, 1},
  {"HSCShape12",                "tok_shape12",       "i_sdssshape_shape12",  "ScalarCodec",      "tok_i_sdssshape_shape12", 1, 1024, 1, 1},
  {"GaiaFluxG",                 "tok_flux_g_gaia",   "phot_g_mean_flux",     "LogScalarCodec",   "tok_phot_g_mean_flux", 1, 1024, 1, 1},
  {"GaiaFluxBp",                "tok_flux_bp_gaia",  "phot_bp_mean_flux",    "LogScalarCodec",   "tok_phot_bp_mean_flux", 1, 1024, 1, 1},
  {"GaiaFluxRp",                "tok_flux_rp_gaia",  "phot_rp_mean_flux",    "LogScalarCodec",   "tok_phot_rp_mean_flux", 1, 1024, 1, 1},
  {"GaiaParallax",              "tok_parallax",      "parallax",             "LogScalarCodec",   "tok_parallax",         1, 1024, 1, 1},
  {"Ra",                        "tok_ra",            "ra",                   "ScalarCodec",      "tok_ra",               1, 1024, 1, 1},
  {"Dec",                       "tok_dec",           "dec",                  "ScalarCodec",      "tok_dec",              1, 1024, 1, 1},
  {"GaiaXpBp",                  "tok_xp_bp",         "bp_coefficients",      "MultiScalarCodec", "tok_bp_coefficients",  55, 1024, 55, 1},
  {"GaiaXpRp",                  "tok_xp_rp",         "rp_coefficients",      "MultiScalarCodec", "tok_rp_coefficients",  55, 1024, 55, 1},
  {"LegacySurveyCatalog",       "catalog",           "catalog",              "CatalogCodec",     "tok_catalog",          50, 3468, 50, 1, true, 204},
  {"LegacySurveySegmentationMap", "tok_segmap",      "segmentation_map",     "ScalarFieldCodec", "tok_segmentation_map", 144, 1000, 12, 12},
};
// clang-format on

nlohmann::json read_json_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail_io("{}: cannot open", p.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > (16u << 20)) fail_corrupt("{}: {} bytes is too large for a settings file", p.string(), text.size());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail_corrupt("{}: not valid JSON: {}", p.string(), e.what());
  }
  if (!j.is_object()) fail_corrupt("{}: not a JSON object", p.string());
  return j;
}

std::string weights_in(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  for (const char* f : {"model.safetensors", "pytorch_model.bin"})
    if (fs::is_regular_file(dir / f, ec)) return (dir / f).string();
  fail_input("{}: no model.safetensors or pytorch_model.bin beside {}'s config.json", dir.string(), what);
}

void need_bool(const nlohmann::json& c, const char* k, const std::string& where) {
  if (c.contains(k) && !c[k].is_boolean()) fail_input("{}: '{}' must be true or false, got {}", where, k, c[k].dump());
}

}  // namespace

std::span<const ReleaseModality> release_modalities() { return kModalities; }

const ReleaseModality* find_modality(const std::string& name) {
  for (const auto& m : kModalities)
    if (name == m.token_key || name == m.aion_class || name == m.column) return &m;
  return nullptr;
}

bool is_snapshot(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "config.json", ec);
}

nlohmann::json check_aion_config(const nlohmann::json& c, const std::string& where) {
  if (!c.is_object()) fail_input("{}: not a JSON object", where);
  for (const char* k : {"domains_in", "domains_out", "dim", "encoder_depth", "decoder_depth", "num_heads"})
    if (!c.contains(k)) fail_input("{}: no '{}' (not an AION config.json?)", where, k);
  for (const char* k : {"domains_in", "domains_out"}) {
    if (!c[k].is_array() || c[k].empty()) fail_input("{}: '{}' must be a non-empty list of modality keys, got {}", where, k, c[k].dump());
    for (const auto& d : c[k]) {
      if (!d.is_string()) fail_input("{}: '{}' holds {}, not a modality key", where, k, d.dump());
      const auto* m = find_modality(d.get<std::string>());
      if (!m || d.get<std::string>() != m->token_key)
        fail_input("{}: {} names '{}', which is not an AION-1 modality (polymathic-aion 0.0.2 knows tok_image, tok_spectrum_desi, tok_flux_g, tok_z, ...)",
                   where, k, d.get<std::string>());
    }
  }
  const auto dim = json_integer<int64_t>(c["dim"], where + ": dim", ErrorKind::InvalidInput);
  const auto heads = json_integer<int64_t>(c["num_heads"], where + ": num_heads", ErrorKind::InvalidInput);
  const auto enc = json_integer<int64_t>(c["encoder_depth"], where + ": encoder_depth", ErrorKind::InvalidInput);
  const auto dec = json_integer<int64_t>(c["decoder_depth"], where + ": decoder_depth", ErrorKind::InvalidInput);
  if (dim < 4 || dim > 65536 || dim % 4) fail_input("{}: dim {} must be a positive multiple of 4", where, dim);
  if (heads < 1 || dim % heads) fail_input("{}: num_heads {} must divide dim {}", where, heads, dim);
  if (enc < 1 || enc > 1024 || dec < 1 || dec > 1024) fail_input("{}: encoder_depth {} / decoder_depth {} out of range", where, enc, dec);
  if (c.contains("mlp_ratio") && (!c["mlp_ratio"].is_number() || c["mlp_ratio"].get<double>() <= 0))
    fail_input("{}: 'mlp_ratio' must be a positive number, got {}", where, c["mlp_ratio"].dump());
  for (const char* k : {"qkv_bias", "proj_bias", "mlp_bias", "norm_bias", "gated_mlp", "qk_norm", "decoder_causal_mask", "decoder_sep_mask",
                        "share_modality_embeddings"})
    need_bool(c, k, where);
  // What AION-1 uses and astrofm implements: SwiGLU without biases.
  for (const char* k : {"qkv_bias", "proj_bias", "mlp_bias"})
    if (c.value(k, false)) fail_input("{}: '{}' is true; astrofm implements AION-1's bias-free attention and MLP", where, k);
  if (c.contains("act_layer") && !c["act_layer"].is_string()) fail_input("{}: 'act_layer' must be a string, got {}", where, c["act_layer"].dump());
  if (!c.value("gated_mlp", true) || c.value("act_layer", std::string("SiLU")) != "SiLU")
    fail_input("{}: gated_mlp {} with act_layer {}: astrofm implements AION-1's SwiGLU (gated_mlp true, act_layer SiLU)", where,
               c.value("gated_mlp", true), c.contains("act_layer") ? c["act_layer"].dump() : "\"SiLU\"");
  if (c.value("decoder_causal_mask", false)) fail_input("{}: 'decoder_causal_mask' true is not AION-1's decoder", where);
  if (c.contains("num_register_tokens") && json_integer<int64_t>(c["num_register_tokens"], where + ": num_register_tokens", ErrorKind::InvalidInput) != 0)
    fail_input("{}: num_register_tokens {} (AION-1 uses none; astrofm does not implement them)", where, c["num_register_tokens"].dump());
  return c;
}

Snapshot read_snapshot(const std::string& dir_in) {
  const fs::path dir(dir_in);
  if (!is_snapshot(dir_in)) fail_not_found("{}: not a model snapshot folder (no config.json)", dir_in);
  Snapshot s;
  s.dir = dir.string();
  s.config_path = (dir / "config.json").string();
  s.config = read_json_file(dir / "config.json");
  if (!s.config.contains("domains_in") && !s.config.contains("dim"))
    fail_input("{}: not an AION-1 config (no domains_in, dim); astrofm opens AION-1 snapshots (polymathic-ai/aion-base, -large, -xlarge)",
               s.config_path);
  check_aion_config(s.config, s.config_path);
  s.kind = "aion";
  s.weights_path = weights_in(dir, "the transformer");
  for (const char* k : {"domains_in", "domains_out"})
    for (const auto& d : s.config[k])
      if (std::find(s.domains.begin(), s.domains.end(), d.get<std::string>()) == s.domains.end()) s.domains.push_back(d.get<std::string>());

  std::error_code ec;
  const fs::path cdir = dir / "codecs";
  if (fs::is_directory(cdir, ec)) {
    std::vector<fs::path> sub;
    for (const auto& e : fs::directory_iterator(cdir, ec))
      if (e.is_directory()) sub.push_back(e.path());
    std::sort(sub.begin(), sub.end());
    for (const auto& p : sub) {
      const std::string name = p.filename().string();
      const ReleaseModality* m = nullptr;
      for (const auto& r : kModalities)
        if (name == r.codec_dir) m = &r;
      if (!m) fail_input("{}: codecs/{} is not a codec of AION-1 (its folders are named by Modality.name: image, spectrum, FLUX_G, Z, ...)",
                         s.dir, name);
      SnapshotCodec c;
      c.name = name;
      c.codec_class = m->codec_class;
      c.config_path = (p / "config.json").string();
      if (!fs::is_regular_file(c.config_path, ec)) fail_input("{}: no config.json for codec '{}'", p.string(), name);
      c.config = read_json_file(c.config_path);
      if (c.config.contains("modality")) {
        if (!c.config["modality"].is_string()) fail_input("{}: 'modality' must be a string, got {}", c.config_path, c.config["modality"].dump());
        if (c.config["modality"].get<std::string>() != name)
          fail_input("{}: 'modality' is '{}' but the codec lies in codecs/{}", c.config_path, c.config["modality"].get<std::string>(), name);
      }
      if (c.config.contains("codebook_size")) {
        auto n = json_integer<int64_t>(c.config["codebook_size"], c.config_path + ": codebook_size", ErrorKind::InvalidInput);
        if (n < 2 || n > (1 << 24)) fail_input("{}: codebook_size {} out of range", c.config_path, n);
      }
      c.weights_path = weights_in(p, "codec '" + name + "'");
      s.codecs[name] = std::move(c);
    }
  }
  // Provenance: a hub cache path .../models--OWNER--NAME/snapshots/REVISION/ names both.
  nlohmann::json prov = {{"snapshot", fs::absolute(dir).lexically_normal().string()}};
  static const std::regex hub(R"(models--([^/]+?)--([^/]+)/snapshots/([0-9a-fA-F]{7,64})/?$)");
  std::smatch mm;
  const std::string abs = fs::absolute(dir).lexically_normal().string();
  if (std::regex_search(abs, mm, hub)) prov["repository"] = mm[1].str() + "/" + mm[2].str(), prov["revision"] = mm[3].str();
  nlohmann::json files = nlohmann::json::array();
  auto add = [&](const std::string& f) {
    files.push_back({{"file", fs::relative(f, dir).string()}, {"bytes", static_cast<uint64_t>(fs::file_size(f, ec))}});
  };
  add(s.config_path), add(s.weights_path);
  for (const auto& [n, c] : s.codecs) add(c.config_path), add(c.weights_path);
  prov["files"] = files;
  s.provenance = prov;
  return s;
}

nlohmann::json provenance_with_checksums(const Snapshot& s) {
  nlohmann::json prov = s.provenance;
  static const std::regex blob(R"(blobs/([0-9a-f]{64})$)");
  for (auto& f : prov["files"]) {
    const fs::path p = fs::path(s.dir) / f["file"].get<std::string>();
    std::error_code ec;
    if (fs::is_symlink(p, ec)) {
      std::smatch m;
      const std::string target = fs::read_symlink(p, ec).string();
      if (std::regex_search(target, m, blob)) {
        f["sha256"] = m[1].str();
        continue;
      }
    }
    auto map = map_file(p.string(), "snapshot file");
    f["fnv1a64"] = fmt::format("{:016x}", fnv1a(map->data, map->size));
  }
  return prov;
}

const SnapshotCodec& codec_for(const Snapshot& s, const std::string& token_key) {
  const ReleaseModality* m = find_modality(token_key);
  if (!m) fail_not_found("{}: '{}' is not an AION-1 modality", s.dir, token_key);
  auto it = s.codecs.find(m->codec_dir);
  if (it == s.codecs.end())
    fail_input("{}: no codecs/{}/ (the {} codec that {} needs); the snapshot has {}", s.dir, m->codec_dir, m->codec_class, m->aion_class,
               s.codecs.empty() ? std::string("no codecs") : [&] {
                 std::string l;
                 for (const auto& [n, c] : s.codecs) l += (l.empty() ? "" : ", ") + n;
                 return l;
               }());
  return it->second;
}

}  // namespace astrofm::aion
