#include "astrofm/model_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/hash.h"
#include "astrofm/strict_json.h"
#include "core/mapped_file.h"

namespace astrofm {
namespace {

static_assert(std::endian::native == std::endian::little, "astrofm's model files are little-endian; this host is not");

constexpr char kMagic[8] = {'A', 'S', 'T', 'R', 'O', 'F', 'M', '\0'};
constexpr size_t kPrefix = 8 + 4 + 4 + 8;  // magic, version, reserved, header length (format 2)

template <class T> T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T> void put(std::ostream& o, T v) { o.write(reinterpret_cast<const char*>(&v), sizeof v); }

struct Header {
  uint32_t version = 0;
  size_t json_begin = 0, json_len = 0;
};

// Reads magic, version and the JSON header's extent from the first bytes.
Header parse_prefix(const uint8_t* p, size_t n, const std::string& path) {
  if (n < 8 || std::memcmp(p, kMagic, 8) != 0) fail_corrupt("{}: not an astrofm model file (bad magic)", path);
  if (n < 12) fail_corrupt("{}: truncated model file header", path);
  Header h;
  h.version = load_le<uint32_t>(p + 8);
  if (h.version == 1) {
    if (n < 20) fail_corrupt("{}: truncated model file header", path);
    h.json_len = load_le<uint64_t>(p + 12), h.json_begin = 20;
  } else if (h.version == 2) {
    if (n < kPrefix) fail_corrupt("{}: truncated model file header", path);
    h.json_len = load_le<uint64_t>(p + 16), h.json_begin = kPrefix;
  } else {
    fail_corrupt("{}: model file format {} but this astrofm ({}) reads formats 1 and 2", path, h.version, ASTROFM_VERSION);
  }
  if (h.json_len > (1ull << 30)) fail_corrupt("{}: corrupt model file header (length {})", path, h.json_len);
  return h;
}

nlohmann::json parse_json(const uint8_t* p, size_t len, const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(p, p + len);
  } catch (const std::exception& e) {
    fail_corrupt("{}: corrupt model file header ({})", path, e.what());
  }
  // Found by fuzz_model_file: valid JSON that is not an object.
  if (!j.is_object()) fail_corrupt("{}: corrupt model file header (not a JSON object)", path);
  if (j.contains("parts")) {
    if (!j["parts"].is_object()) fail_corrupt("{}: corrupt model file header ('parts' is not an object)", path);
    for (const auto& [k, v] : j["parts"].items())
      if (!v.is_object()) fail_corrupt("{}: corrupt model file header (part '{}' is not an object)", path, k);
  }
  return j;
}

size_t padded(size_t n) { return (n + ModelFile::kAlignment - 1) / ModelFile::kAlignment * ModelFile::kAlignment; }

}  // namespace

const char* tensor_dtype_name(TensorDType t) {
  switch (t) {
    case TensorDType::F32: return "float32";
    case TensorDType::F16: return "float16";
    case TensorDType::BF16: return "bfloat16";
    case TensorDType::I64: return "int64";
    case TensorDType::I32: return "int32";
    case TensorDType::U8: return "uint8";
  }
  return "?";
}

TensorDType tensor_dtype_from_name(const std::string& d, const std::string& where) {
  for (auto t : {TensorDType::F32, TensorDType::F16, TensorDType::BF16, TensorDType::I64, TensorDType::I32, TensorDType::U8})
    if (d == tensor_dtype_name(t)) return t;
  fail_corrupt("{}: unsupported tensor dtype '{}'", where, d);
}

size_t tensor_dtype_size(TensorDType t) {
  switch (t) {
    case TensorDType::F32: case TensorDType::I32: return 4;
    case TensorDType::F16: case TensorDType::BF16: return 2;
    case TensorDType::I64: return 8;
    case TensorDType::U8: return 1;
  }
  return 0;
}

int64_t StoredTensor::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

const StoredTensor* ModelFile::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

nlohmann::json ModelFile::read_meta(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io("{}: cannot open model file: {}", path, std::strerror(errno));
  uint8_t pre[kPrefix] = {};
  in.read(reinterpret_cast<char*>(pre), kPrefix);
  Header h = parse_prefix(pre, static_cast<size_t>(in.gcount()), path);
  in.clear();
  in.seekg(0, std::ios::end);
  auto size = static_cast<uint64_t>(std::max<std::streamoff>(0, in.tellg()));
  if (h.json_begin + h.json_len > size) fail_corrupt("{}: truncated model file header", path);
  std::vector<uint8_t> text(h.json_len);
  in.seekg(static_cast<std::streamoff>(h.json_begin));
  if (!in.read(reinterpret_cast<char*>(text.data()), static_cast<std::streamsize>(h.json_len)))
    fail_corrupt("{}: truncated model file header", path);
  auto j = parse_json(text.data(), text.size(), path);
  j.erase("tensors");
  j.erase("checksum");
  j.erase("data_bytes");
  return j;
}

