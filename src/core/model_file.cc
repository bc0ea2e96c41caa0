#include "astrofm/hash.h"
#include "astrofm/model_file.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "astrofm/config.h"
#include "astrofm/error.h"

namespace astrofm {
namespace {

constexpr char kMagic[8] = {'A', 'S', 'T', 'R', 'O', 'F', 'M', '\0'};

size_t dtype_bytes(const std::string& d, const std::string& where) {
  if (d == "float32") return 4;
  if (d == "int64") return 8;
  fail_input("{}: unsupported tensor dtype '{}'", where, d);
}

template <class T> void put(std::ostream& o, T v) { o.write(reinterpret_cast<const char*>(&v), sizeof v); }
template <class T> bool get(std::istream& i, T& v) { return static_cast<bool>(i.read(reinterpret_cast<char*>(&v), sizeof v)); }

nlohmann::json read_header(std::ifstream& in, const std::string& path) {
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) fail_input("{}: not an astrofm model file (bad magic)", path);
  uint32_t version = 0;
  uint64_t len = 0;
  if (!get(in, version) || !get(in, len)) fail_input("{}: truncated model file header", path);
  if (version != ModelFile::kFormatVersion)
    fail_input("{}: model file format {} but this astrofm ({}) reads format {}", path, version, ASTROFM_VERSION, ModelFile::kFormatVersion);
  if (len > (1u << 30)) fail_input("{}: corrupt model file header (length {})", path, len);
  std::string text(len, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(len))) fail_input("{}: truncated model file header", path);
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail_input("{}: corrupt model file header ({})", path, e.what());
  }
}

}  // namespace

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
  if (!in) fail_input("{}: cannot open model file", path);
  auto h = read_header(in, path);
  h.erase("tensors");
  h.erase("checksum");
  return h;
}

ModelFile ModelFile::read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input("{}: cannot open model file", path);
  nlohmann::json h = read_header(in, path);
  ModelFile mf;
  uint64_t hash = kFnvOffset;
  try {
    for (const auto& t : h.at("tensors")) {
      StoredTensor st;
      st.name = t.at("name").get<std::string>();
      st.dtype = t.at("dtype").get<std::string>();
      st.shape = t.at("shape").get<std::vector<int64_t>>();
      for (auto d : st.shape)
        if (d < 0) fail_input("{}: tensor '{}' has a negative dimension", path, st.name);
      size_t n = static_cast<size_t>(st.numel()) * dtype_bytes(st.dtype, path);
      st.bytes.resize(n);
      if (n && !in.read(reinterpret_cast<char*>(st.bytes.data()), static_cast<std::streamsize>(n)))
        fail_input("{}: truncated model file (tensor '{}')", path, st.name);
      hash = fnv1a(st.bytes.data(), n, hash);
      mf.tensors.push_back(std::move(st));
    }
    if (h.at("checksum").get<std::string>() != fmt::format("{:016x}", hash))
      fail_input("{}: corrupt model file (checksum mismatch)", path);
    if (!h.contains("architecture") || !h.contains("config"))
      fail_input("{}: model file lacks 'architecture' or 'config'", path);
  } catch (const nlohmann::json::exception& e) {
    fail_input("{}: corrupt model file header ({})", path, e.what());
  }
  h.erase("tensors");
  h.erase("checksum");
  mf.meta = std::move(h);
  return mf;
}

void ModelFile::write(const std::string& path) const {
  nlohmann::json h = meta;
  h["format"] = kFormatVersion;
  if (!h.contains("astrofm_version")) h["astrofm_version"] = ASTROFM_VERSION;
  h["tensors"] = nlohmann::json::array();
  uint64_t hash = kFnvOffset;
  for (const auto& t : tensors) {
    h["tensors"].push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}});
    hash = fnv1a(t.bytes.data(), t.bytes.size(), hash);
  }
  h["checksum"] = fmt::format("{:016x}", hash);
  std::string text = h.dump();
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail_input("{}: cannot write model file", tmp);
    out.write(kMagic, 8);
    put<uint32_t>(out, kFormatVersion);
    put<uint64_t>(out, text.size());
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
    if (!out.flush()) fail_input("{}: write failed (disk full?)", tmp);
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace astrofm
