#include "astrofm/search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/features.h"
#include "astrofm/fsutil.h"
#include "astrofm/mmu.h"
#include "astrofm/progress.h"
#include "astrofm/sky.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

constexpr char kObjectsMagic[8] = {'A', 'F', 'M', 'O', 'B', 'J', '1', '\n'};

void normalise(float* x, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += double(x[i * d + j]) * x[i * d + j];
    float inv = s > 0 ? static_cast<float>(1.0 / std::sqrt(s)) : 0.f;
    for (int64_t j = 0; j < d; ++j) x[i * d + j] *= inv;
  }
}

std::string objects_blob(const std::vector<std::string>& ids, const std::vector<double>& ra, const std::vector<double>& dec) {
  std::string b(kObjectsMagic, 8);
  int64_t n = static_cast<int64_t>(ids.size());
  b.append(reinterpret_cast<const char*>(&n), 8);
  b.append(reinterpret_cast<const char*>(ra.data()), n * 8);
  b.append(reinterpret_cast<const char*>(dec.data()), n * 8);
  for (const auto& id : ids) {
    uint32_t len = static_cast<uint32_t>(id.size());
    b.append(reinterpret_cast<const char*>(&len), 4);
    b += id;
  }
  return b;
}

void read_objects(const std::string& path, std::vector<std::string>& ids, std::vector<double>& ra, std::vector<double>& dec) {
  std::string b = read_file(path);
  auto bad = [&] { fail_input("{}: truncated or not an astrofm objects file", path); };
  if (b.size() < 16 || std::memcmp(b.data(), kObjectsMagic, 8) != 0) bad();
  int64_t n;
  std::memcpy(&n, b.data() + 8, 8);
  if (n < 0 || b.size() < 16 + static_cast<size_t>(n) * 16) bad();
  ra.resize(n), dec.resize(n), ids.resize(n);
  std::memcpy(ra.data(), b.data() + 16, n * 8);
  std::memcpy(dec.data(), b.data() + 16 + n * 8, n * 8);
  size_t p = 16 + n * 16;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t len;
    if (p + 4 > b.size()) bad();
    std::memcpy(&len, b.data() + p, 4);
    if (p + 4 + len > b.size()) bad();
    ids[i].assign(b.data() + p + 4, len);
    p += 4 + len;
  }
}

bool better(float a, float b, bool l2) { return l2 ? a < b : a > b; }

}  // namespace

namespace {

// The embedding column of a catalogue (named, or its only embedding_*), as a
// stored vector column [d] of floats: what an index streams.
std::pair<std::string, int64_t> vector_column(const Dataset& ds, const std::string& path, const std::string& column) {
  std::vector<std::string> names, emb;
  for (const auto& c : ds.schema()) {
    names.push_back(c.name);
    if (c.name.rfind("embedding_", 0) == 0) emb.push_back(c.name);
  }
  std::string col = column;
  if (col.empty()) {
    if (emb.empty()) fail_input("{}: no embedding_* column; name the column with --column (columns: {})", path, fmt::join(names, ", "));
    if (emb.size() > 1) fail_input("{}: several embedding columns ({}); pick one with --column", path, fmt::join(emb, ", "));
    col = emb[0];
  }
  for (const auto& c : ds.schema())
    if (c.name == col) {
      if (c.shape.size() != 1 || (c.dtype != DType::Float32 && c.dtype != DType::Float64))
        fail_input("{}: column '{}' is not a vector of floats (it is {} of shape [{}])", path, col, dtype_name(c.dtype), fmt::join(c.shape, ", "));
      return {col, c.shape[0]};
    }
  fail_input("{}: no column '{}' (columns: {})", path, col, fmt::join(names, ", "));
}

// Streams (vectors, ids, ra, dec) in batches, normalised for cosine; a
// non-finite value is an error naming the object.
template <class F>
void stream_vectors(const Dataset& ds, const std::string& path, const std::string& col, int64_t d, bool cosine, F&& fn) {
  DatasetReader r(ds, {.columns = {mmu::kObjectId, mmu::kRa, mmu::kDec, col}, .batch_rows = 65536});
  Table b;
  std::vector<float> x;
  while (r.next(b)) {
    const Column& c = b.at(col);
    int64_t n = b.rows();
    x.resize(n * d);
    for (int64_t i = 0; i < n * d; ++i) x[i] = static_cast<float>(c.as_double(i));
    for (int64_t i = 0; i < n * d; ++i)
      if (!std::isfinite(x[i]))
        fail_input("{}: object '{}': column '{}' holds a non-finite value; cannot index it", path, b.at(mmu::kObjectId).strings[i / d], col);
    if (cosine) normalise(x.data(), n, d);
    fn(x.data(), n, b);
  }
}

}  // namespace