ModelFile ModelFile::read(const std::string& path) {
  auto map = map_file(path);
  return parse(map->data, map->size, map, path);
}

ModelFile ModelFile::from_bytes(std::string bytes, const std::string& name) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  return parse(reinterpret_cast<const uint8_t*>(owned->data()), owned->size(), owned, name);
}

ModelFile ModelFile::parse(const uint8_t* p, size_t n, std::shared_ptr<const void> keep, const std::string& path) {
  Header hd = parse_prefix(p, n, path);
  if (hd.json_begin + hd.json_len > n) fail_corrupt("{}: truncated model file header", path);
  nlohmann::json h = parse_json(p + hd.json_begin, hd.json_len, path);
  ModelFile mf;
  mf.format_ = static_cast<int>(hd.version);
  uint64_t hash = kFnvOffset;
  try {
    size_t pos = hd.json_begin + hd.json_len;                       // format 1: tensors follow back to back
    size_t data_start = hd.version == 2 ? padded(pos) : pos;        // format 2: offsets from the aligned data start
    for (const auto& t : h.at("tensors")) {
      StoredTensor st;
      st.name = t.at("name").get<std::string>();
      st.dtype = tensor_dtype_from_name(t.at("dtype").get<std::string>(), path);
      std::string where = fmt::format("{}: tensor '{}'", path, st.name);
      st.shape = json_integers<int64_t>(t.at("shape"), where + ": shape");
      uint64_t numel = 1;
      for (auto d : st.shape) {
        if (d < 0 || (d > 0 && numel > (1ull << 40) / static_cast<uint64_t>(d)))
          fail_corrupt("{}: tensor '{}' has an impossible shape", path, st.name);
        numel *= static_cast<uint64_t>(d);
      }
      size_t nbytes = numel * tensor_dtype_size(st.dtype);
      size_t at = pos;
      if (hd.version == 2) {
        auto off = json_integer<uint64_t>(t.at("offset"), where + ": offset");
        if (json_integer<uint64_t>(t.at("nbytes"), where + ": nbytes") != nbytes) fail_corrupt("{}: tensor '{}': nbytes does not match its shape", path, st.name);
        if (off % kAlignment) fail_corrupt("{}: tensor '{}' is not aligned to {} bytes", path, st.name, kAlignment);
        if (off > n) fail_corrupt("{}: truncated model file (tensor '{}')", path, st.name);
        at = data_start + off;
      }
      if (at > n || nbytes > n - at) fail_corrupt("{}: truncated model file (tensor '{}')", path, st.name);
      std::span<const uint8_t> bytes(p + at, nbytes);
      hash = fnv1a(bytes.data(), bytes.size(), hash);
      if (hd.version == 2) st.set_view(bytes);
      else st.set_bytes({bytes.begin(), bytes.end()});
      pos = at + nbytes;
      mf.tensors.push_back(std::move(st));
    }
    if (h.at("checksum").get<std::string>() != fmt::format("{:016x}", hash))
      fail_corrupt("{}: corrupt model file (checksum mismatch)", path);
    if (!h.contains("architecture") || !h.contains("config"))
      fail_corrupt("{}: model file lacks 'architecture' or 'config'", path);
  } catch (const nlohmann::json::exception& e) {
    fail_corrupt("{}: corrupt model file header ({})", path, e.what());
  }
  h.erase("tensors");
  h.erase("checksum");
  h.erase("data_bytes");
  mf.meta = std::move(h);
  if (mf.format_ == 2) mf.map_ = std::move(keep);
  return mf;
}

void ModelFile::write(const std::string& path) const {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail_io("{}: cannot write model file: {}", tmp, std::strerror(errno));
    write_to(out, path);
    if (!out.flush()) fail_io("{}: write failed (disk full?)", tmp);
  }
  std::filesystem::rename(tmp, path);
}

std::string ModelFile::to_bytes() const {
  std::ostringstream out(std::ios::binary);
  write_to(out, "(in memory)");
  return std::move(out).str();
}

namespace {
struct KindInfo {
  ModelKind kind;
  const char* name;
  const char* what;
};
constexpr KindInfo kKinds[] = {
    {ModelKind::Model, "model", "an encoder or transformer: --model"},
    {ModelKind::Codecs, "codecs", "modality tokenizers: --codecs"},
    {ModelKind::Probe, "probe", "a saved probe: --probe, astrofm probe predict"},
    {ModelKind::Photoz, "photoz", "a photo-z estimator: astrofm photoz predict --model"},
    {ModelKind::Bundle, "bundle", "AION with its codecs: --model"},
};
const KindInfo& kind_info(ModelKind k) {
  for (const auto& i : kKinds)
    if (i.kind == k) return i;
  ASTROFM_ASSERT(false, "model kind {} has no table entry", static_cast<int>(k));
  return kKinds[0];
}
}  // namespace

