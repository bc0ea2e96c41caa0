#include <algorithm>
#include <filesystem>
#include <list>
#include <map>

#include <nlohmann/json.hpp>

#include "astrofm/config.h"
#include "astrofm/fsutil.h"
#include "astrofm/hats.h"
#include "astrofm/mmu.h"
#include "astrofm/sky.h"
#include "h5.h"

namespace astrofm {
namespace {

constexpr const char* kProgressFile = "_astrofm_progress.json";
constexpr const char* kProgressPrefix = "_astrofm_progress";

// One progress file per writer: `_astrofm_progress.json` alone, else
// `_astrofm_progress-R-of-N.json`.
std::string progress_name(int shard, int shards) {
  return shards <= 1 ? kProgressFile : fmt::format("{}-{}-of-{}.json", kProgressPrefix, shard, shards);
}
constexpr size_t kPartitionFlushBytes = 8 << 20;

size_t table_bytes(const Table& t) {
  size_t n = 0;
  for (const auto& c : t.columns())
    n += c.dtype == DType::String ? c.strings.size() * 16 : c.data.size();
  return n;
}

void check_mandatory(const Table& b) {
  const Column& id = b.at(mmu::kObjectId);
  if (id.dtype != DType::String || !id.shape.empty())
    fail_input("column 'object_id' must be a scalar string, got {}", id.describe());
  for (const char* name : {mmu::kRa, mmu::kDec}) {
    const Column& c = b.at(name);
    if (c.dtype != DType::Float64 || !c.shape.empty())
      fail_input("column '{}' must be scalar float64 (degrees), got {}", name, c.describe());
  }
}

}  // namespace

struct DatasetWriter::State {
  WriteOptions opt;
  h5::Compression comp;
  std::unique_ptr<StagedDir> staging;
  fs::path config_dir;
  std::vector<Column> protos;  // schema, zero rows
  std::map<std::string, std::string> attrs;
  std::map<int64_t, Table> buffers;
  size_t buffered = 0;
  struct Open {
    h5::File file;
    std::vector<h5::AppendDataset> columns;
  };
  std::map<int64_t, Open> open;
  std::list<int64_t> lru;  // most recent at the back
  std::map<int64_t, int64_t> rows;  // written rows per partition
  int64_t total = 0;
  std::optional<std::string> resume_state;
  bool committed = false;

  bool sharded() const { return opt.shards > 1; }
  bool owns(int64_t pix) const { return !sharded() || !opt.owns || opt.owns(pix); }
  fs::path progress_file() const { return staging->path() / progress_name(opt.shard, opt.shards); }

  Open& open_partition(int64_t pix, const Table& first) {
    auto it = open.find(pix);
    if (it != open.end()) {
      lru.remove(pix);
      lru.push_back(pix);
      return it->second;
    }
    while (open.size() >= std::max<size_t>(opt.max_open_files, 1)) {
      open.erase(lru.front());
      lru.pop_front();
    }
    fs::path dir = config_dir / mmu::partition_dirname(pix);
    fs::path file = dir / mmu::kPartitionFile;
    Open o;
    if (fs::exists(file)) {
      o.file = h5::File::open(file.string(), true);
      for (const auto& p : protos) o.columns.emplace_back(o.file, p.name);
    } else {
      fs::create_directories(dir);
      o.file = h5::File::create(file.string());
      for (const auto& [k, v] : attrs) o.file.set_attr(k, v);
      for (const auto& p : protos) o.columns.emplace_back(o.file, first.at(p.name), comp, opt.gzip_level, opt.string_width);
    }
    lru.push_back(pix);
    return open.emplace(pix, std::move(o)).first->second;
  }

  void flush_partition(int64_t pix) {
    auto it = buffers.find(pix);
    if (it == buffers.end() || it->second.rows() == 0) return;
    Table& buf = it->second;
    Open& o = open_partition(pix, buf);
    for (size_t i = 0; i < protos.size(); ++i) o.columns[i].append(buf.at(protos[i].name), 0, buf.rows());
    rows[pix] += buf.rows();
    buffered -= std::min(buffered, table_bytes(buf));
    buffers.erase(it);
  }