namespace {

int64_t shard_pixel(int nside, double ra, double dec, const std::string& id, const std::string& path) {
  if (nside == 0) return 0;
  if (!std::isfinite(ra) || !std::isfinite(dec))
    fail_input("{}: object '{}' has no sky position (ra {}, dec {}); a sky-sharded index needs one", path, id, ra, dec);
  return sky::ang2pix(nside, ra, dec);
}

// One shard being built or extended: its index and its objects in label order.
struct ShardBuild {
  std::unique_ptr<VectorIndex> index;
  std::vector<std::string> ids;
  std::vector<double> ra, dec;
};
using ShardMap = std::map<int64_t, ShardBuild>;  // pixel -> shard, in pixel order

// Objects per shard pixel, from positions alone (hnswlib allocates up front).
std::map<int64_t, int64_t> shard_counts(const Dataset& ds, const std::string& path, int nside) {
  std::map<int64_t, int64_t> n;
  if (nside == 0) return {{0, ds.rows()}};
  DatasetReader r(ds, {.columns = {mmu::kObjectId, mmu::kRa, mmu::kDec}, .batch_rows = 65536});
  Table b;
  while (r.next(b))
    for (int64_t i = 0; i < b.rows(); ++i)
      ++n[shard_pixel(nside, b.at(mmu::kRa).as_double(i), b.at(mmu::kDec).as_double(i), b.at(mmu::kObjectId).strings[i], path)];
  return n;
}

// Adds a batch of (normalised) vectors to the shards their positions fall in;
// `fresh(pixel)` makes the index of a shard not seen before.
template <class Fresh>
void add_to_shards(ShardMap& shards, int nside, const float* x, int64_t m, int64_t d, const Table& b, const std::string& path,
                   Fresh&& fresh) {
  const auto& id = b.at(mmu::kObjectId).strings;
  std::map<int64_t, std::vector<int64_t>> rows;
  for (int64_t i = 0; i < m; ++i) rows[shard_pixel(nside, b.at(mmu::kRa).as_double(i), b.at(mmu::kDec).as_double(i), id[i], path)].push_back(i);
  std::vector<float> buf;
  for (const auto& [pixel, r] : rows) {
    auto it = shards.find(pixel);
    if (it == shards.end()) it = shards.emplace(pixel, ShardBuild{fresh(pixel), {}, {}, {}}).first;
    ShardBuild& s = it->second;
    const float* src = x;
    if (static_cast<int64_t>(r.size()) != m) {  // gather this shard's rows
      buf.resize(r.size() * d);
      for (size_t i = 0; i < r.size(); ++i) std::copy(x + r[i] * d, x + (r[i] + 1) * d, buf.begin() + i * d);
      src = buf.data();
    }
    s.index->add(src, static_cast<int64_t>(r.size()));
    for (int64_t i : r) s.ids.push_back(id[i]), s.ra.push_back(b.at(mmu::kRa).as_double(i)), s.dec.push_back(b.at(mmu::kDec).as_double(i));
  }
}

// Writes the shards (the index file, or shards/<pixel>.index) and objects.bin
// into `dir`; returns the total count and records the shards in `meta`.
int64_t write_shards(const fs::path& dir, const ShardMap& shards, int nside, nlohmann::json& meta) {
  std::vector<std::string> ids;
  std::vector<double> ra, dec;
  nlohmann::json list = nlohmann::json::array();
  if (nside > 0) fs::create_directories(dir / "shards");
  for (const auto& [pixel, s] : shards) {
    if (nside == 0) s.index->save((dir / "index").string());
    else s.index->save_shard((dir / "shards" / (std::to_string(pixel) + ".index")).string());
    ids.insert(ids.end(), s.ids.begin(), s.ids.end());
    ra.insert(ra.end(), s.ra.begin(), s.ra.end());
    dec.insert(dec.end(), s.dec.begin(), s.dec.end());
    list.push_back({{"pixel", pixel}, {"count", s.index->size()}});
  }
  write_file_atomic(dir / "objects.bin", objects_blob(ids, ra, dec));
  if (nside > 0) {
    meta["version"] = 2;  // sharded layout; version 1 readers would find no index file
    meta["shards"] = list;
  }
  meta["count"] = static_cast<int64_t>(ids.size());
  return static_cast<int64_t>(ids.size());
}

}  // namespace

