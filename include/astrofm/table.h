#pragma once
// In-memory batches of rows: named, typed columns whose first axis is the
// object. This is what readers yield, writers take and importers build.
// Thread-safety: value types; concurrent reads of one Table are safe, writes need the caller to
// serialise.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "astrofm/error.h"

namespace astrofm {

enum class DType : uint8_t { Float32, Float64, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Bool, String };

size_t dtype_size(DType t);  // 0 for String
// numpy-style names ("float32", "bool", "string").
const char* dtype_name(DType t);
bool dtype_is_float(DType t);
bool dtype_is_integer(DType t);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int8_t>() { return DType::Int8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::Int16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::UInt16; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::UInt32; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::UInt64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

// A column: `rows` rows, each of shape `shape` (empty = scalar). Numbers and
// bools live in `data` (bool as one byte 0/1); strings in `strings`.
struct Column {
  std::string name;
  DType dtype = DType::Float64;
  std::vector<int64_t> shape;
  int64_t rows = 0;
  std::vector<uint8_t> data;
  std::vector<std::string> strings;

  Column() = default;
  Column(std::string n, DType t, std::vector<int64_t> s = {}, int64_t r = 0);

  int64_t row_elems() const;
  size_t row_bytes() const { return row_elems() * dtype_size(dtype); }
  void resize(int64_t new_rows);
  bool same_layout(const Column& o) const { return dtype == o.dtype && shape == o.shape; }
  std::string describe() const;  // "float32[3,64,64]"

  template <class T> T* ptr() {
    check_type(dtype_of<T>());
    return reinterpret_cast<T*>(data.data());
  }
  template <class T> const T* ptr() const {
    check_type(dtype_of<T>());
    return reinterpret_cast<const T*>(data.data());
  }
  template <class T> std::span<T> values() { return {ptr<T>(), static_cast<size_t>(rows * row_elems())}; }
  template <class T> std::span<const T> values() const {
    return {ptr<T>(), static_cast<size_t>(rows * row_elems())};
  }
  // Any numeric column read as double (for scalar catalogue columns).
  double as_double(int64_t flat_index) const;
  // Any integer column read exactly (18-digit survey ids do not fit a double).
  int64_t as_int64(int64_t flat_index) const;

  // Appends rows [begin, begin+count) of `src`, which must have the same layout.
  void append_rows(const Column& src, int64_t begin, int64_t count);
  Column take(const std::vector<int64_t>& idx) const;

 private:
  void check_type(DType want) const;
};

template <class T>
Column make_column(std::string name, const std::vector<T>& values, std::vector<int64_t> shape = {}) {
  Column c(std::move(name), dtype_of<T>(), std::move(shape), 0);
  int64_t per = c.row_elems();
  c.resize(static_cast<int64_t>(values.size()) / per);
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < values.size(); ++i) c.data[i] = values[i] ? 1 : 0;
  } else {
    if (!values.empty()) std::memcpy(c.data.data(), values.data(), values.size() * sizeof(T));
  }
  return c;
}
Column make_string_column(std::string name, std::vector<std::string> values, std::vector<int64_t> shape = {});

class Table {
 public:
  int64_t rows() const { return columns_.empty() ? 0 : columns_.front().rows; }
  // Adds a column; its row count must match the others.
  Column& add(Column c);
  bool has(const std::string& name) const { return find(name) != nullptr; }
  const Column* find(const std::string& name) const;
  Column* find(const std::string& name);
  // Throws InputError naming the column when missing.
  const Column& at(const std::string& name) const;
  Column& at(const std::string& name);
  void remove(const std::string& name);
  std::vector<Column>& columns() { return columns_; }
  const std::vector<Column>& columns() const { return columns_; }
  std::vector<std::string> names() const;

  Table take(const std::vector<int64_t>& idx) const;
  Table slice(int64_t begin, int64_t count) const;
  // Appends all rows of `other`, which must have the same columns and layouts.
  void append(const Table& other);
  void clear() { columns_.clear(); }
  // Room for `rows` rows in every column, so appends up to it never
  // reallocate (no transient second copy while a dataset is read whole).
  void reserve(int64_t rows);

 private:
  std::vector<Column> columns_;
};

}  // namespace astrofm
