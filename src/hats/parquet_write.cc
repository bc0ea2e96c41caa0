// astrofm Table -> Parquet through Arrow C++: shaped columns become nested
// lists, v1 image_* and spectrum_* columns the MMU v1.5 structs, rows sorted
// by _healpix_29 (docs/formats/hats.md).
#include <algorithm>
#include <filesystem>
#include <numeric>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/writer.h>
#include <parquet/exception.h>

#include "astrofm/hats.h"
#include "astrofm/sky.h"
#include "hats/arrow_util.h"

namespace astrofm::hats {
namespace fs = std::filesystem;
using detail::check;
using detail::kRenames;
using detail::kStructs;
namespace {

std::shared_ptr<arrow::DataType> arrow_leaf_type(DType t) {
  switch (t) {
    case DType::Float32: return arrow::float32();
    case DType::Float64: return arrow::float64();
    case DType::Int8: return arrow::int8();
    case DType::Int16: return arrow::int16();
    case DType::Int32: return arrow::int32();
    case DType::Int64: return arrow::int64();
    case DType::UInt8: return arrow::uint8();
    case DType::UInt16: return arrow::uint16();
    case DType::UInt32: return arrow::uint32();
    case DType::UInt64: return arrow::uint64();
    case DType::Bool: return arrow::boolean();
    case DType::String: return arrow::utf8();
  }
  return nullptr;
}

std::shared_ptr<arrow::Array> to_arrow(const Column& c, const std::string& where) {
  const int64_t n = c.rows * c.row_elems();
  std::shared_ptr<arrow::Array> values;
  if (c.dtype == DType::String) {
    arrow::StringBuilder b;
    check(b.Reserve(n), where, "build a string column");
    for (int64_t i = 0; i < n; ++i) check(b.Append(c.strings[i]), where, "build a string column");
    values = check(b.Finish(), where, "build a string column");
  } else if (c.dtype == DType::Bool) {
    arrow::BooleanBuilder b;
    check(b.Reserve(n), where, "build a boolean column");
    for (int64_t i = 0; i < n; ++i) b.UnsafeAppend(c.data[i] != 0);
    values = check(b.Finish(), where, "build a boolean column");
  } else {
    auto buf = check(arrow::AllocateBuffer(static_cast<int64_t>(c.data.size())), where, "allocate");
    if (!c.data.empty()) std::memcpy(buf->mutable_data(), c.data.data(), c.data.size());
    values = arrow::MakeArray(arrow::ArrayData::Make(arrow_leaf_type(c.dtype), n, {nullptr, std::move(buf)}));
  }
  // Innermost dimension first: level k holds rows * shape[0] * ... * shape[k-1] lists.
  for (int k = static_cast<int>(c.shape.size()) - 1; k >= 0; --k) {
    const int64_t len = c.shape[k];
    int64_t count = c.rows;
    for (int j = 0; j < k; ++j) count *= c.shape[j];
    if (count * len > INT32_MAX) fail_input("{}: column '{}' is too large for one Parquet list array", where, c.name);
    arrow::Int32Builder ob;
    check(ob.Reserve(count + 1), where, "build list offsets");
    for (int64_t i = 0; i <= count; ++i) ob.UnsafeAppend(static_cast<int32_t>(i * len));
    auto offsets = check(ob.Finish(), where, "build list offsets");
    values = check(arrow::ListArray::FromArrays(*offsets, *values), where, "build a list column");
  }
  return values;
}

std::string struct_of(const std::string& column, std::string* field) {
  for (const auto& r : kRenames)
    if (column == r.column) {
      *field = r.field;
      return r.strct;
    }
  for (const char* s : kStructs) {
    std::string prefix = std::string(s) + "_";
    if (column.size() > prefix.size() && column.compare(0, prefix.size(), prefix) == 0) {
      *field = column.substr(prefix.size());
      return s;
    }
  }
  return {};
}

}  // namespace

std::vector<int64_t> spatial_index(const Table& t, const std::string& ra, const std::string& dec) {
  const Column& r = t.at(ra);
  const Column& d = t.at(dec);
  std::vector<int64_t> out(t.rows());
  for (int64_t i = 0; i < t.rows(); ++i) out[i] = sky::ang2pix(1 << kSpatialOrder, r.as_double(i), d.as_double(i), true);
  return out;
}

void write_file(const std::string& file, const Table& t_in, const std::map<std::string, std::string>& metadata) {
  // Rows in _healpix_29 order, the index first (as hats-import writes them).
  auto idx29 = spatial_index(t_in);
  std::vector<int64_t> order(t_in.rows());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return idx29[a] < idx29[b]; });
  Table t = t_in.take(order);
  std::vector<int64_t> sorted(idx29.size());
  for (size_t i = 0; i < order.size(); ++i) sorted[i] = idx29[order[i]];

  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  fields.push_back(arrow::field(kSpatialIndex, arrow::int64(), false));
  arrays.push_back(to_arrow(make_column<int64_t>(kSpatialIndex, sorted), file));
  // v1 image_* and spectrum_* columns go into their v1.5 struct, at the place of the first.
  std::map<std::string, std::pair<std::vector<std::shared_ptr<arrow::Field>>, std::vector<std::shared_ptr<arrow::Array>>>> structs;
  std::vector<std::string> order_out;
  for (const auto& c : t.columns()) {
    if (c.name == kSpatialIndex) continue;
    auto a = to_arrow(c, file);
    std::string field;
    std::string s = struct_of(c.name, &field);
    if (!s.empty() && !t.has(s)) {
      if (!structs.count(s)) order_out.push_back("\x01" + s);
      structs[s].first.push_back(arrow::field(field, a->type()));
      structs[s].second.push_back(a);
    } else {
      order_out.push_back(c.name);
      fields.push_back(arrow::field(c.name, a->type()));
      arrays.push_back(a);
    }
  }
  // Re-walk to put structs where they first appeared.
  std::vector<std::shared_ptr<arrow::Field>> f2{fields.front()};
  std::vector<std::shared_ptr<arrow::Array>> a2{arrays.front()};
  size_t plain = 1;
  for (const auto& name : order_out) {
    if (name[0] == '\x01') {
      auto& [fs_, as_] = structs[name.substr(1)];
      auto sa = check(arrow::StructArray::Make(as_, fs_), file, "build a struct column");
      f2.push_back(arrow::field(name.substr(1), sa->type()));
      a2.push_back(sa);
    } else {
      f2.push_back(fields[plain]);
      a2.push_back(arrays[plain]);
      ++plain;
    }
  }
  auto kv = std::make_shared<arrow::KeyValueMetadata>();
  for (const auto& [k, v] : metadata) kv->Append(k, v);
  auto schema = arrow::schema(f2, kv);
  auto table = arrow::Table::Make(schema, a2, t.rows());
  fs::path tmp = file + ".tmp";
  fs::create_directories(fs::path(file).parent_path());
  // Row groups of about 128 MB (image columns) and at most 65,536 rows (catalogues).
  size_t row_bytes = 8;
  for (const auto& c : t.columns()) row_bytes += c.dtype == DType::String ? 16 * c.row_elems() : c.row_bytes();
  const int64_t group_rows = std::clamp<int64_t>(static_cast<int64_t>((128u << 20) / row_bytes), 1, 65536);
  try {
    auto out = arrow::io::FileOutputStream::Open(tmp.string());
    if (!out.ok()) fail_io("{}: cannot create: {}", tmp.string(), out.status().ToString());
    auto props = parquet::WriterProperties::Builder().compression(parquet::Compression::SNAPPY)->build();
    auto aprops = parquet::ArrowWriterProperties::Builder().store_schema()->build();
    auto st = parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), *out, group_rows, props, aprops);
    if (st.ok()) st = (*out)->Close();
    if (!st.ok()) fail_io("{}: cannot write: {}", file, st.ToString());
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    try {
      throw;
    } catch (const parquet::ParquetException& e) {
      fail_io("{}: cannot write: {}", file, e.what());
    }
  }
  fs::rename(tmp, file);
}

}  // namespace astrofm::hats