void SearchIndex::build(const std::string& dataset, const std::string& column, const std::string& out, const IndexOptions& opt,
                        bool overwrite) {
  opt.check();
  if (fs::exists(out) && !overwrite) fail_input("{} already exists (pass --overwrite)", out);
  auto t0 = std::chrono::steady_clock::now();
  Dataset ds = Dataset::open(dataset);
  auto [col, d] = vector_column(ds, dataset, column);
  const int64_t n = ds.rows();
  if (n == 0) fail_input("{}: no objects to index", dataset);
  StagedDir stage(out, overwrite);
  // Streamed in two passes, never the whole catalogue in memory: a sample
  // spread over the catalogue trains IVF kinds, then every vector is added.
  IndexOptions o = opt;
  const int nside = o.shard_nside;
  const bool ivf = o.kind.rfind("ivf", 0) == 0;
  if (ivf && o.nlist <= 0) o.nlist = std::max<int64_t>(1, static_cast<int64_t>(4 * std::sqrt(static_cast<double>(n))));
  spdlog::info("indexing {} vectors of {} dimensions ({}{}{})", n, d, o.kind, o.kind == "hnsw" ? ", " + o.hnsw_backend : "",
               nside > 0 ? fmt::format(", sharded by HEALPix pixel at NSIDE {}", nside) : "");
  auto t_index = std::chrono::steady_clock::now();
  const bool cosine = o.metric == "cosine";
  // Every shard starts as a copy of one trained (empty) index: the shards
  // share the coarse quantizer, so a new shard can be added later too.
  const fs::path trained = stage.path() / "trained.index";
  std::map<int64_t, int64_t> counts = o.kind == "hnsw" ? shard_counts(ds, dataset, nside) : std::map<int64_t, int64_t>{};
  std::unique_ptr<VectorIndex> tmpl;  // IVF: trained, empty; its quantizer serves every shard
  if (ivf) {
    const int64_t want = std::min<int64_t>(n, 64 * o.nlist), stride = std::max<int64_t>(1, n / want);
    std::vector<float> sample;
    int64_t row = 0;
    stream_vectors(ds, dataset, col, d, cosine, [&](const float* x, int64_t m, const Table&) {
      for (int64_t i = 0; i < m; ++i, ++row)
        if (row % stride == 0 && static_cast<int64_t>(sample.size()) < want * d) sample.insert(sample.end(), x + i * d, x + (i + 1) * d);
    });
    spdlog::info("training {} lists on {} sampled vectors", o.nlist, sample.size() / d);
    tmpl = VectorIndex::create(d, o);
    tmpl->train(sample.data(), static_cast<int64_t>(sample.size()) / d);
    tmpl->save(trained.string());
  }
  auto fresh = [&](int64_t pixel) {
    auto idx = ivf ? VectorIndex::load(trained.string(), d, o) : VectorIndex::create(d, o);
    if (ivf && nside > 0) idx->share_quantizer(*tmpl);
    if (auto c = counts.find(pixel); c != counts.end()) idx->reserve(c->second);
    return idx;
  };
  ShardMap shards;
  Progress bar("index add", n);
  stream_vectors(ds, dataset, col, d, cosine, [&](const float* x, int64_t m, const Table& b) {
    add_to_shards(shards, nside, x, m, d, b, dataset, fresh);
    bar.advance(m);
  });
  bar.finish();
  if (nside == 0 || !ivf) fs::remove(trained);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double index_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_index).count();
  nlohmann::json meta = {{"format", "astrofm-index"}, {"version", 1}, {"dataset", fs::absolute(dataset).string()},
                         {"column", col}, {"dim", d}, {"options", o.to_json()},
                         {"build_seconds", secs}, {"index_seconds", index_secs},
                         {"astrofm_version", ASTROFM_VERSION}};
  write_shards(stage.path(), shards, nside, meta);
  write_file_atomic(stage.path() / "meta.json", meta.dump(1));
  stage.commit();
}