  void flush_all() {
    std::vector<int64_t> keys;
    for (auto& [k, v] : buffers) keys.push_back(k);
    for (auto k : keys) flush_partition(k);
    buffered = 0;
  }

  void close_all() {
    open.clear();
    lru.clear();
  }

  // Removes what this writer wrote (all of it, unsharded; its own partitions, sharded).
  void remove_own_partitions() {
    if (!sharded()) {
      fs::remove_all(config_dir);
      return;
    }
    if (!fs::exists(config_dir)) return;
    for (const auto& e : fs::directory_iterator(config_dir))
      if (owns(mmu::partition_of_dirname(e.path().filename().string()))) fs::remove_all(e.path());
  }

  void load_progress() {
    // A resume with another number of writers would own other partitions.
    for (const auto& e : fs::directory_iterator(staging->path())) {
      std::string name = e.path().filename().string();
      if (name.rfind(kProgressPrefix, 0) == 0 && name != progress_name(opt.shard, opt.shards) &&
          (opt.shards <= 1 || name.find(fmt::format("-of-{}.json", opt.shards)) == std::string::npos))
        fail_usage("{}: this job was started with another number of ranks ({}); resume it with that number", staging->path().string(),
                   name);
    }
    fs::path pf = progress_file();
    if (!fs::exists(pf)) {
      // Interrupted before its first checkpoint: nothing to keep.
      remove_own_partitions();
      return;
    }
    auto j = nlohmann::json::parse(read_file(pf));
    for (auto& [k, v] : j["rows"].items()) rows[std::stoll(k)] = v.get<int64_t>();
    total = j["total"].get<int64_t>();
    resume_state = j["state"].get<std::string>();
    // Drop rows written after the checkpoint and partitions it never saw.
    if (fs::exists(config_dir)) {
      for (const auto& e : fs::directory_iterator(config_dir)) {
        int64_t pix = mmu::partition_of_dirname(e.path().filename().string());
        if (!owns(pix)) continue;  // another writer's
        fs::path file = e.path() / mmu::kPartitionFile;
        if (!rows.count(pix) || !fs::exists(file)) {
          fs::remove_all(e.path());
          continue;
        }
        auto f = h5::File::open(file.string(), true);
        for (const auto& name : f.dataset_names()) h5::AppendDataset(f, name).truncate(rows[pix]);
      }
    }
  }
};

DatasetWriter::DatasetWriter(const std::string& root, const std::string& config, WriteOptions opt)
    : st_(std::make_unique<State>()) {
  if (config.empty() || config.find('/') != std::string::npos)
    fail_usage("config name '{}' must be a plain folder name", config);
  h5::init();
  opt.format = parse_out_format(opt.format);
  st_->opt = opt;
  st_->comp = h5::parse_compression(opt.compression);
  if (st_->comp == h5::Compression::Lzf && !h5::lzf_available())
    fail_input("LZF compression requested but the filter is not installed (apt-get install hdf5-plugin-lzf)");
  if (opt.shards < 1 || opt.shard < 0 || opt.shard >= opt.shards) fail_usage("writer {} of {}: no such shard", opt.shard, opt.shards);
  // Writer 0 creates (or resumes) the staging folder; the others join it.
  st_->staging = std::make_unique<StagedDir>(root, opt.overwrite, opt.resume || opt.shard > 0);
  if (opt.shard > 0) st_->staging->keep_partial();  // only writer 0 cleans up or publishes
  st_->config_dir = st_->staging->path() / config;
  st_->attrs["astrofm_version"] = ASTROFM_VERSION;
  if (opt.resume && st_->staging->resumed()) st_->load_progress();
}

DatasetWriter::~DatasetWriter() {
  if (!st_->committed) st_->close_all();
}

void DatasetWriter::keep_partial() { st_->staging->keep_partial(); }

std::optional<std::string> DatasetWriter::resume_state() const { return st_->resume_state; }

void DatasetWriter::set_attribute(const std::string& key, const std::string& value) { st_->attrs[key] = value; }

int64_t DatasetWriter::rows() const { return st_->total; }

void DatasetWriter::append(const Table& batch_in) {
  auto& s = *st_;
  if (batch_in.rows() == 0) return;
  check_mandatory(batch_in);
  Table batch = batch_in;
  const auto& ra = batch.at(mmu::kRa).values<double>();
  const auto& dec = batch.at(mmu::kDec).values<double>();
  std::vector<int64_t> pix(batch.rows());
  for (int64_t i = 0; i < batch.rows(); ++i) {
    try {
      pix[i] = sky::partition_of(ra[i], dec[i]);
    } catch (const InputError& e) {
      fail_input("object '{}': {}", batch.at(mmu::kObjectId).strings[i], e.what());
    }
  }
  if (const Column* hp = batch.find(mmu::kHealpix)) {
    for (int64_t i = 0; i < batch.rows(); ++i)
      if (hp->as_int64(i) != pix[i])
        fail_input("object '{}': healpix {} does not match ra/dec (NSIDE 16 nested pixel {})",
                   batch.at(mmu::kObjectId).strings[i], hp->as_int64(i), pix[i]);
    batch.remove(mmu::kHealpix);
  }
  batch.add(make_column<int64_t>(mmu::kHealpix, pix));
  if (s.protos.empty()) {
    for (const auto& c : batch.columns()) s.protos.emplace_back(c.name, c.dtype, c.shape, 0);
  } else {
    if (batch.columns().size() != s.protos.size())
      fail_input("batch has columns [{}], the dataset has {} columns", fmt::join(batch.names(), ", "), s.protos.size());
    for (const auto& p : s.protos) {
      const Column& c = batch.at(p.name);
      if (!c.same_layout(p)) fail_input("column '{}' changed from {} to {} between batches", p.name, p.describe(), c.describe());
    }
  }
  std::map<int64_t, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < batch.rows(); ++i) groups[pix[i]].push_back(i);
  for (auto& [p, idx] : groups) {
    ASTROFM_ASSERT(s.owns(p), "writer {} of {} was given rows of partition {}, which it does not own", s.opt.shard, s.opt.shards, p);
    Table part = batch.take(idx);
    size_t bytes = table_bytes(part);
    s.buffers[p].append(part);
    s.buffered += bytes;
    if (table_bytes(s.buffers[p]) >= kPartitionFlushBytes) s.flush_partition(p);
  }
  s.total += batch.rows();
  while (s.buffered > s.opt.buffer_bytes && !s.buffers.empty()) {
    auto biggest = std::max_element(s.buffers.begin(), s.buffers.end(), [](const auto& a, const auto& b) {
      return a.second.rows() < b.second.rows();
    });
    s.flush_partition(biggest->first);
  }
}

