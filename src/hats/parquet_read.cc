// Parquet -> astrofm Table through Arrow C++ (the pyarrow wheel's libraries).
// Lists of equal length per row become shaped columns; the MMU v1.5 image and
// spectrum structs become the v1 column names (docs/formats/hats.md).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/schema.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>

#include "astrofm/hats.h"
#include "hats/arrow_util.h"

namespace astrofm::hats {
namespace fs = std::filesystem;
using detail::check;
using detail::flat_name;
namespace {

// An astrofm column of a Parquet file: its path through structs and the leaf
// columns (Parquet column indices) under it.
struct Flat {
  std::string name;
  std::vector<std::string> path;
  std::shared_ptr<arrow::DataType> type;
  std::vector<int> leaves;
};

void flatten(const std::shared_ptr<arrow::Field>& f, std::vector<std::string> path, std::vector<Flat>& out) {
  path.push_back(f->name());
  if (f->type()->id() == arrow::Type::STRUCT) {
    for (const auto& child : f->type()->fields()) flatten(child, path, out);
    return;
  }
  out.push_back({flat_name(path), path, f->type(), {}});
}

std::vector<Flat> flat_columns(const parquet::arrow::FileReader& reader, const arrow::Schema& schema) {
  std::vector<Flat> out;
  for (const auto& f : schema.fields()) flatten(f, {}, out);
  const auto* descr = reader.parquet_reader()->metadata()->schema();
  for (int i = 0; i < descr->num_columns(); ++i) {
    auto p = descr->Column(i)->path()->ToDotVector();
    for (auto& c : out)
      if (p.size() >= c.path.size() && std::equal(c.path.begin(), c.path.end(), p.begin())) c.leaves.push_back(i);
  }
  return out;
}

std::optional<DType> leaf_dtype(arrow::Type::type id) {
  switch (id) {
    case arrow::Type::FLOAT: return DType::Float32;
    case arrow::Type::HALF_FLOAT: return DType::Float32;
    case arrow::Type::DOUBLE: return DType::Float64;
    case arrow::Type::INT8: return DType::Int8;
    case arrow::Type::INT16: return DType::Int16;
    case arrow::Type::INT32: return DType::Int32;
    case arrow::Type::INT64: return DType::Int64;
    case arrow::Type::UINT8: return DType::UInt8;
    case arrow::Type::UINT16: return DType::UInt16;
    case arrow::Type::UINT32: return DType::UInt32;
    case arrow::Type::UINT64: return DType::UInt64;
    case arrow::Type::BOOL: return DType::Bool;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW:
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY: return DType::String;
    default: return std::nullopt;
  }
}

bool is_list_type(arrow::Type::type id) {
  return id == arrow::Type::LIST || id == arrow::Type::LARGE_LIST || id == arrow::Type::FIXED_SIZE_LIST;
}

// The leaf type of a (nested) list type and the number of list levels.
std::pair<std::shared_ptr<arrow::DataType>, int> unwrap(std::shared_ptr<arrow::DataType> t) {
  int levels = 0;
  while (is_list_type(t->id())) {
    t = t->field(0)->type();
    ++levels;
  }
  return {t, levels};
}

// Copies `n` rows of `a` into `out` (its dtype set; shape fixed on the first
// rows read when `out.shape` is empty and lists are present).
void to_column(std::shared_ptr<arrow::Array> a, int64_t n, const std::string& where, Column& out, bool shape_known) {
  std::vector<int64_t> shape;
  int64_t count = n;
  int level = 0;
  while (is_list_type(a->type_id())) {
    int64_t len = -1;
    int64_t first = 0;
    auto row_len = [&](int64_t i) -> int64_t {
      if (a->IsNull(i)) fail_input("{}: column '{}' has a null list at row {}", where, out.name, i / std::max<int64_t>(1, count / std::max<int64_t>(n, 1)) + out.rows);
      switch (a->type_id()) {
        case arrow::Type::LIST: return static_cast<const arrow::ListArray&>(*a).value_length(i);
        case arrow::Type::LARGE_LIST: return static_cast<const arrow::LargeListArray&>(*a).value_length(i);
        default: return static_cast<const arrow::FixedSizeListArray&>(*a).value_length(i);
      }
    };
    auto offset0 = [&]() -> int64_t {
      switch (a->type_id()) {
        case arrow::Type::LIST: return static_cast<const arrow::ListArray&>(*a).value_offset(0);
        case arrow::Type::LARGE_LIST: return static_cast<const arrow::LargeListArray&>(*a).value_offset(0);
        default: return static_cast<const arrow::FixedSizeListArray&>(*a).value_offset(0);
      }
    };
    if (shape_known && level < static_cast<int>(out.shape.size())) len = out.shape[level];
    else if (count > 0) len = row_len(0);
    else len = 0;
    for (int64_t i = 0; i < count; ++i) {
      int64_t l = row_len(i);
      if (l != len) {
        int64_t per = count / std::max<int64_t>(n, 1);
        fail_input("{}: column '{}' row {} has a list of {} values where earlier rows have {}: astrofm columns hold one shape per row",
                   where, out.name, i / std::max<int64_t>(per, 1), l, len);
      }
    }
    if (count > 0) first = offset0();
    std::shared_ptr<arrow::Array> values;
    switch (a->type_id()) {
      case arrow::Type::LIST: values = static_cast<const arrow::ListArray&>(*a).values(); break;
      case arrow::Type::LARGE_LIST: values = static_cast<const arrow::LargeListArray&>(*a).values(); break;
      default: values = static_cast<const arrow::FixedSizeListArray&>(*a).values(); break;
    }
    a = values->Slice(first, count * len);
    count *= len;
    shape.push_back(len);
    ++level;
  }
  if (!shape_known) out.shape = shape;
  else if (out.shape != shape)
    fail_input("{}: column '{}' changes shape between rows ({} then {} values per row)", where, out.name,
               fmt::join(out.shape, "x"), fmt::join(shape, "x"));
  int64_t base = out.rows;
  out.resize(base + n);
  const int64_t per = out.row_elems();
  const int64_t at = base * per;
  auto id = a->type_id();
  if (out.dtype == DType::String) {
    for (int64_t i = 0; i < count; ++i) {
      std::string s;
      if (!a->IsNull(i)) {
        if (id == arrow::Type::STRING || id == arrow::Type::BINARY)
          s = std::string(static_cast<const arrow::BinaryArray&>(*a).GetView(i));
        else if (id == arrow::Type::LARGE_STRING || id == arrow::Type::LARGE_BINARY)
          s = std::string(static_cast<const arrow::LargeBinaryArray&>(*a).GetView(i));
        else
          s = std::string(static_cast<const arrow::StringViewArray&>(*a).GetView(i));
      }
      out.strings[at + i] = std::move(s);
    }
    return;
  }
  if (id == arrow::Type::BOOL) {
    const auto& b = static_cast<const arrow::BooleanArray&>(*a);
    for (int64_t i = 0; i < count; ++i) {
      if (b.IsNull(i)) fail_input("{}: column '{}' has a null at value {}", where, out.name, i);
      out.data[at + i] = b.Value(i) ? 1 : 0;
    }
    return;
  }
  if (id == arrow::Type::HALF_FLOAT) {
    const auto& h = static_cast<const arrow::HalfFloatArray&>(*a);
    float* dst = out.ptr<float>() + at;
    for (int64_t i = 0; i < count; ++i) {
      if (h.IsNull(i)) { dst[i] = NAN; continue; }
      uint16_t v = h.Value(i);
      dst[i] = arrow::util::Float16::FromBits(v).ToFloat();
    }
    return;
  }
  const auto& p = static_cast<const arrow::PrimitiveArray&>(*a);
  const size_t width = dtype_size(out.dtype);
  if (count == 0) return;  // an empty page may carry no values buffer at all
  if (!p.values() || p.values()->size() < static_cast<int64_t>((p.offset() + count) * width))
    fail_input("{}: column '{}' holds fewer values than its {} rows claim", where, out.name, count);
  const uint8_t* src = p.values()->data() + p.offset() * width;
  std::memcpy(out.data.data() + at * width, src, count * width);
  if (p.null_count() > 0) {
    if (out.dtype == DType::Float32) {
      for (int64_t i = 0; i < count; ++i)
        if (p.IsNull(i)) out.ptr<float>()[at + i] = NAN;
    } else if (out.dtype == DType::Float64) {
      for (int64_t i = 0; i < count; ++i)
        if (p.IsNull(i)) out.ptr<double>()[at + i] = NAN;
    } else {
      for (int64_t i = 0; i < count; ++i)
        if (p.IsNull(i))
          fail_input("{}: column '{}' row {} is null; integer columns must be complete", where, out.name, i / std::max<int64_t>(per, 1));
    }
  }
}

struct Opened {
  std::unique_ptr<parquet::arrow::FileReader> reader;
  std::shared_ptr<arrow::Schema> schema;
  std::vector<Flat> flat;
};

Opened open_parquet(const std::string& file, int64_t batch_rows) {
  if (!fs::is_regular_file(file)) fail_io("{}: no such Parquet file", file);
  Opened o;
  try {
    parquet::arrow::FileReaderBuilder b;
    check(b.OpenFile(file, /*memory_map=*/true), file, "open as Parquet");
    parquet::ArrowReaderProperties props;
    props.set_use_threads(false);
    props.set_batch_size(std::max<int64_t>(1, batch_rows));
    b.properties(props);
    o.reader = check(b.Build(), file, "read the Parquet footer");
    check(o.reader->GetSchema(&o.schema), file, "read the Arrow schema");
  } catch (const parquet::ParquetException& e) {
    fail_corrupt("{}: not a readable Parquet file: {}", file, e.what());
  }
  o.flat = flat_columns(*o.reader, *o.schema);
  std::set<std::string> names;
  for (const auto& f : o.flat)
    if (!names.insert(f.name).second) fail_corrupt("{}: two columns are called '{}'", file, f.name);
  return o;
}

// The astrofm columns asked for (all but the spatial index when empty).
std::vector<const Flat*> select(const Opened& o, const std::vector<std::string>& columns, const std::string& file) {
  std::vector<const Flat*> out;
  if (columns.empty()) {  // every column astrofm can hold (timestamps, decimals, maps... are left out)
    for (const auto& f : o.flat)
      if (f.name != kSpatialIndex && leaf_dtype(unwrap(f.type).first->id())) out.push_back(&f);
    return out;
  }
  for (const auto& name : columns) {
    auto it = std::find_if(o.flat.begin(), o.flat.end(), [&](const Flat& f) { return f.name == name; });
    if (it == o.flat.end()) fail_input("{}: no column '{}'", file, name);
    out.push_back(&*it);
  }
  return out;
}

DType dtype_for(const Flat& f, const std::string& file) {
  auto [leaf, levels] = unwrap(f.type);
  auto d = leaf_dtype(leaf->id());
  if (!d) fail_input("{}: column '{}' has type {}, which astrofm cannot read (numbers, booleans, strings and lists of them)", file, f.name,
                     f.type->ToString());
  return *d;
}

// The column's array in a batch; a corrupt file whose batch lacks it (or
// whose struct is not one) is an error naming the column, not a null.
std::shared_ptr<arrow::Array> array_of(const arrow::RecordBatch& rb, const Flat& f, const std::string& file) {
  std::shared_ptr<arrow::Array> a = rb.GetColumnByName(f.path[0]);
  for (size_t i = 1; a && i < f.path.size(); ++i)
    a = a->type_id() == arrow::Type::STRUCT ? static_cast<const arrow::StructArray&>(*a).GetFieldByName(f.path[i]) : nullptr;
  if (!a) fail_corrupt("{}: column '{}' is missing from a batch of rows (a corrupt file)", file, f.name);
  return a;
}

std::vector<int> leaf_indices(const std::vector<const Flat*>& cols) {
  std::vector<int> idx;
  for (const auto* c : cols) idx.insert(idx.end(), c->leaves.begin(), c->leaves.end());
  std::sort(idx.begin(), idx.end());
  idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
  return idx;
}

}  // namespace

struct FileReader::State {
  std::string file;
  Opened o;
  std::vector<const Flat*> cols;
  std::unique_ptr<arrow::RecordBatchReader> batches;
  bool shapes_known = false;
  std::vector<std::vector<int64_t>> shapes;
};

FileReader::FileReader(const std::string& file, const std::vector<std::string>& columns, int64_t batch_rows) : st_(new State) {
  try {
    st_->file = file;
    st_->o = open_parquet(file, batch_rows);
    st_->cols = select(st_->o, columns, file);
    std::vector<int> groups(st_->o.reader->num_row_groups());
    std::iota(groups.begin(), groups.end(), 0);
    try {
      st_->batches = check(st_->o.reader->GetRecordBatchReader(groups, leaf_indices(st_->cols)), file, "read row groups");
    } catch (const parquet::ParquetException& e) {
      fail_corrupt("{}: cannot read: {}", file, e.what());
    }
  } catch (...) {
    delete st_;
    throw;
  }
}

FileReader::~FileReader() { delete st_; }

int64_t FileReader::rows() const { return st_->o.reader->parquet_reader()->metadata()->num_rows(); }

bool FileReader::next(Table& batch) {
  auto& s = *st_;
  std::shared_ptr<arrow::RecordBatch> rb;
  try {
    do {
      check(s.batches->ReadNext(&rb), s.file, "read a batch");
    } while (rb && rb->num_rows() == 0);
  } catch (const parquet::ParquetException& e) {
    fail_corrupt("{}: cannot read: {}", s.file, e.what());
  }
  if (!rb) return false;
  batch.clear();
  for (size_t i = 0; i < s.cols.size(); ++i) {
    const Flat& f = *s.cols[i];
    Column c(f.name, dtype_for(f, s.file), s.shapes_known ? s.shapes[i] : std::vector<int64_t>{}, 0);
    to_column(array_of(*rb, f, s.file), rb->num_rows(), s.file, c, s.shapes_known);
    if (!s.shapes_known) s.shapes.push_back(c.shape);
    batch.add(std::move(c));
  }
  s.shapes_known = true;
  return true;
}

Table read_file(const std::string& file, const std::vector<std::string>& columns, int64_t start, int64_t count) {
  Opened o = open_parquet(file, count > 0 ? std::min<int64_t>(count, 65536) : 65536);
  auto cols = select(o, columns, file);
  auto md = o.reader->parquet_reader()->metadata();
  const int64_t total = md->num_rows();
  if (start < 0 || start > total) fail_input("{}: row {} asked for, the file holds {}", file, start, total);
  if (count < 0) count = total - start;
  if (start + count > total) fail_input("{}: rows {}..{} asked for, the file holds {}", file, start, start + count, total);
  // Only the row groups that hold the rows.
  std::vector<int> groups;
  int64_t first_row = 0, row = 0;
  for (int g = 0; g < md->num_row_groups(); ++g) {
    int64_t n = md->RowGroup(g)->num_rows();
    if (row + n > start && row < start + count) {
      if (groups.empty()) first_row = row;
      groups.push_back(g);
    }
    row += n;
  }
  Table out;
  std::vector<Column> acc;
  for (const auto* f : cols) acc.emplace_back(f->name, dtype_for(*f, file), std::vector<int64_t>{}, 0);
  bool known = false;
  if (!groups.empty() && count > 0) {
    std::unique_ptr<arrow::RecordBatchReader> rd;
    try {
      rd = check(o.reader->GetRecordBatchReader(groups, leaf_indices(cols)), file, "read row groups");
      int64_t at = first_row;
      std::shared_ptr<arrow::RecordBatch> rb;
      while (true) {
        check(rd->ReadNext(&rb), file, "read a batch");
        if (!rb) break;
        int64_t lo = std::max(start, at), hi = std::min(start + count, at + rb->num_rows());
        if (hi > lo) {
          auto part = rb->Slice(lo - at, hi - lo);
          for (size_t i = 0; i < cols.size(); ++i) to_column(array_of(*part, *cols[i], file), part->num_rows(), file, acc[i], known);
          known = true;
        }
        at += rb->num_rows();
        if (at >= start + count) break;
      }
    } catch (const parquet::ParquetException& e) {
      fail_corrupt("{}: cannot read: {}", file, e.what());
    }
  }
  for (auto& c : acc) out.add(std::move(c));
  return out;
}

std::vector<int64_t> read_spatial_index(const std::string& file, int64_t start, int64_t count) {
  Opened o = open_parquet(file, 65536);
  if (std::none_of(o.flat.begin(), o.flat.end(), [](const Flat& f) { return f.name == kSpatialIndex; })) return {};
  Table t = read_file(file, {kSpatialIndex}, start, count);
  const Column& c = t.at(kSpatialIndex);
  if (c.dtype != DType::Int64 || !c.shape.empty())
    fail_input("{}: column '{}' is {}, not int64", file, kSpatialIndex, c.describe());
  auto v = c.values<int64_t>();
  return {v.begin(), v.end()};
}

std::vector<ColumnInfo> leaf_schema(const std::string& file) {
  Opened o = open_parquet(file, 1);
  auto cols = select(o, {}, file);
  std::vector<ColumnInfo> out;
  std::vector<std::string> names;
  for (const auto* f : cols) names.push_back(f->name);
  // Shapes of variable-length lists are read off the first row.
  Table first = o.reader->parquet_reader()->metadata()->num_rows() > 0 ? read_file(file, names, 0, 1) : Table{};
  for (const auto* f : cols) {
    ColumnInfo ci{f->name, dtype_for(*f, file), {}, f->type->ToString()};
    if (const Column* c = first.find(f->name)) ci.shape = c->shape;
    out.push_back(std::move(ci));
  }
  return out;
}

}  // namespace astrofm::hats