int64_t SearchIndex::add(const std::string& dir, const std::string& dataset) {
  SearchIndex s = open(dir, /*writable=*/true);
  Dataset ds = Dataset::open(dataset);
  auto [col, d] = vector_column(ds, dataset, s.meta_["column"].get<std::string>());
  if (d != s.meta_["dim"].get<int64_t>())
    fail_input("{}: column '{}' has {} dimensions, the index {}", dataset, col, d, s.meta_["dim"].get<int64_t>());
  const int nside = s.opt_.shard_nside;
  const int64_t before = s.size();
  // Back into shards with their objects, to extend each in label order.
  ShardMap shards;
  for (size_t k = 0; k < s.shards_.size(); ++k) {
    auto& sh = s.shards_[k];
    int64_t end = k + 1 < s.shards_.size() ? s.shards_[k + 1].offset : before;
    ShardBuild b{std::move(sh.index), {s.ids_.begin() + sh.offset, s.ids_.begin() + end}, {s.ra_.begin() + sh.offset, s.ra_.begin() + end},
                 {s.dec_.begin() + sh.offset, s.dec_.begin() + end}};
    shards.emplace(sh.pixel, std::move(b));
  }
  const fs::path trained = fs::path(dir) / "trained.index";
  auto fresh = [&](int64_t) {
    if (s.opt_.kind.rfind("ivf", 0) == 0) {
      if (!fs::exists(trained) || !s.trained_) fail_input("{}: no trained.index to start a new sky shard from", dir);
      auto idx = VectorIndex::load(trained.string(), d, s.opt_);
      idx->share_quantizer(*s.trained_);
      return idx;
    }
    return VectorIndex::create(d, s.opt_);
  };
  Progress bar("index add", ds.rows());
  stream_vectors(ds, dataset, col, d, s.opt_.metric == "cosine", [&](const float* x, int64_t m, const Table& b) {
    for (const auto& i : b.at(mmu::kObjectId).strings)
      if (!s.row_.emplace(i, -1).second) fail_input("{}: object '{}' is already in the index {}", dataset, i, dir);
    add_to_shards(shards, nside, x, m, d, b, dataset, fresh);
    bar.advance(m);
  });
  bar.finish();
  // The new folder replaces the old one only when complete.
  StagedDir stage(dir, /*overwrite=*/true);
  if (fs::exists(trained)) fs::copy_file(trained, stage.path() / "trained.index");
  const int64_t added = write_shards(stage.path(), shards, nside, s.meta_) - before;
  s.meta_["added"].push_back({{"dataset", fs::absolute(dataset).string()}, {"count", added}});
  write_file_atomic(stage.path() / "meta.json", s.meta_.dump(1));
  stage.commit();
  return added;
}

