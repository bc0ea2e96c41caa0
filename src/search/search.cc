#include "astrofm/search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
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
#include "internal.h"

namespace astrofm {
namespace fs = std::filesystem;
using search_internal::kObjectsMagic;
using search_internal::normalise;

void search_internal::normalise(float* x, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += double(x[i * d + j]) * x[i * d + j];
    float inv = s > 0 ? static_cast<float>(1.0 / std::sqrt(s)) : 0.f;
    for (int64_t j = 0; j < d; ++j) x[i * d + j] *= inv;
  }
}

namespace {

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
    std::vector<std::string> ids;
    std::vector<double> ra, dec;
    const std::string objects = (fs::path(dir) / "objects.bin").string();
    read_objects(objects, ids, ra, dec);
    s.cat_ = Catalogue(std::move(ids), std::move(ra), std::move(dec), objects);
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
  if (total != s.size()) fail_input("{}: the index holds {} vectors but objects.bin {} objects", dir, total, s.size());
  return s;
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
  const auto& ids = cat_.ids();
  const auto &ras = cat_.ra(), &decs = cat_.dec();
  double qra = query_row >= 0 ? ras[query_row] : NAN, qdec = query_row >= 0 ? decs[query_row] : NAN;

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
    // Exact within the cone, from memory: the catalogue's pixel ranges, not a scan.
    auto [cra, cdec, rad] = *r.cone;
    std::vector<float> v(d);
    for (int64_t i : cat_.cone(cra, cdec, rad)) {
      if (crowded) break;
      std::copy(cached->second.begin() + i * d, cached->second.begin() + (i + 1) * d, v.begin());
      if (!std::isfinite(v[0])) continue;  // an index row the catalogue lacks (preloaded as NaN)
      cand.push_back({ids[i], ras[i], decs[i], score(v), i});
      crowded = static_cast<int64_t>(cand.size()) > r.cone_exact_limit;
    }
  } else if (r.cone) {
    // Exact within the cone: read only the partitions that can hold it.
    auto [cra, cdec, rad] = *r.cone;
    Dataset ds = Dataset::open(meta_["dataset"]);
    std::string col = meta_["column"];
    DatasetReader rd(ds, {.columns = {mmu::kObjectId, mmu::kRa, mmu::kDec, col}, .batch_rows = 4096, .cone = ReadOptions::Cone{cra, cdec, rad}});
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
        if (sky::separation_deg(cra, cdec, ras[l[i]], decs[l[i]]) <= rad) cand.push_back({ids[l[i]], ras[l[i]], decs[l[i]], s[i], l[i]});
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
      if (l[i] >= 0) cand.push_back({ids[l[i]], ras[l[i]], decs[l[i]], s[i], l[i]});
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
