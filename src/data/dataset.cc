#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "astrofm/hats.h"
#include "astrofm/mmu.h"
#include "astrofm/sky.h"
#include "h5.h"

namespace astrofm {
namespace fs = std::filesystem;

namespace mmu {
std::string partition_dirname(int64_t healpix) { return "healpix=" + std::to_string(healpix); }

int64_t partition_of_dirname(const std::string& name) {
  constexpr std::string_view prefix = "healpix=";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  int64_t v = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || v > (int64_t{1} << 40)) return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}
}  // namespace mmu

bool partition_overlaps(const PartitionInfo& p, int64_t pix16) {
  if (pix16 == sky::kNoPixel || p.healpix == sky::kNoPixel) return pix16 == p.healpix;
  return hats::overlaps_order4(p.order, p.healpix, pix16);
}

namespace {

// Names astrofm needs, and what catalogues that are not MMU's call them.
const std::vector<std::string> kIdNames = {mmu::kObjectId, "source_id", "objid", "objID", "id"};

// An integer id (survey ids are 64-bit) becomes its decimal string.
void ids_to_strings(Column& c) {
  if (c.dtype == DType::String) return;
  if (!dtype_is_integer(c.dtype) || !c.shape.empty())
    fail_input("column '{}' must hold scalar strings or integers, got {}", c.name, c.describe());
  std::vector<std::string> s(c.rows);
  for (int64_t i = 0; i < c.rows; ++i) s[i] = std::to_string(c.as_int64(i));
  c = make_string_column(c.name, std::move(s));
}

// Reads HATS columns under their stored names and gives them astrofm's.
std::vector<std::string> stored_columns(const Dataset& ds, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back(ds.stored_name(n));
  return out;
}
void to_astrofm_names(const Dataset& ds, Table& t) {
  for (auto& c : t.columns()) {
    for (const char* n : {mmu::kObjectId, mmu::kRa, mmu::kDec})
      if (c.name == ds.stored_name(n) && c.name != n) c.name = n;
    if (c.name == mmu::kObjectId) ids_to_strings(c);
  }
}


std::optional<int64_t> parse_partition_dir(const std::string& name) {
  if (name.rfind("healpix=", 0) != 0) return std::nullopt;
  try {
    size_t used = 0;
    int64_t v = std::stoll(name.substr(8), &used);
    if (used != name.size() - 8) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

bool has_partitions(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory() && parse_partition_dir(e.path().filename().string())) return true;
  return false;
}

bool is_hdf5_name(const fs::path& p) {
  auto ext = p.extension().string();
  return ext == ".hdf5" || ext == ".h5";
}

int64_t count_rows(const std::string& file) {
  auto f = h5::File::open(file);
  if (!f.has(mmu::kObjectId)) fail_input("{}: missing mandatory column '{}'", file, mmu::kObjectId);
  return f.info(mmu::kObjectId).rows();
}

}  // namespace

Dataset Dataset::open(const std::string& path_in, bool lenient) {
  auto rows_of = [lenient](const std::string& f) -> int64_t {
    if (!lenient) return count_rows(f);
    try {
      return count_rows(f);
    } catch (const InputError&) {
      return -1;
    }
  };
  fs::path p(path_in);
  if (!fs::exists(p)) fail_io("{}: no such file or folder", path_in);
  Dataset ds;
  ds.path_ = path_in;
  if (fs::is_regular_file(p) && p.extension() == ".parquet") {
    // One HATS leaf: .../Norder=K/Dir=D/Npix=P.parquet (or a file of a Npix=P/ folder).
    ds.format_ = DatasetFormat::Hats;
    int order = 4;
    int64_t pixel = sky::kNoPixel;
    // The pixel only when the path names both; otherwise a leaf without a known pixel.
    std::optional<int64_t> npix, norder;
    for (fs::path q = p; q.has_relative_path() && q != q.parent_path(); q = q.parent_path()) {
      std::string n = q.filename().string();
      if (auto v = hats::path_key(n, "Npix")) npix = v;
      if (auto v = hats::path_key(n, "Norder")) {
        norder = v;
        break;
      }
    }
    if (npix && norder) {
      hats::check_pixel(*norder, *npix, p.string());
      order = static_cast<int>(*norder), pixel = *npix;
    }
    ds.config_ = p.stem().string();
    ds.partitions_.push_back({pixel, p.string(), hats::FileReader(p.string(), {}, 1).rows(), order});
    ds.stored_[mmu::kObjectId] = mmu::kObjectId;
    return ds;
  }
  if (hats::is_hats(path_in)) {
    hats::Catalog cat = hats::open_catalog(path_in);
    ds.format_ = DatasetFormat::Hats;
    ds.path_ = cat.root;
    ds.config_ = cat.name;
    for (const auto& leaf : cat.leaves)
      for (size_t i = 0; i < leaf.files.size(); ++i) ds.partitions_.push_back({leaf.pixel, leaf.files[i], leaf.file_rows[i], leaf.order});
    std::vector<std::string> names;
    auto schema = hats::leaf_schema(ds.partitions_.front().path);
    for (const auto& c : schema) names.push_back(c.name);
    auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
    auto id = std::find_if(kIdNames.begin(), kIdNames.end(), has);
    if (id == kIdNames.end())
      fail_input("{}: no object id column (one of {}) in {}", cat.root, fmt::join(kIdNames, ", "), ds.partitions_.front().path);
    ds.stored_[mmu::kObjectId] = *id;
    ds.stored_[mmu::kRa] = cat.ra_column;
    ds.stored_[mmu::kDec] = cat.dec_column;
    for (const char* n : {mmu::kRa, mmu::kDec}) {
      if (!has(ds.stored_[n]))
        fail_input("{}: hats.properties names '{}' as its {} column, but {} has no such column", cat.root, ds.stored_[n], n,
                   ds.partitions_.front().path);
      for (const auto& c : schema)
        if (c.name == ds.stored_[n] && (!dtype_is_float(c.dtype) || !c.shape.empty()))
          fail_input("{}: column '{}' ({}) is {}, where a scalar float in degrees is expected", ds.partitions_.front().path, c.name, n,
                     c.arrow_type);
    }
    return ds;
  }
  if (fs::is_regular_file(p)) {
    auto pix = parse_partition_dir(p.parent_path().filename().string());
    ds.config_ = pix ? p.parent_path().parent_path().filename().string() : p.stem().string();
    ds.partitions_.push_back({pix.value_or(sky::kNoPixel), p.string(), rows_of(p.string())});
    return ds;
  }
  fs::path cfg = p;
  if (!has_partitions(p)) {
    std::vector<fs::path> configs;
    for (const auto& e : fs::directory_iterator(p))
      if (e.is_directory() && has_partitions(e.path())) configs.push_back(e.path());
    if (configs.empty())
      fail_input("{}: not an MMU dataset (no healpix=N folders in it or in its sub-folders)", path_in);
    if (configs.size() > 1) {
      std::string names;
      for (auto& c : configs) names += " " + c.filename().string();
      fail_input("{}: holds several configs ({}); pass one of them", path_in, names.substr(1));
    }
    cfg = configs.front();
  }
  ds.path_ = cfg.string();
  ds.config_ = cfg.filename().string();
  for (const auto& e : fs::directory_iterator(cfg)) {
    if (!e.is_directory()) continue;
    auto pix = parse_partition_dir(e.path().filename().string());
    if (!pix) continue;
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(e.path()))
      if (f.is_regular_file() && is_hdf5_name(f.path())) files.push_back(f.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) ds.partitions_.push_back({*pix, f.string(), rows_of(f.string())});
  }
  std::sort(ds.partitions_.begin(), ds.partitions_.end(), [](const PartitionInfo& a, const PartitionInfo& b) {
    return a.healpix != b.healpix ? a.healpix < b.healpix : a.path < b.path;
  });
  return ds;
}