SearchIndex SearchIndex::open(const std::string& dir, bool writable) {
  SearchIndex s;
  s.dir_ = dir;
  fs::path m = fs::path(dir) / "meta.json";
  if (!fs::exists(m)) fail_input("{}: not an astrofm index (no meta.json)", dir);
  try {
    s.meta_ = nlohmann::json::parse(read_file(m.string()));
  } catch (const nlohmann::json::exception& e) {
    fail_input("{}: unreadable ({})", m.string(), e.what());
  }
  if (s.meta_.value("format", "") != "astrofm-index") fail_input("{}: not an astrofm index", m.string());
  if (s.meta_.value("version", 0) > 2) fail_input("{}: index format version {} is newer than this astrofm reads (2)", m.string(), s.meta_["version"].dump());
  try {
    s.opt_ = IndexOptions::from_json(s.meta_["options"]);
    s.opt_.check();
    read_objects((fs::path(dir) / "objects.bin").string(), s.ids_, s.ra_, s.dec_);
    for (size_t i = 0; i < s.ids_.size(); ++i) s.row_[s.ids_[i]] = static_cast<int64_t>(i);
    const int64_t dim = s.meta_["dim"];
    if (s.opt_.shard_nside == 0) {
      s.shards_.push_back({0, 0, VectorIndex::load((fs::path(dir) / "index").string(), dim, s.opt_, /*mmap=*/!writable)});
    } else {
      // IVF shards carry only their lists: the quantizer comes from trained.index, once.
      if (s.opt_.kind.rfind("ivf", 0) == 0) s.trained_ = VectorIndex::load((fs::path(dir) / "trained.index").string(), dim, s.opt_);
      int64_t offset = 0;
      for (const auto& sh : s.meta_.at("shards")) {
        int64_t pixel = sh.at("pixel");
        auto idx = VectorIndex::load((fs::path(dir) / "shards" / (std::to_string(pixel) + ".index")).string(), dim, s.opt_, !writable);
        if (s.trained_) idx->share_quantizer(*s.trained_);
        if (idx->size() != sh.at("count").get<int64_t>())
          fail_input("{}: shard {} holds {} vectors, meta.json says {}", dir, pixel, idx->size(), sh.at("count").dump());
        int64_t count = idx->size();
        s.shards_.push_back({pixel, offset, std::move(idx)});
        offset += count;
      }
    }
  } catch (const nlohmann::json::exception& e) {
    fail_input("{}: malformed ({})", m.string(), e.what());
  }
  int64_t total = 0;
  for (const auto& sh : s.shards_) total += sh.index->size();
  if (total != static_cast<int64_t>(s.ids_.size()))
    fail_input("{}: the index holds {} vectors but objects.bin {} objects", dir, total, s.ids_.size());
  return s;
}

int64_t SearchIndex::row_of(const std::string& id) const {
  auto it = row_.find(id);
  return it == row_.end() ? -1 : it->second;
}

size_t SearchIndex::shard_of_row(int64_t row) const {
  auto it = std::upper_bound(shards_.begin(), shards_.end(), row, [](int64_t r, const Shard& s) { return r < s.offset; });
  return static_cast<size_t>(it - shards_.begin()) - 1;
}

