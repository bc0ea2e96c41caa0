#include "astrofm/npy.h"

#include <cstring>
#include <limits>

#include "astrofm/error.h"

namespace astrofm {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMaxHeader = 1 << 16;

// The value text of `'key': value` in the header dict.
std::string_view field(std::string_view h, std::string_view key, const std::string& where) {
  std::string quoted = "'" + std::string(key) + "'";
  size_t k = h.find(quoted);
  if (k == std::string_view::npos) fail_input("{}: .npy header has no '{}'", where, key);
  size_t c = h.find(':', k + quoted.size());
  if (c == std::string_view::npos) fail_input("{}: .npy header: no value for '{}'", where, key);
  size_t s = c + 1;
  while (s < h.size() && h[s] == ' ') ++s;
  size_t e = s;
  if (s < h.size() && h[s] == '(') e = h.find(')', s);
  else if (s < h.size() && (h[s] == '\'' || h[s] == '"')) e = h.find(h[s], s + 1);
  else
    while (e < h.size() && h[e] != ',' && h[e] != '}') ++e;
  if (e == std::string_view::npos) fail_input("{}: .npy header: unterminated value of '{}'", where, key);
  if (s < h.size() && (h[s] == '(' || h[s] == '\'' || h[s] == '"')) ++e;
  return h.substr(s, e - s);
}

DType dtype_of_descr(std::string_view d, const std::string& where) {
  if (d.size() < 4 || (d.front() != '\'' && d.front() != '"')) fail_input("{}: .npy descr {} is not a simple dtype", where, d);
  std::string_view t = d.substr(1, d.size() - 2);
  if (t.size() >= 2 && t[0] == '>' && t.substr(1) != "u1" && t.substr(1) != "i1" && t.substr(1) != "b1")
    fail_input("{}: .npy descr '{}' is big-endian; save little-endian arrays (arr.astype('<f4'))", where, t);
  if (!t.empty() && (t[0] == '<' || t[0] == '|' || t[0] == '=' || t[0] == '>')) t.remove_prefix(1);
  static const std::pair<const char*, DType> kTypes[] = {{"f4", DType::Float32}, {"f8", DType::Float64}, {"i1", DType::Int8},
                                                         {"i2", DType::Int16},   {"i4", DType::Int32},   {"i8", DType::Int64},
                                                         {"u1", DType::UInt8},   {"u2", DType::UInt16},  {"u4", DType::UInt32},
                                                         {"u8", DType::UInt64},  {"b1", DType::Bool}};
  for (const auto& [n, dt] : kTypes)
    if (t == n) return dt;
  fail_input("{}: .npy dtype '{}' is not supported (float32/64, int8-64, uint8-64, bool)", where, t);
}

}  // namespace

Column parse_npy(std::string_view b, const std::string& name, const std::string& where) {
  if (b.size() < 10 || std::memcmp(b.data(), kMagic, 6) != 0) fail_input("{}: not a .npy array (bad magic)", where);
  uint8_t major = static_cast<uint8_t>(b[6]);
  size_t hlen = 0, off = 0;
  if (major == 1) {
    hlen = static_cast<uint8_t>(b[8]) | static_cast<size_t>(static_cast<uint8_t>(b[9])) << 8;
    off = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) fail_input("{}: .npy header truncated", where);
    for (int i = 0; i < 4; ++i) hlen |= static_cast<size_t>(static_cast<uint8_t>(b[8 + i])) << (8 * i);
    off = 12;
  } else {
    fail_input("{}: .npy version {} is not supported (1-3)", where, major);
  }
  if (hlen > kMaxHeader || off + hlen > b.size()) fail_input("{}: .npy header of {} bytes does not fit the {} bytes sent", where, hlen, b.size());
  std::string_view h = b.substr(off, hlen);
  DType dt = dtype_of_descr(field(h, "descr", where), where);
  std::string_view fo = field(h, "fortran_order", where);
  if (fo != "False") fail_input("{}: .npy fortran_order {} is not supported; send a C-ordered array (np.ascontiguousarray)", where, fo);
  std::string_view sh = field(h, "shape", where);
  if (sh.size() < 2 || sh.front() != '(' || sh.back() != ')') fail_input("{}: .npy shape {} is not a tuple", where, sh);
  std::vector<int64_t> shape;
  std::string_view in = sh.substr(1, sh.size() - 2);
  size_t p = 0;
  while (p < in.size()) {
    while (p < in.size() && (in[p] == ' ' || in[p] == ',')) ++p;
    if (p >= in.size()) break;
    size_t q = p;
    uint64_t v = 0;
    while (q < in.size() && in[q] >= '0' && in[q] <= '9') {
      v = v * 10 + static_cast<uint64_t>(in[q] - '0');
      if (v > (uint64_t{1} << 40)) fail_input("{}: .npy shape {} is too large", where, sh);
      ++q;
    }
    if (q == p) fail_input("{}: .npy shape {} is not a tuple of integers", where, sh);
    shape.push_back(static_cast<int64_t>(v));
    p = q;
  }
  if (shape.empty()) fail_input("{}: a 0-d .npy array has no rows; send an array whose first axis is the objects", where);
  for (int64_t d : shape)
    if (d == 0) fail_input("{}: .npy shape {} has an empty axis", where, sh);
  if (shape.size() > 8) fail_input("{}: .npy shape {} has more than 8 axes", where, sh);
  uint64_t elems = 1;
  for (int64_t d : shape) {
    if (d != 0 && elems > std::numeric_limits<uint64_t>::max() / 16 / static_cast<uint64_t>(d))
      fail_input("{}: .npy shape {} is too large", where, sh);
    elems *= static_cast<uint64_t>(d);
  }
  size_t data_off = off + hlen;
  uint64_t want = elems * dtype_size(dt);
  if (b.size() - data_off != want)
    fail_input("{}: .npy shape {} of {} needs {} bytes of data, {} were sent", where, sh, dtype_name(dt), want, b.size() - data_off);
  Column c(name, dt, std::vector<int64_t>(shape.begin() + 1, shape.end()), 0);
  c.resize(shape[0]);
  if (want) std::memcpy(c.data.data(), b.data() + data_off, want);
  if (dt == DType::Bool)
    for (auto& v : c.data) v = v ? 1 : 0;
  return c;
}

std::string npy_bytes(const float* data, const std::vector<int64_t>& shape) {
  std::string dims;
  int64_t n = 1;
  for (int64_t d : shape) dims += std::to_string(d) + ",", n *= d;
  if (shape.size() > 1) dims.pop_back();
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so that the data starts at a multiple of 64, newline last.
  size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  out += h;
  out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n) * 4);
  return out;
}

}  // namespace astrofm