int64_t Dataset::rows() const {
  int64_t n = 0;
  for (const auto& p : partitions_) n += p.rows;
  return n;
}

std::vector<ColumnSchema> Dataset::schema() const {
  std::vector<ColumnSchema> out;
  if (partitions_.empty()) return out;
  const PartitionInfo* src = &partitions_.front();
  for (const auto& p : partitions_)
    if (p.rows > 0) {
      src = &p;
      break;
    }
  if (format_ == DatasetFormat::Hats) {
    for (const auto& c : hats::leaf_schema(src->path)) {
      std::string name = c.name;
      for (const auto& [mine, stored] : stored_)
        if (stored == c.name) name = mine;
      bool id = name == mmu::kObjectId;
      out.push_back({name, id ? DType::String : c.dtype, c.shape, c.arrow_type, {}});
    }
    return out;
  }
  auto f = h5::File::open(src->path);
  for (const auto& name : f.dataset_names()) {
    auto di = f.info(name);
    out.push_back({name, di.dtype, di.row_shape(), di.type_desc, di.filters});
  }
  return out;
}

std::string Dataset::stored_name(const std::string& name) const {
  auto it = stored_.find(name);
  return it == stored_.end() ? name : it->second;
}

bool Dataset::has_column(const std::string& name) const {
  for (const auto& c : schema())
    if (c.name == name) return true;
  return false;
}