void SearchIndex::knn(const float* q, int64_t nq, int k, float* scores, int64_t* rows, const std::vector<size_t>* only) const {
  const bool l2 = opt_.metric == "l2";
  std::vector<size_t> all;
  if (!only) {
    for (size_t i = 0; i < shards_.size(); ++i) all.push_back(i);
    only = &all;
  }
  if (only->size() == 1) {
    const Shard& s = shards_[(*only)[0]];
    s.index->search(q, nq, k, scores, rows);
    for (int64_t i = 0; i < nq * k; ++i)
      if (rows[i] >= 0) rows[i] += s.offset;
    return;
  }
  // Each shard's top-k, then the best k of their union for each query. IVF
  // shards: the query is assigned to its lists once, by the shared quantizer.
  std::vector<int64_t> lists;
  std::vector<float> dis;
  const bool assigned = trained_ && trained_->coarse_assign(q, nq, lists, dis);
  std::vector<std::vector<float>> ss(only->size(), std::vector<float>(nq * k));
  std::vector<std::vector<int64_t>> ll(only->size(), std::vector<int64_t>(nq * k));
  for (size_t j = 0; j < only->size(); ++j) {
    const Shard& s = shards_[(*only)[j]];
    if (assigned) s.index->search_assigned(q, nq, k, lists, dis, ss[j].data(), ll[j].data());
    else s.index->search(q, nq, k, ss[j].data(), ll[j].data());
    for (auto& l : ll[j])
      if (l >= 0) l += s.offset;
  }
  std::vector<std::pair<float, int64_t>> cand;
  for (int64_t i = 0; i < nq; ++i) {
    cand.clear();
    for (size_t j = 0; j < only->size(); ++j)
      for (int a = 0; a < k; ++a)
        if (ll[j][i * k + a] >= 0) cand.push_back({ss[j][i * k + a], ll[j][i * k + a]});
    size_t top = std::min<size_t>(k, cand.size());
    std::partial_sort(cand.begin(), cand.begin() + top, cand.end(),
                      [&](const auto& a, const auto& b) { return a.first != b.first ? better(a.first, b.first, l2) : a.second < b.second; });
    for (int a = 0; a < k; ++a) {
      bool have = a < static_cast<int>(top);
      scores[i * k + a] = have ? cand[a].first : NAN;
      rows[i * k + a] = have ? cand[a].second : -1;
    }
  }
}

void SearchIndex::preload(const std::vector<std::string>& more) {
  std::vector<std::string> cols = {meta_["column"].get<std::string>()};
  for (const auto& c : more)
    if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
  for (const auto& col : cols) {
    FeatureSet f = load_features(meta_["dataset"], {col});
    std::vector<float> v(static_cast<size_t>(size()) * f.x.d, NAN);
    const auto& fid = f.rows.at(mmu::kObjectId).strings;
    for (int64_t i = 0; i < f.x.n; ++i) {
      int64_t r = row_of(fid[i]);
      if (r >= 0) std::copy(f.x.row(i), f.x.row(i) + f.x.d, v.begin() + r * f.x.d);
    }
    cache_[col] = std::move(v);
  }
}

std::vector<float> SearchIndex::vector_of(const std::string& id, const std::string& column) const {
  if (auto it = cache_.find(column); it != cache_.end()) {
    int64_t r = row_of(id);
    if (r < 0) fail_not_found("object '{}' is not in the index {}", id, dir_);
    int64_t d = static_cast<int64_t>(it->second.size()) / std::max<int64_t>(1, size());
    std::vector<float> v(it->second.begin() + r * d, it->second.begin() + (r + 1) * d);
    for (float x : v)
      if (!std::isfinite(x)) fail_not_found("object '{}' has no '{}' in {}", id, column, meta_["dataset"].get<std::string>());
    return v;
  }
  std::string dataset = meta_["dataset"];
  ObjectLookup lookup(Dataset::open(dataset));
  if (!lookup.contains(id)) fail_not_found("object '{}' is not in {}", id, dataset);
  Table t = lookup.get({id}, {column});
  const Column& c = t.at(column);
  std::vector<float> v(c.row_elems());
  for (size_t j = 0; j < v.size(); ++j) v[j] = static_cast<float>(c.as_double(j));
  return v;
}

