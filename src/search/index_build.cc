// Building and extending an index folder: streaming the catalogue (never
// all of it in memory), training IVF kinds on a sample, routing objects to
// sky shards, writing the folder atomically (docs/formats/index-folder.md).
#include "astrofm/search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/features.h"
#include "astrofm/fsutil.h"
#include "astrofm/mmu.h"
#include "astrofm/progress.h"
#include "astrofm/sky.h"
#include "internal.h"

namespace astrofm {
namespace fs = std::filesystem;
using search_internal::kObjectsMagic;
using search_internal::normalise;
namespace {

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
  // Sharded IVF: every shard starts as a copy of one trained (empty) index
  // and uses its coarse quantizer; trained.index stays for `index add`.
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
    if (nside > 0) tmpl->save(trained.string());
  }
  auto fresh = [&](int64_t pixel) {
    std::unique_ptr<VectorIndex> idx;
    if (!ivf) idx = VectorIndex::create(d, o);
    else if (nside == 0) idx = std::move(tmpl);  // the one index is the trained one
    else {
      idx = VectorIndex::load(trained.string(), d, o);
      idx->share_quantizer(*tmpl);
    }
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
    const auto& ids = s.ids();
    const auto &ra = s.ra(), &dec = s.dec();
    ShardBuild b{std::move(sh.index), {ids.begin() + sh.offset, ids.begin() + end}, {ra.begin() + sh.offset, ra.begin() + end},
                 {dec.begin() + sh.offset, dec.begin() + end}};
    shards.emplace(sh.pixel, std::move(b));
  }
  const fs::path trained = fs::path(dir) / "trained.index";
  auto fresh = [&](int64_t) {
    if (s.opt_.kind.rfind("ivf", 0) == 0) {
      if (!s.trained_) fail_input("{}: no trained.index to start a new sky shard from", dir);
      auto idx = VectorIndex::load(trained.string(), d, s.opt_);
      idx->share_quantizer(*s.trained_);
      return idx;
    }
    return VectorIndex::create(d, s.opt_);
  };
  Progress bar("index add", ds.rows());
  std::unordered_set<std::string> added_ids;
  stream_vectors(ds, dataset, col, d, s.opt_.metric == "cosine", [&](const float* x, int64_t m, const Table& b) {
    for (const auto& i : b.at(mmu::kObjectId).strings)
      if (s.contains(i) || !added_ids.insert(i).second) fail_input("{}: object '{}' is already in the index {}", dataset, i, dir);
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

}  // namespace astrofm
