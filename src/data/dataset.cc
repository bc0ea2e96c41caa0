#include <algorithm>
#include <filesystem>
#include <optional>

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

namespace {

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
  auto f = h5::File::open(src->path);
  for (const auto& name : f.dataset_names()) {
    auto di = f.info(name);
    out.push_back({name, di.dtype, di.row_shape(), di.type_desc, di.filters});
  }
  return out;
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
};

DatasetReader::DatasetReader(const Dataset& ds, ReadOptions opt) : st_(std::make_unique<State>()) {
  if (opt.batch_rows <= 0) fail_usage("batch size must be positive, got {}", opt.batch_rows);
  for (size_t i = 0; i < opt.columns.size(); ++i)
    if (std::find(opt.columns.begin() + i + 1, opt.columns.end(), opt.columns[i]) != opt.columns.end())
      fail_usage("column '{}' asked for twice", opt.columns[i]);
  st_->ds = ds;
  st_->opt = std::move(opt);
  for (size_t i = 0; i < ds.partitions().size(); ++i) {
    const auto& hp = st_->opt.healpix;
    if (hp.empty() || std::find(hp.begin(), hp.end(), ds.partitions()[i].healpix) != hp.end())
      st_->todo.push_back(i);
  }
}

DatasetReader::~DatasetReader() = default;

const PartitionInfo& DatasetReader::current_partition() const {
  return st_->ds.partitions()[st_->todo[std::min(st_->pos, st_->todo.size() - 1)]];
}

size_t DatasetReader::current_partition_index() const { return st_->todo[std::min(st_->pos, st_->todo.size() - 1)]; }

Table read_rows(const PartitionInfo& part, int64_t start, int64_t count, const std::vector<std::string>& columns) {
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
      s.row = 0;
      ++s.pos;
      continue;
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
  for (size_t p = 0; p < ds.partitions().size(); ++p) {
    auto f = h5::File::open(ds.partitions()[p].path);
    Column ids = f.read_all(mmu::kObjectId);
    for (int64_t r = 0; r < ids.rows; ++r) index_.emplace(ids.strings[r], std::make_pair(static_cast<int>(p), r));
  }
}

Table ObjectLookup::get(const std::vector<std::string>& ids, const std::vector<std::string>& columns) const {
  Table out;
  for (const auto& id : ids) {
    auto it = index_.find(id);
    if (it == index_.end()) fail_input("{}: no object with object_id '{}'", ds_.path(), id);
    out.append(read_rows(ds_.partitions()[it->second.first], it->second.second, 1, columns));
  }
  return out;
}

Table read_table(const std::string& path, const std::vector<std::string>& columns, const std::vector<int64_t>& healpix) {
  Dataset ds = Dataset::open(path);
  DatasetReader r(ds, {.columns = columns, .batch_rows = 8192, .healpix = healpix});
  Table all, b;
  while (r.next(b)) all.append(b);
  return all;
}

}  // namespace astrofm