std::vector<Hit> SearchIndex::search(const SearchRequest& r) const {
  int64_t d = meta_["dim"];
  bool l2 = opt_.metric == "l2";
  std::vector<float> q = r.vector;
  int64_t query_row = -1;
  if (!r.id.empty()) {
    query_row = row_of(r.id);
    q = vector_of(r.id, r.query_column.empty() ? meta_["column"].get<std::string>() : r.query_column);
  }
  if (static_cast<int64_t>(q.size()) != d)
    fail_input("the query vector has {} dimensions, the index {} ({} of {})", q.size(), d, meta_["column"].get<std::string>(),
               meta_["dataset"].get<std::string>());
  for (float v : q)
    if (!std::isfinite(v)) fail_input("the query vector holds {}", v);
  if (!l2) normalise(q.data(), 1, d);
  double qra = query_row >= 0 ? ra_[query_row] : NAN, qdec = query_row >= 0 ? dec_[query_row] : NAN;

  std::vector<Hit> cand;
  const int64_t want = std::min<int64_t>(size(), r.k + 1 + (r.dedup_arcsec > 0 ? 3 * r.k : 0));
  auto by_score = [&](const Hit& a, const Hit& b) { return better(a.score, b.score, l2); };
  bool crowded = r.cone_exact_limit <= 0;  // the cone holds more than cone_exact_limit objects (0: always searched through the index)
  auto score = [&](std::vector<float>& v) {
    if (!l2) normalise(v.data(), 1, d);
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += l2 ? (v[j] - q[j]) * (v[j] - q[j]) : double(v[j]) * q[j];
    return static_cast<float>(s);
  };
  auto cached = cache_.find(meta_["column"].get<std::string>());
  if (crowded) {
    // straight to the index
  } else if (r.cone && cached != cache_.end()) {
    // Exact within the cone, from memory.
    auto [cra, cdec, rad] = *r.cone;
    std::vector<float> v(d);
    for (int64_t i = 0; i < size() && !crowded; ++i) {
      if (!(sky::separation_deg(cra, cdec, ra_[i], dec_[i]) <= rad)) continue;
      std::copy(cached->second.begin() + i * d, cached->second.begin() + (i + 1) * d, v.begin());
      if (!std::isfinite(v[0])) continue;  // an index row the catalogue lacks (preloaded as NaN)
      cand.push_back({ids_[i], ra_[i], dec_[i], score(v), i});
      crowded = static_cast<int64_t>(cand.size()) > r.cone_exact_limit;
    }
  } else if (r.cone) {
    // Exact within the cone: read only the partitions that can hold it.
    auto [cra, cdec, rad] = *r.cone;
    Dataset ds = Dataset::open(meta_["dataset"]);
    std::string col = meta_["column"];
    DatasetReader rd(ds, {.columns = {mmu::kObjectId, mmu::kRa, mmu::kDec, col}, .batch_rows = 4096,
                          .healpix = sky::cone_partitions(cra, cdec, rad)});
    Table b;
    std::vector<float> v(d);
    while (!crowded && rd.next(b)) {
      const Column& vc = b.at(col);
      for (int64_t i = 0; i < b.rows() && !crowded; ++i) {
        double ra = b.at(mmu::kRa).as_double(i), dec = b.at(mmu::kDec).as_double(i);
        if (!(sky::separation_deg(cra, cdec, ra, dec) <= rad)) continue;
        for (int64_t j = 0; j < d; ++j) v[j] = static_cast<float>(vc.as_double(i * d + j));
        const std::string& id = b.at(mmu::kObjectId).strings[i];
        cand.push_back({id, ra, dec, score(v), row_of(id)});
        crowded = static_cast<int64_t>(cand.size()) > r.cone_exact_limit;
      }
    }
  }
  if (r.cone && crowded) {
    // A large cone: the index's own search over the shards the cone overlaps,
    // keeping the hits inside, with k widened until enough are found.
    auto [cra, cdec, rad] = *r.cone;
    std::vector<size_t> overlap;
    std::vector<int64_t> pix;
    if (opt_.shard_nside > 0) pix = sky::cone_pixels(opt_.shard_nside, cra, cdec, rad);
    int64_t rows = 0;
    for (size_t i = 0; i < shards_.size(); ++i)
      if (opt_.shard_nside == 0 || std::binary_search(pix.begin(), pix.end(), shards_[i].pixel))
        overlap.push_back(i), rows += shards_[i].index->size();
    for (int64_t kk = std::min(rows, 4 * want);; kk = std::min(rows, 4 * kk)) {
      std::vector<float> s(kk);
      std::vector<int64_t> l(kk);
      knn(q.data(), 1, static_cast<int>(kk), s.data(), l.data(), &overlap);
      cand.clear();
      int64_t found = 0;
      for (int64_t i = 0; i < kk; ++i) {
        if (l[i] < 0) continue;
        ++found;
        if (sky::separation_deg(cra, cdec, ra_[l[i]], dec_[l[i]]) <= rad) cand.push_back({ids_[l[i]], ra_[l[i]], dec_[l[i]], s[i], l[i]});
      }
      // Enough inside, every object seen, or the index has no more to give (IVF's probed lists).
      if (static_cast<int64_t>(cand.size()) >= want || kk >= rows || found < kk) break;
    }
  } else if (r.cone) {
    std::sort(cand.begin(), cand.end(), by_score);
  } else {
    std::vector<float> s(want);
    std::vector<int64_t> l(want);
    knn(q.data(), 1, static_cast<int>(want), s.data(), l.data());
    for (int64_t i = 0; i < want; ++i)
      if (l[i] >= 0) cand.push_back({ids_[l[i]], ra_[l[i]], dec_[l[i]], s[i], l[i]});
  }
  std::vector<Hit> out;
  double dedup_deg = r.dedup_arcsec / 3600.0;
  for (auto& h : cand) {
    if (static_cast<int>(out.size()) >= r.k) break;
    if (r.exclude_query && !r.id.empty() && h.object_id == r.id) continue;
    if (dedup_deg > 0) {
      bool near = std::isfinite(qra) && sky::separation_deg(qra, qdec, h.ra, h.dec) < dedup_deg;
      for (const auto& k : out) near = near || sky::separation_deg(k.ra, k.dec, h.ra, h.dec) < dedup_deg;
      if (near) continue;
    }
    out.push_back(h);
  }
  return out;
}