const char* model_kind_name(ModelKind k) { return kind_info(k).name; }

ModelKind model_kind(const nlohmann::json& meta, const std::string& where) {
  if (!meta.is_object()) fail_corrupt("{}: model file header is not a JSON object", where);
  auto it = meta.find("kind");
  if (it != meta.end()) {
    if (it->is_string())
      for (const auto& i : kKinds)
        if (*it == i.name) return i.kind;
    fail_corrupt("{}: model file kind {} is none of model, codecs, probe, photoz, bundle", where, it->dump());
  }
  auto arch = meta.find("architecture");
  if (arch != meta.end() && arch->is_string()) {
    if (*arch == "codecs") return ModelKind::Codecs;
    if (*arch == "probe") return ModelKind::Probe;
    if (*arch == "photoz") return ModelKind::Photoz;
  }
  if (meta.contains("modality")) return ModelKind::Codecs;  // one codec written on its own
  return ModelKind::Model;
}

ModelKind require_model_kind(const nlohmann::json& meta, std::initializer_list<ModelKind> want, const std::string& where) {
  ModelKind k = model_kind(meta, where);
  for (ModelKind w : want)
    if (k == w) return k;
  std::vector<std::string> names;
  for (ModelKind w : want) names.push_back(model_kind_name(w));
  fail_input("{}: a {} file ({}), not a {}", where, kind_info(k).name, kind_info(k).what, fmt::join(names, " or "));
}

void ModelFile::write_to(std::ostream& out, const std::string& path) const {
  nlohmann::json h = meta;
  h["kind"] = model_kind_name(model_kind(meta, path));
  h["format"] = kFormatVersion;
  if (!h.contains("astrofm_version")) h["astrofm_version"] = ASTROFM_VERSION;
  h["tensors"] = nlohmann::json::array();
  uint64_t hash = kFnvOffset;
  size_t off = 0;
  for (const auto& t : tensors) {
    auto b = t.bytes();
    if (b.size() != static_cast<size_t>(t.numel()) * tensor_dtype_size(t.dtype))
      fail_usage("model file {}: tensor '{}' holds {} bytes, its shape needs {}", path, t.name, b.size(),
                 t.numel() * tensor_dtype_size(t.dtype));
    h["tensors"].push_back({{"name", t.name}, {"dtype", tensor_dtype_name(t.dtype)}, {"shape", t.shape}, {"offset", off}, {"nbytes", b.size()}});
    hash = fnv1a(b.data(), b.size(), hash);
    off = padded(off + b.size());
  }
  h["data_bytes"] = off;
  h["checksum"] = fmt::format("{:016x}", hash);
  std::string text = h.dump();
  {
    out.write(kMagic, 8);
    put<uint32_t>(out, kFormatVersion);
    put<uint32_t>(out, 0);
    put<uint64_t>(out, text.size());
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    static const char zeros[kAlignment] = {};
    size_t pos = kPrefix + text.size();
    out.write(zeros, static_cast<std::streamsize>(padded(pos) - pos));
    for (const auto& t : tensors) {
      auto b = t.bytes();
      out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
      out.write(zeros, static_cast<std::streamsize>(padded(b.size()) - b.size()));
    }
  }
}

std::vector<std::string> ModelFile::parts() const {
  std::vector<std::string> out;
  if (meta.contains("parts"))
    for (const auto& [k, v] : meta["parts"].items()) out.push_back(k);
  return out;
}

ModelFile ModelFile::part(const std::string& prefix) const {
  if (!meta.contains("parts") || !meta["parts"].contains(prefix))
    fail_not_found("model file has no part '{}' (parts: {})", prefix, fmt::join(parts(), ", "));
  ModelFile m;
  m.meta = meta["parts"][prefix];
  m.map_ = map_;
  m.format_ = format_;
  std::string pre = prefix + ".";
  for (const auto& t : tensors)
    if (t.name.rfind(pre, 0) == 0) {
      StoredTensor c = t;
      c.name = t.name.substr(pre.size());
      m.tensors.push_back(std::move(c));
    }
  return m;
}

void ModelFile::add_part(const std::string& prefix, const ModelFile& m) {
  if (prefix.empty() || prefix.find('.') != std::string::npos) fail_usage("a model part prefix must be a non-empty name without '.', got '{}'", prefix);
  if (meta.contains("parts") && meta["parts"].contains(prefix)) fail_usage("model file already has a part '{}'", prefix);
  meta["parts"][prefix] = m.meta;
  for (const auto& t : m.tensors) {
    StoredTensor c;
    c.name = prefix + "." + t.name;
    c.dtype = t.dtype;
    c.shape = t.shape;
    auto b = t.bytes();
    c.set_bytes({b.begin(), b.end()});
    tensors.push_back(std::move(c));
  }
  if (m.map_ && !map_) map_ = m.map_;
}

}  // namespace astrofm
