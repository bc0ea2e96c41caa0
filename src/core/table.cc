#include "astrofm/table.h"

#include <fmt/format.h>

namespace astrofm {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: case DType::Int32: case DType::UInt32: return 4;
    case DType::Float64: case DType::Int64: case DType::UInt64: return 8;
    case DType::Int16: case DType::UInt16: return 2;
    case DType::Int8: case DType::UInt8: case DType::Bool: return 1;
    case DType::String: return 0;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int8: return "int8";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::UInt16: return "uint16";
    case DType::UInt32: return "uint32";
    case DType::UInt64: return "uint64";
    case DType::Bool: return "bool";
    case DType::String: return "string";
  }
  return "?";
}

bool dtype_is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }
bool dtype_is_integer(DType t) { return !dtype_is_float(t) && t != DType::Bool && t != DType::String; }

Column::Column(std::string n, DType t, std::vector<int64_t> s, int64_t r)
    : name(std::move(n)), dtype(t), shape(std::move(s)) {
  resize(r);
}

int64_t Column::row_elems() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

void Column::resize(int64_t new_rows) {
  rows = new_rows;
  if (dtype == DType::String)
    strings.resize(rows * row_elems());
  else
    data.resize(rows * row_bytes());
}

std::string Column::describe() const {
  std::string s = dtype_name(dtype);
  if (!shape.empty()) s += "[" + fmt::format("{}", fmt::join(shape, ",")) + "]";
  return s;
}

void Column::check_type(DType want) const {
  if (want != dtype)
    fail_input("column '{}' has dtype {}, expected {}", name, dtype_name(dtype), dtype_name(want));
}

double Column::as_double(int64_t i) const {
  const uint8_t* p = data.data() + i * dtype_size(dtype);
  switch (dtype) {
    case DType::Float32: return *reinterpret_cast<const float*>(p);
    case DType::Float64: return *reinterpret_cast<const double*>(p);
    case DType::Int8: return *reinterpret_cast<const int8_t*>(p);
    case DType::Int16: return *reinterpret_cast<const int16_t*>(p);
    case DType::Int32: return *reinterpret_cast<const int32_t*>(p);
    case DType::Int64: return static_cast<double>(*reinterpret_cast<const int64_t*>(p));
    case DType::UInt8: case DType::Bool: return *p;
    case DType::UInt16: return *reinterpret_cast<const uint16_t*>(p);
    case DType::UInt32: return *reinterpret_cast<const uint32_t*>(p);
    case DType::UInt64: return static_cast<double>(*reinterpret_cast<const uint64_t*>(p));
    case DType::String: break;
  }
  fail_input("column '{}' holds strings, not numbers", name);
}

int64_t Column::as_int64(int64_t i) const {
  const uint8_t* p = data.data() + i * dtype_size(dtype);
  switch (dtype) {
    case DType::Int8: return *reinterpret_cast<const int8_t*>(p);
    case DType::Int16: return *reinterpret_cast<const int16_t*>(p);
    case DType::Int32: return *reinterpret_cast<const int32_t*>(p);
    case DType::Int64: return *reinterpret_cast<const int64_t*>(p);
    case DType::UInt8: case DType::Bool: return *p;
    case DType::UInt16: return *reinterpret_cast<const uint16_t*>(p);
    case DType::UInt32: return *reinterpret_cast<const uint32_t*>(p);
    case DType::UInt64: return static_cast<int64_t>(*reinterpret_cast<const uint64_t*>(p));
    default: break;
  }
  fail_input("column '{}' holds {}, not integers", name, dtype_name(dtype));
}

void Column::append_rows(const Column& src, int64_t begin, int64_t count) {
  if (!same_layout(src))
    fail_input("column '{}': cannot append {} rows to {}", name, src.describe(), describe());
  int64_t old = rows;
  resize(rows + count);
  if (dtype == DType::String) {
    int64_t per = row_elems();
    std::copy(src.strings.begin() + begin * per, src.strings.begin() + (begin + count) * per,
              strings.begin() + old * per);
  } else if (count > 0 && row_bytes() > 0) {
    std::memcpy(data.data() + old * row_bytes(), src.data.data() + begin * row_bytes(), count * row_bytes());
  }
}

Column Column::take(const std::vector<int64_t>& idx) const {
  Column out(name, dtype, shape, 0);
  out.resize(static_cast<int64_t>(idx.size()));
  int64_t per = row_elems();
  size_t rb = row_bytes();
  for (size_t i = 0; i < idx.size(); ++i) {
    if (dtype == DType::String)
      std::copy(strings.begin() + idx[i] * per, strings.begin() + (idx[i] + 1) * per, out.strings.begin() + i * per);
    else if (rb > 0)
      std::memcpy(out.data.data() + i * rb, data.data() + idx[i] * rb, rb);
  }
  return out;
}

Column make_string_column(std::string name, std::vector<std::string> values, std::vector<int64_t> shape) {
  Column c(std::move(name), DType::String, std::move(shape), 0);
  c.rows = static_cast<int64_t>(values.size()) / c.row_elems();
  c.strings = std::move(values);
  return c;
}

Column& Table::add(Column c) {
  if (!columns_.empty() && c.rows != rows())
    fail_input("column '{}' has {} rows, the table has {}", c.name, c.rows, rows());
  if (Column* old = find(c.name)) {
    *old = std::move(c);
    return *old;
  }
  columns_.push_back(std::move(c));
  return columns_.back();
}

const Column* Table::find(const std::string& name) const {
  for (const auto& c : columns_)
    if (c.name == name) return &c;
  return nullptr;
}

Column* Table::find(const std::string& name) {
  for (auto& c : columns_)
    if (c.name == name) return &c;
  return nullptr;
}

const Column& Table::at(const std::string& name) const {
  if (const Column* c = find(name)) return *c;
  fail_input("no column '{}' (have: {})", name, fmt::join(names(), ", "));
}

Column& Table::at(const std::string& name) {
  if (Column* c = find(name)) return *c;
  fail_input("no column '{}' (have: {})", name, fmt::join(names(), ", "));
}

void Table::remove(const std::string& name) {
  std::erase_if(columns_, [&](const Column& c) { return c.name == name; });
}

std::vector<std::string> Table::names() const {
  std::vector<std::string> out;
  for (const auto& c : columns_) out.push_back(c.name);
  return out;
}

Table Table::take(const std::vector<int64_t>& idx) const {
  Table t;
  for (const auto& c : columns_) t.columns_.push_back(c.take(idx));
  return t;
}

Table Table::slice(int64_t begin, int64_t count) const {
  Table t;
  for (const auto& c : columns_) {
    Column out(c.name, c.dtype, c.shape, 0);
    out.append_rows(c, begin, count);
    t.columns_.push_back(std::move(out));
  }
  return t;
}

void Table::reserve(int64_t rows) {
  for (auto& c : columns_) {
    if (c.dtype == DType::String) c.strings.reserve(static_cast<size_t>(rows * c.row_elems()));
    else c.data.reserve(static_cast<size_t>(rows) * c.row_bytes());
  }
}

void Table::append(const Table& other) {
  if (columns_.empty()) {
    *this = other;
    return;
  }
  if (other.columns_.size() != columns_.size())
    fail_input("cannot append a batch with columns [{}] to [{}]", fmt::join(other.names(), ", "),
               fmt::join(names(), ", "));
  for (auto& c : columns_) c.append_rows(other.at(c.name), 0, other.rows());
}

}  // namespace astrofm