struct DatasetReader::State {
  Dataset ds;
  ReadOptions opt;
  std::vector<size_t> todo;  // partition indices to read
  size_t pos = 0;            // into todo
  int64_t row = 0;           // next row in the current partition
  std::optional<h5::File> file;
  std::vector<h5::ColumnReader> readers;  // one per selected column of the open file
  std::unique_ptr<hats::FileReader> leaf;  // HATS: the open Parquet file
};

DatasetReader::DatasetReader(const Dataset& ds, ReadOptions opt) : st_(std::make_unique<State>()) {
  if (opt.batch_rows <= 0) fail_usage("batch size must be positive, got {}", opt.batch_rows);
  for (size_t i = 0; i < opt.columns.size(); ++i)
    if (std::find(opt.columns.begin() + i + 1, opt.columns.end(), opt.columns[i]) != opt.columns.end())
      fail_usage("column '{}' asked for twice", opt.columns[i]);
  st_->ds = ds;
  st_->opt = std::move(opt);
  std::map<int, std::vector<int64_t>> cone_pixels;  // per partition order
  for (size_t i = 0; i < ds.partitions().size(); ++i) {
    const auto& hp = st_->opt.healpix;
    if (!hp.empty() && std::none_of(hp.begin(), hp.end(), [&](int64_t p) { return partition_overlaps(ds.partitions()[i], p); }))
      continue;
    if (const auto& c = st_->opt.cone) {
      const PartitionInfo& p = ds.partitions()[i];
      if (p.healpix == sky::kNoPixel) continue;
      // Deep partitions are tested by their order-10 ancestor: a cone's pixel list at order 29 would not fit in memory.
      const int k = std::min(p.order, 10);
      auto it = cone_pixels.find(k);
      if (it == cone_pixels.end()) it = cone_pixels.emplace(k, sky::cone_pixels(1 << k, c->ra, c->dec, c->radius)).first;
      if (!std::binary_search(it->second.begin(), it->second.end(), p.healpix >> (2 * (p.order - k)))) continue;
    }
    st_->todo.push_back(i);
  }
}

DatasetReader::~DatasetReader() = default;

const PartitionInfo& DatasetReader::current_partition() const {
  return st_->ds.partitions()[st_->todo[std::min(st_->pos, st_->todo.size() - 1)]];
}

size_t DatasetReader::current_partition_index() const { return st_->todo[std::min(st_->pos, st_->todo.size() - 1)]; }

Table read_rows(const Dataset& ds, size_t index, int64_t start, int64_t count, const std::vector<std::string>& columns) {
  const PartitionInfo& part = ds.partitions().at(index);
  if (ds.format() == DatasetFormat::Hats) {
    Table t = hats::read_file(part.path, stored_columns(ds, columns), start, count);
    to_astrofm_names(ds, t);
    return t;
  }
  auto f = h5::File::open(part.path);
  Table t;
  for (const auto& c : columns.empty() ? f.dataset_names() : columns) t.add(f.read(c, start, count));
  return t;
}