nlohmann::json SearchIndex::evaluate(int64_t queries, int k, uint64_t seed) const {
  FeatureSet f = load_features(meta_["dataset"], {meta_["column"].get<std::string>()});
  bool l2 = opt_.metric == "l2";
  if (!l2) normalise(f.x.x.data(), f.x.n, f.x.d);
  queries = std::min(queries, f.x.n);
  std::vector<int64_t> rows(f.x.n);
  std::iota(rows.begin(), rows.end(), 0);
  std::shuffle(rows.begin(), rows.end(), std::mt19937_64(seed));
  rows.resize(queries);
  Features q = take_rows(f.x, rows);
  IndexOptions exact = opt_;
  exact.kind = "flat";
  auto flat = VectorIndex::create(f.x.d, exact);
  flat->add(f.x.x.data(), f.x.n);
  std::vector<float>().swap(f.x.x);  // the flat index holds its own copy: 4 n d bytes, not 8
  std::vector<float> se(queries * k), sa(queries * k);
  std::vector<int64_t> le(queries * k), la(queries * k);
  auto t0 = std::chrono::steady_clock::now();
  flat->search(q.x.data(), queries, k, se.data(), le.data());
  auto t1 = std::chrono::steady_clock::now();
  knn(q.x.data(), queries, k, sa.data(), la.data());
  auto t2 = std::chrono::steady_clock::now();
  // The exact search runs on the source dataset's rows; map them to index rows by id.
  std::vector<int64_t> to_index(f.x.n);
  for (int64_t i = 0; i < f.x.n; ++i) to_index[i] = row_of(f.rows.at(mmu::kObjectId).strings[i]);
  double hits = 0;
  for (int64_t i = 0; i < queries; ++i)
    for (int a = 0; a < k; ++a)
      for (int e = 0; e < k; ++e)
        if (la[i * k + a] >= 0 && le[i * k + e] >= 0 && la[i * k + a] == to_index[le[i * k + e]]) hits += 1;
  double exact_s = std::chrono::duration<double>(t1 - t0).count(), approx_s = std::chrono::duration<double>(t2 - t1).count();
  return {{"queries", queries}, {"k", k}, {"recall_at_k", hits / (queries * k)}, {"index_queries_per_s", queries / approx_s},
          {"exact_queries_per_s", queries / exact_s}, {"kind", opt_.kind}, {"objects", f.x.n}, {"shards", shards()}};
}

}  // namespace astrofm
