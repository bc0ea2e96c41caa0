#include "astrofm/search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
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

void SearchIndex::build(const std::string& dataset, const std::string& column, const std::string& out, const IndexOptions& opt,
                        bool overwrite) {
  opt.check();
  if (fs::exists(out) && !overwrite) fail_input("{} already exists (pass --overwrite)", out);
  auto t0 = std::chrono::steady_clock::now();
  Dataset ds = Dataset::open(dataset);
  auto [col, d] = vector_column(ds, dataset, column);
  const int64_t n = ds.rows();
  if (n == 0) fail_input("{}: no objects to index", dataset);
  // Streamed in two passes, never the whole catalogue in memory: a sample
  // spread over the catalogue trains IVF kinds, then every vector is added.
  IndexOptions o = opt;
  const bool ivf = o.kind.rfind("ivf", 0) == 0;
  if (ivf && o.nlist <= 0) o.nlist = std::max<int64_t>(1, static_cast<int64_t>(4 * std::sqrt(static_cast<double>(n))));
  auto index = VectorIndex::create(d, o);
  index->reserve(n);
  spdlog::info("indexing {} vectors of {} dimensions ({}{})", n, d, o.kind, o.kind == "hnsw" ? ", " + o.hnsw_backend : "");
  auto t_index = std::chrono::steady_clock::now();
  const bool cosine = o.metric == "cosine";
  if (ivf) {
    const int64_t want = std::min<int64_t>(n, 64 * o.nlist), stride = std::max<int64_t>(1, n / want);
    std::vector<float> sample;
    int64_t row = 0;
    stream_vectors(ds, dataset, col, d, cosine, [&](const float* x, int64_t m, const Table&) {
      for (int64_t i = 0; i < m; ++i, ++row)
        if (row % stride == 0 && static_cast<int64_t>(sample.size()) < want * d) sample.insert(sample.end(), x + i * d, x + (i + 1) * d);
    });
    spdlog::info("training {} lists on {} sampled vectors", o.nlist, sample.size() / d);
    index->train(sample.data(), static_cast<int64_t>(sample.size()) / d);
  }
  std::vector<std::string> ids;
  std::vector<double> ra, dec;
  ids.reserve(n), ra.reserve(n), dec.reserve(n);
  Progress bar("index add", n);
  stream_vectors(ds, dataset, col, d, cosine, [&](const float* x, int64_t m, const Table& b) {
    index->add(x, m);
    const auto& id = b.at(mmu::kObjectId).strings;
    ids.insert(ids.end(), id.begin(), id.end());
    for (int64_t i = 0; i < m; ++i) ra.push_back(b.at(mmu::kRa).as_double(i)), dec.push_back(b.at(mmu::kDec).as_double(i));
    bar.advance(m);
  });
  bar.finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double index_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_index).count();
  StagedDir stage(out, overwrite);
  index->save((fs::path(stage.path()) / "index").string());
  write_file_atomic(fs::path(stage.path()) / "objects.bin", objects_blob(ids, ra, dec));
  nlohmann::json meta = {{"format", "astrofm-index"}, {"version", 1}, {"dataset", fs::absolute(dataset).string()},
                         {"column", col}, {"dim", d}, {"count", n}, {"options", o.to_json()},
                         {"build_seconds", secs}, {"index_seconds", index_secs},
                         {"astrofm_version", ASTROFM_VERSION}};
  write_file_atomic(fs::path(stage.path()) / "meta.json", meta.dump(1));
  stage.commit();
}