bool DatasetReader::next(Table& batch) {
  auto& s = *st_;
  while (s.pos < s.todo.size()) {
    const PartitionInfo& part = s.ds.partitions()[s.todo[s.pos]];
    if (s.row >= part.rows) {
      s.readers.clear();
      s.file.reset();
      s.leaf.reset();
      s.row = 0;
      ++s.pos;
      continue;
    }
    if (s.ds.format() == DatasetFormat::Hats) {
      if (!s.leaf) s.leaf = std::make_unique<hats::FileReader>(part.path, stored_columns(s.ds, s.opt.columns), s.opt.batch_rows);
      if (!s.leaf->next(batch)) fail_corrupt("{}: ends at row {}, its footer says {}", part.path, s.row, part.rows);
      to_astrofm_names(s.ds, batch);
      last_start_ = s.row;
      s.row += batch.rows();
      return true;
    }
    if (!s.file) {
      s.file = h5::File::open(part.path);
      auto names = s.opt.columns.empty() ? s.file->dataset_names() : s.opt.columns;
      for (const auto& c : names) {
        if (!s.file->has(c)) fail_input("{}: no column '{}'", part.path, c);
        s.readers.emplace_back(*s.file, c);
        if (s.readers.back().info().rows() < part.rows)
          fail_input("{}: column '{}' has fewer rows than object_id", part.path, c);
      }
    }
    int64_t n = std::min(s.opt.batch_rows, part.rows - s.row);
    // Reuse the previous batch's buffers when it holds the same columns.
    bool reuse = batch.columns().size() == s.readers.size();
    for (size_t i = 0; reuse && i < s.readers.size(); ++i) reuse = batch.columns()[i].name == s.readers[i].info().name;
    if (!reuse) {
      batch.clear();
      for (auto& r : s.readers) batch.add(Column(r.info().name, r.info().dtype, r.info().row_shape(), 0));
    }
    for (size_t i = 0; i < s.readers.size(); ++i) s.readers[i].read(s.row, n, batch.columns()[i]);
    last_start_ = s.row;
    s.row += n;
    return true;
  }
  return false;
}

ObjectLookup::ObjectLookup(const Dataset& ds) : ds_(ds) {
  std::vector<std::string> ids;
  std::vector<double> ra, dec;
  const bool positions = ds.has_column(mmu::kRa) && ds.has_column(mmu::kDec);
  std::vector<std::string> cols = {mmu::kObjectId};
  if (positions) cols.push_back(mmu::kRa), cols.push_back(mmu::kDec);
  for (size_t p = 0; p < ds.partitions().size(); ++p) {
    first_row_.push_back(static_cast<int64_t>(ids.size()));
    Table t = read_rows(ds, p, 0, ds.partitions()[p].rows, cols);
    const Column& c = t.at(mmu::kObjectId);
    ids.insert(ids.end(), c.strings.begin(), c.strings.end());
    const Column* rc = t.find(mmu::kRa);
    const Column* dc = t.find(mmu::kDec);
    for (int64_t r = 0; r < t.rows(); ++r) {
      ra.push_back(rc ? rc->as_double(r) : NAN);
      dec.push_back(dc ? dc->as_double(r) : NAN);
    }
  }
  cat_ = Catalogue(std::move(ids), std::move(ra), std::move(dec), ds.path());
}

Table ObjectLookup::get(const std::vector<std::string>& ids, const std::vector<std::string>& columns) const {
  Table out;
  for (const auto& id : ids) {
    int64_t r = cat_.row(id);
    if (r < 0) fail_input("{}: no object with object_id '{}'", ds_.path(), id);
    size_t p = std::upper_bound(first_row_.begin(), first_row_.end(), r) - first_row_.begin() - 1;
    out.append(read_rows(ds_, p, r - first_row_[p], 1, columns));
  }
  return out;
}

Table read_table_image(std::string_view bytes, const std::string& name) {
  auto f = h5::File::open_image(bytes, name);
  if (!f.has(mmu::kObjectId)) fail_input("{}: missing mandatory column '{}'", name, mmu::kObjectId);
  const int64_t rows = f.info(mmu::kObjectId).rows();
  Table t;
  for (const auto& c : f.dataset_names()) {
    if (f.info(c).rows() < rows) fail_input("{}: column '{}' has fewer rows than object_id", name, c);
    t.add(f.read(c, 0, rows));
  }
  return t;
}

Table read_table(const std::string& path, const std::vector<std::string>& columns, const std::vector<int64_t>& healpix) {
  Dataset ds = Dataset::open(path);
  DatasetReader r(ds, {.columns = columns, .batch_rows = 8192, .healpix = healpix});
  Table all, b;
  while (r.next(b)) all.append(b);
  return all;
}

}  // namespace astrofm
