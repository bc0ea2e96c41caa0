#include "astrofm/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "astrofm/error.h"
#include "astrofm/strict_json.h"
#include "core/mapped_file.h"

namespace astrofm {
namespace {

// Larger headers than any real model's (AION-XL's is ~100 kB) are refused
// before parsing; the reference reader's limit is the same order.
constexpr uint64_t kMaxHeader = 100ull << 20;

struct Dtype {
  const char* name;
  TensorDType stored;
  size_t file_size;  // bytes per element in the file
};
constexpr Dtype kDtypes[] = {
    {"F32", TensorDType::F32, 4}, {"F16", TensorDType::F16, 2}, {"BF16", TensorDType::BF16, 2}, {"I64", TensorDType::I64, 8},
    {"I32", TensorDType::I32, 4}, {"U8", TensorDType::U8, 1},   {"BOOL", TensorDType::U8, 1},   {"F64", TensorDType::F32, 8},
};

const Dtype* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

struct Entry {
  std::string name;
  const Dtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

}  // namespace

bool is_safetensors_file(const std::string& path) { return path.ends_with(".safetensors") || looks_like_safetensors(path); }

bool looks_like_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t b[9] = {};
  if (!in.read(reinterpret_cast<char*>(b), 9)) return false;
  uint64_t n = 0;
  std::memcpy(&n, b, 8);
  return n >= 2 && n <= kMaxHeader && b[8] == '{';
}

ModelFile read_safetensors(const std::string& path) {
  auto map = map_file(path, "safetensors file");
  const uint8_t* p = map->data;
  const size_t size = map->size;
  if (size < 8) fail_corrupt("{}: truncated safetensors file ({} bytes: no header length)", path, size);
  uint64_t hlen = 0;
  std::memcpy(&hlen, p, 8);
  if (hlen > kMaxHeader) fail_corrupt("{}: safetensors header length {} is beyond the {} byte limit", path, hlen, kMaxHeader);
  if (hlen > size - 8) fail_corrupt("{}: truncated safetensors file: the header claims {} bytes, the file has {} after the length", path, hlen, size - 8);
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(p + 8, p + 8 + hlen);
  } catch (const std::exception& e) {
    fail_corrupt("{}: corrupt safetensors header: {}", path, e.what());
  }
  if (!h.is_object()) fail_corrupt("{}: corrupt safetensors header: not a JSON object", path);
  const uint64_t data_size = size - 8 - hlen;
  const uint8_t* data = p + 8 + hlen;

  nlohmann::json metadata = nlohmann::json::object();
  std::vector<Entry> entries;
  for (const auto& [name, v] : h.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail_corrupt("{}: __metadata__ is not an object", path);
      for (const auto& [k, s] : v.items())
        if (!s.is_string()) fail_corrupt("{}: __metadata__ '{}' is not a string", path, k);
      metadata = v;
      continue;
    }
    const std::string where = fmt::format("{}: tensor '{}'", path, name);
    if (!v.is_object()) fail_corrupt("{}: not an object in the header", where);
    for (const char* f : {"dtype", "shape", "data_offsets"})
      if (!v.contains(f)) fail_corrupt("{}: no '{}' field", where, f);
    if (!v["dtype"].is_string()) fail_corrupt("{}: dtype is not a string", where);
    Entry e;
    e.name = name;
    e.dtype = find_dtype(v["dtype"].get<std::string>());
    if (!e.dtype)
      fail_corrupt("{}: dtype '{}' is not one astrofm reads (F32, F16, BF16, F64, I64, I32, U8, BOOL)", where, v["dtype"].get<std::string>());
    e.shape = json_integers<int64_t>(v["shape"], where + ": shape");
    uint64_t numel = 1;
    for (auto d : e.shape) {
      if (d < 0 || (d > 0 && numel > (1ull << 42) / static_cast<uint64_t>(d))) fail_corrupt("{}: impossible shape {}", where, v["shape"].dump());
      numel *= static_cast<uint64_t>(d);
    }
    auto off = json_integers<uint64_t>(v["data_offsets"], where + ": data_offsets");
    if (off.size() != 2) fail_corrupt("{}: data_offsets must be [begin, end], got {} numbers", where, off.size());
    e.begin = off[0], e.end = off[1];
    if (e.begin > e.end || e.end > data_size)
      fail_corrupt("{}: data_offsets [{}, {}] run past the {} data bytes of the file", where, e.begin, e.end, data_size);
    if (e.end - e.begin != numel * e.dtype->file_size)
      fail_corrupt("{}: data_offsets span {} bytes, but {} of shape [{}] needs {}", where, e.end - e.begin, e.dtype->name,
                   fmt::join(e.shape, ", "), numel * e.dtype->file_size);
    entries.push_back(std::move(e));
  }
  // No two tensors may share bytes (a header that aliases data is refused, as the reference reader does).
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      fail_corrupt("{}: tensors '{}' (bytes {}..{}) and '{}' (bytes {}..{}) overlap", path, by_offset[i - 1]->name, by_offset[i - 1]->begin,
                   by_offset[i - 1]->end, by_offset[i]->name, by_offset[i]->begin, by_offset[i]->end);

  ModelFile mf;
  mf.map_ = map;
  for (const auto& e : entries) {
    StoredTensor t;
    t.name = e.name;
    t.dtype = e.dtype->stored;
    t.shape = e.shape;
    std::span<const uint8_t> bytes(data + e.begin, e.end - e.begin);
    if (std::string(e.dtype->name) == "F64") {
      std::vector<uint8_t> narrowed(bytes.size() / 2);
      for (size_t i = 0; i < bytes.size() / 8; ++i) {
        double d;
        std::memcpy(&d, bytes.data() + 8 * i, 8);
        float f = static_cast<float>(d);
        std::memcpy(narrowed.data() + 4 * i, &f, 4);
      }
      t.set_bytes(std::move(narrowed));
    } else {
      t.set_view(bytes);
    }
    mf.tensors.push_back(std::move(t));
  }
  // safetensors' torch writer stores a shared tensor once and lists each
  // dropped name in the metadata as {dropped: kept}.
  nlohmann::json aliases = nlohmann::json::object();
  for (const auto& [alias, target] : metadata.items()) {
    const std::string kept = target.get<std::string>();
    if (mf.find(alias) || !mf.find(kept)) continue;
    StoredTensor t = *mf.find(kept);
    t.name = alias;
    mf.tensors.push_back(std::move(t));
    aliases[alias] = kept;
  }
  mf.meta = {{"format", "safetensors"}, {"metadata", metadata}, {"aliases", aliases}};
  return mf;
}

}  // namespace astrofm