int64_t SearchIndex::add(const std::string& dir, const std::string& dataset) {
  SearchIndex s = open(dir, /*writable=*/true);
  Dataset ds = Dataset::open(dataset);
  auto [col, d] = vector_column(ds, dataset, s.meta_["column"].get<std::string>());
  if (d != s.meta_["dim"].get<int64_t>())
    fail_input("{}: column '{}' has {} dimensions, the index {}", dataset, col, d, s.meta_["dim"].get<int64_t>());
  int64_t before = s.index_->size();
  s.index_->reserve(before + ds.rows());
  Progress bar("index add", ds.rows());
  stream_vectors(ds, dataset, col, d, s.opt_.metric == "cosine", [&](const float* x, int64_t m, const Table& b) {
    const auto& id = b.at(mmu::kObjectId).strings;
    for (const auto& i : id)
      if (!s.row_.emplace(i, static_cast<int64_t>(s.ids_.size())).second) fail_input("{}: object '{}' is already in the index {}", dataset, i, dir);
      else s.ids_.push_back(i);
    for (int64_t i = 0; i < m; ++i) s.ra_.push_back(b.at(mmu::kRa).as_double(i)), s.dec_.push_back(b.at(mmu::kDec).as_double(i));
    s.index_->add(x, m);
    bar.advance(m);
  });
  bar.finish();
  // The new folder replaces the old one only when complete.
  StagedDir stage(dir, /*overwrite=*/true);
  s.index_->save((fs::path(stage.path()) / "index").string());
  write_file_atomic(fs::path(stage.path()) / "objects.bin", objects_blob(s.ids_, s.ra_, s.dec_));
  s.meta_["count"] = s.index_->size();
  const int64_t added = s.index_->size() - before;
  s.meta_["added"].push_back({{"dataset", fs::absolute(dataset).string()}, {"count", added}});
  write_file_atomic(fs::path(stage.path()) / "meta.json", s.meta_.dump(1));
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
  if (s.meta_.value("version", 0) > 1) fail_input("{}: index format version {} is newer than this astrofm reads (1)", m.string(), s.meta_["version"].dump());
  s.opt_ = IndexOptions::from_json(s.meta_["options"]);
  read_objects((fs::path(dir) / "objects.bin").string(), s.ids_, s.ra_, s.dec_);
  for (size_t i = 0; i < s.ids_.size(); ++i) s.row_[s.ids_[i]] = static_cast<int64_t>(i);
  s.index_ = VectorIndex::load((fs::path(dir) / "index").string(), s.meta_["dim"], s.opt_, /*mmap=*/!writable);
  if (s.index_->size() != static_cast<int64_t>(s.ids_.size()))
    fail_input("{}: the index holds {} vectors but objects.bin {} objects", dir, s.index_->size(), s.ids_.size());
  return s;
}

int64_t SearchIndex::row_of(const std::string& id) const {
  auto it = row_.find(id);
  return it == row_.end() ? -1 : it->second;
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
  auto cached = cache_.find(meta_["column"].get<std::string>());
  if (r.cone && cached != cache_.end()) {
    // Exact within the cone, from memory.
    auto [cra, cdec, rad] = *r.cone;
    std::vector<float> v(d);
    for (int64_t i = 0; i < size(); ++i) {
      if (!(sky::separation_deg(cra, cdec, ra_[i], dec_[i]) <= rad)) continue;
      std::copy(cached->second.begin() + i * d, cached->second.begin() + (i + 1) * d, v.begin());
      if (!std::isfinite(v[0])) continue;  // an index row the catalogue lacks (preloaded as NaN)
      if (!l2) normalise(v.data(), 1, d);
      double s = 0;
      for (int64_t j = 0; j < d; ++j) s += l2 ? (v[j] - q[j]) * (v[j] - q[j]) : double(v[j]) * q[j];
      cand.push_back({ids_[i], ra_[i], dec_[i], static_cast<float>(s), i});
    }
    std::sort(cand.begin(), cand.end(), [&](const Hit& a, const Hit& b) { return better(a.score, b.score, l2); });
  } else if (r.cone) {
    // Exact within the cone: read only the partitions that can hold it.
    auto [cra, cdec, rad] = *r.cone;
    Dataset ds = Dataset::open(meta_["dataset"]);
    std::string col = meta_["column"];
    DatasetReader rd(ds, {.columns = {mmu::kObjectId, mmu::kRa, mmu::kDec, col}, .batch_rows = 4096,
                          .healpix = sky::cone_partitions(cra, cdec, rad)});
    Table b;
    std::vector<float> v(d);
    while (rd.next(b)) {
      const Column& vc = b.at(col);
      for (int64_t i = 0; i < b.rows(); ++i) {
        double ra = b.at(mmu::kRa).as_double(i), dec = b.at(mmu::kDec).as_double(i);
        if (!(sky::separation_deg(cra, cdec, ra, dec) <= rad)) continue;
        for (int64_t j = 0; j < d; ++j) v[j] = static_cast<float>(vc.as_double(i * d + j));
        if (!l2) normalise(v.data(), 1, d);
        double s = 0;
        for (int64_t j = 0; j < d; ++j) s += l2 ? (v[j] - q[j]) * (v[j] - q[j]) : double(v[j]) * q[j];
        cand.push_back({b.at(mmu::kObjectId).strings[i], ra, dec, static_cast<float>(s), row_of(b.at(mmu::kObjectId).strings[i])});
      }
    }
    std::sort(cand.begin(), cand.end(), [&](const Hit& a, const Hit& b) { return better(a.score, b.score, l2); });
  } else {
    int64_t want = std::min<int64_t>(size(), r.k + 1 + (r.dedup_arcsec > 0 ? 3 * r.k : 0));
    std::vector<float> s(want);
    std::vector<int64_t> l(want);
    index_->search(q.data(), 1, static_cast<int>(want), s.data(), l.data());
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
  index_->search(q.x.data(), queries, k, sa.data(), la.data());
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
          {"exact_queries_per_s", queries / exact_s}, {"kind", opt_.kind}, {"objects", f.x.n}};
}

}  // namespace astrofm