void DatasetWriter::checkpoint(const std::string& state) {
  auto& s = *st_;
  s.flush_all();
  s.close_all();
  nlohmann::json j;
  j["total"] = s.total;
  j["state"] = state;
  j["rows"] = nlohmann::json::object();
  for (auto& [p, n] : s.rows) j["rows"][std::to_string(p)] = n;
  write_file_atomic(s.progress_file(), j.dump());
}

void DatasetWriter::commit() {
  auto& s = *st_;
  if (s.opt.shard > 0) {  // done (after the caller's last checkpoint): writer 0 publishes
    s.flush_all();
    s.close_all();
    s.committed = true;
    return;
  }
  s.flush_all();
  s.close_all();
  if (s.opt.format == "hats") {
    // The catalogue is built beside the staged rows and renamed into place
    // in one step; a kill before that keeps the rows and their progress for --resume.
    fs::create_directories(s.config_dir);
    fs::path cat = s.staging->path() / "_hats_catalogue";
    fs::remove_all(cat);
    const bool any_rows = !fs::is_empty(s.config_dir);  // this writer's rows or other ranks'
    if (any_rows)
      write_hats(Dataset::open(s.config_dir.string()), cat.string(), s.config_dir.filename().string(), s.opt.hats_partitions, s.attrs);
    else
      hats::write_catalog_metadata(cat.string(), {.name = s.config_dir.filename().string()}, {});
    s.staging->commit_folder(cat);
    s.committed = true;
    return;
  }
  for (const auto& e : fs::directory_iterator(s.staging->path()))
    if (e.path().filename().string().rfind(kProgressPrefix, 0) == 0) fs::remove(e.path());
  fs::create_directories(s.config_dir);
  s.staging->commit();
  s.committed = true;
}

}  // namespace astrofm
