// The vector index backends: Debian's FAISS 1.7.3 (flat, IVF-PQ, HNSW) and
// hnswlib 0.6 (HNSW).
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/index_io.h>
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "astrofm/error.h"
#include "astrofm/search.h"

namespace astrofm {

nlohmann::json IndexOptions::to_json() const {
  return {{"kind", kind}, {"metric", metric}, {"hnsw_backend", hnsw_backend}, {"hnsw_m", hnsw_m}, {"ef_construction", ef_construction},
          {"ef_search", ef_search}, {"nlist", nlist}, {"pq_m", pq_m}, {"nprobe", nprobe}, {"shard_nside", shard_nside}};
}

IndexOptions IndexOptions::from_json(const nlohmann::json& j) {
  IndexOptions o;
  o.kind = j.value("kind", o.kind);
  o.metric = j.value("metric", o.metric);
  o.hnsw_backend = j.value("hnsw_backend", o.hnsw_backend);
  o.hnsw_m = j.value("hnsw_m", o.hnsw_m);
  o.ef_construction = j.value("ef_construction", o.ef_construction);
  o.ef_search = j.value("ef_search", o.ef_search);
  o.nlist = j.value("nlist", o.nlist);
  o.pq_m = j.value("pq_m", o.pq_m);
  o.nprobe = j.value("nprobe", o.nprobe);
  o.shard_nside = j.value("shard_nside", o.shard_nside);
  return o;
}

namespace {

faiss::MetricType faiss_metric(const IndexOptions& o) { return o.metric == "l2" ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT; }

class FaissIndex : public VectorIndex {
 public:
  FaissIndex(int64_t d, const IndexOptions& o) : o_(o) {
    auto m = faiss_metric(o);
    if (o.kind == "flat") {
      index_.reset(m == faiss::METRIC_L2 ? static_cast<faiss::Index*>(new faiss::IndexFlatL2(d)) : new faiss::IndexFlatIP(d));
    } else if (o.kind == "hnsw") {
      auto* h = new faiss::IndexHNSWFlat(d, o.hnsw_m, m);
      h->hnsw.efConstruction = o.ef_construction;
      h->hnsw.efSearch = o.ef_search;
      index_.reset(h);
    } else {
      d_ = d;  // ivfpq: sized at train time, when n is known
    }
  }
  FaissIndex(faiss::Index* loaded, const IndexOptions& o, bool mapped) : o_(o), mapped_(mapped), index_(loaded) { tune(); }
  void train(const float* x, int64_t n) override {
    if (o_.kind.rfind("ivf", 0) != 0) return;
    int64_t nlist = o_.nlist > 0 ? o_.nlist : std::max<int64_t>(1, static_cast<int64_t>(4 * std::sqrt(static_cast<double>(n))));
    int pq_m = o_.pq_m > 0 ? o_.pq_m : static_cast<int>(d_ / 4);
    while (pq_m > 1 && d_ % pq_m) --pq_m;
    if (n < 39 * nlist) nlist = std::max<int64_t>(1, n / 39);  // FAISS wants ~39 training points per centroid
    quantizer_.reset(faiss_metric(o_) == faiss::METRIC_L2 ? static_cast<faiss::Index*>(new faiss::IndexFlatL2(d_))
                                                          : new faiss::IndexFlatIP(d_));
    faiss::IndexIVF* ivf = nullptr;
    if (o_.kind == "ivfpq") ivf = new faiss::IndexIVFPQ(quantizer_.get(), d_, nlist, pq_m, n >= 1024 ? 8 : 4, faiss_metric(o_));
    else  // ivfsq8: one byte per dimension; ivffp16: two
      ivf = new faiss::IndexIVFScalarQuantizer(quantizer_.get(), d_, nlist,
                                               o_.kind == "ivfsq8" ? faiss::ScalarQuantizer::QT_8bit : faiss::ScalarQuantizer::QT_fp16,
                                               faiss_metric(o_));
    index_.reset(ivf);
    ivf->train(n, x);
    tune();
  }
  void add(const float* x, int64_t n) override {
    if (!index_) fail_usage("{} index used before train()", o_.kind);
    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get()); ivf && mapped_)
      fail_usage("this index was opened memory-mapped (read-only); open it for writing to add vectors");
    index_->add(n, x);
  }
  void search(const float* q, int64_t nq, int k, float* s, int64_t* l) const override {
    std::vector<faiss::Index::idx_t> lab(nq * k);
    index_->search(nq, q, k, s, lab.data());
    std::copy(lab.begin(), lab.end(), l);
  }
  void save(const std::string& path) const override { faiss::write_index(index_.get(), path.c_str()); }
  int64_t size() const override { return index_ ? index_->ntotal : 0; }
  void share_quantizer(const VectorIndex& trained) override {
    auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get());
    const auto* from = dynamic_cast<const FaissIndex*>(&trained);
    const auto* src = from ? dynamic_cast<const faiss::IndexIVF*>(from->index_.get()) : nullptr;
    if (!ivf || !src) return;
    if (ivf->nlist != src->nlist || ivf->d != src->d) fail_input("a shard's IVF ({} lists, {} d) does not match trained.index ({}, {})", ivf->nlist, ivf->d, src->nlist, src->d);
    if (ivf->own_fields) delete ivf->quantizer;
    ivf->quantizer = src->quantizer;
    ivf->own_fields = false;
  }
  void save_shard(const std::string& path) const override {
    auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get());
    if (!ivf) return save(path);
    // The lists only: an empty stand-in takes the quantizer's place in the file.
    faiss::IndexFlat stand_in(ivf->d, ivf->metric_type);
    faiss::Index* q = ivf->quantizer;
    ivf->quantizer = &stand_in;
    try {
      faiss::write_index(ivf, path.c_str());
    } catch (...) {
      ivf->quantizer = q;
      throw;
    }
    ivf->quantizer = q;
  }
  bool coarse_assign(const float* q, int64_t nq, std::vector<int64_t>& lists, std::vector<float>& dis) const override {
    const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index_.get());
    if (!ivf) return false;
    const int64_t np = static_cast<int64_t>(ivf->nprobe);
    std::vector<faiss::Index::idx_t> a(nq * np);
    dis.resize(nq * np);
    ivf->quantizer->search(nq, q, np, dis.data(), a.data());
    lists.assign(a.begin(), a.end());
    return true;
  }
  void search_assigned(const float* q, int64_t nq, int k, const std::vector<int64_t>& lists, const std::vector<float>& dis, float* s,
                       int64_t* l) const override {
    const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index_.get());
    if (!ivf) return search(q, nq, k, s, l);
    std::vector<faiss::Index::idx_t> a(lists.begin(), lists.end()), lab(nq * k);
    ivf->search_preassigned(nq, q, k, a.data(), dis.data(), s, lab.data(), false);
    std::copy(lab.begin(), lab.end(), l);
  }

 private:
  void tune() {
    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get())) {
      ivf->nprobe = std::min<size_t>(o_.nprobe, ivf->nlist);
      ivf->own_fields = true;  // a loaded IVF owns its quantizer
      if (quantizer_) quantizer_.release();
    }
    if (auto* h = dynamic_cast<faiss::IndexHNSW*>(index_.get())) h->hnsw.efSearch = o_.ef_search;
  }
  IndexOptions o_;
  int64_t d_ = 0;
  bool mapped_ = false;
  std::unique_ptr<faiss::Index> quantizer_;
  std::unique_ptr<faiss::Index> index_;
};

class HnswlibIndex : public VectorIndex {
 public:
  HnswlibIndex(int64_t d, const IndexOptions& o) : o_(o), d_(d) {
    if (o.metric == "l2") space_ = std::make_unique<hnswlib::L2Space>(d);
    else space_ = std::make_unique<hnswlib::InnerProductSpace>(d);
  }
  void load(const std::string& path) {
    hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), path);
    hnsw_->setEf(o_.ef_search);
  }
  void train(const float*, int64_t) override {}
  void reserve(int64_t n) override {
    if (!hnsw_) hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), n, o_.hnsw_m, o_.ef_construction);
    else if (static_cast<size_t>(n) > hnsw_->max_elements_) hnsw_->resizeIndex(n);
  }
  void add(const float* x, int64_t n) override {
    size_t base = hnsw_ ? hnsw_->cur_element_count : 0;
    if (!hnsw_) hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), n, o_.hnsw_m, o_.ef_construction);
    else if (base + n > hnsw_->max_elements_) hnsw_->resizeIndex(base + n);
    parallel(n, [&](int64_t i) { hnsw_->addPoint(x + i * d_, base + i); });
    hnsw_->setEf(o_.ef_search);
  }
  void search(const float* q, int64_t nq, int k, float* s, int64_t* l) const override {
    parallel(nq, [&](int64_t i) {
      auto pq = hnsw_->searchKnn(q + i * d_, k);
      for (int j = k - 1; j >= 0; --j) {
        if (pq.empty()) {
          s[i * k + j] = NAN, l[i * k + j] = -1;
          continue;
        }
        auto [dist, label] = pq.top();  // farthest first
        pq.pop();
        s[i * k + j] = o_.metric == "l2" ? dist : 1.0f - dist;
        l[i * k + j] = static_cast<int64_t>(label);
      }
      // Fewer than k results: move them to the front.
      int64_t* row = l + i * k;
      float* srow = s + i * k;
      int first = 0;
      while (first < k && row[first] < 0) ++first;
      if (first > 0) {
        std::rotate(row, row + first, row + k);
        std::rotate(srow, srow + first, srow + k);
      }
    });
  }
  void save(const std::string& path) const override { hnsw_->saveIndex(path); }
  int64_t size() const override { return hnsw_ ? static_cast<int64_t>(hnsw_->cur_element_count) : 0; }

 private:
  template <class F>
  static void parallel(int64_t n, F f) {
    if (n == 1) return f(0);  // one query (a service request): no threads to start
    int threads = static_cast<int>(std::min<int64_t>(n, std::max(1u, std::thread::hardware_concurrency())));
    std::vector<std::thread> pool;
    std::atomic<int64_t> next{0};
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&] {
        for (int64_t i; (i = next.fetch_add(1)) < n;) f(i);
      });
    for (auto& t : pool) t.join();
  }
  IndexOptions o_;
  int64_t d_;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
};

}  // namespace

void IndexOptions::check() const {
  const IndexOptions& o = *this;
  if (o.kind != "flat" && o.kind != "hnsw" && o.kind != "ivfpq" && o.kind != "ivfsq8" && o.kind != "ivffp16")
    fail_usage("index kind '{}': flat, hnsw, ivfpq, ivfsq8 or ivffp16", o.kind);
  if (o.metric != "cosine" && o.metric != "l2") fail_usage("metric '{}': cosine or l2", o.metric);
  if (o.hnsw_backend != "hnswlib" && o.hnsw_backend != "faiss") fail_usage("hnsw backend '{}': hnswlib or faiss", o.hnsw_backend);
  if (o.shard_nside < 0 || o.shard_nside > 1024 || (o.shard_nside & (o.shard_nside - 1)) != 0)
    fail_usage("shard nside {}: 0 (no shards) or a power of two up to 1024", o.shard_nside);
}

std::unique_ptr<VectorIndex> VectorIndex::create(int64_t d, const IndexOptions& o) {
  o.check();
  if (o.kind == "hnsw" && o.hnsw_backend == "hnswlib") return std::make_unique<HnswlibIndex>(d, o);
  return std::make_unique<FaissIndex>(d, o);
}

std::unique_ptr<VectorIndex> VectorIndex::load(const std::string& path, int64_t d, const IndexOptions& o, bool mmap) {
  o.check();
  try {
    if (o.kind == "hnsw" && o.hnsw_backend == "hnswlib") {
      auto h = std::make_unique<HnswlibIndex>(d, o);
      h->load(path);
      return h;
    }
    // IVF kinds: the inverted lists (the codes, nearly all the bytes) are
    // memory-mapped, not read: opening costs the coarse quantizer only.
    bool map = mmap && o.kind.rfind("ivf", 0) == 0;
    return std::make_unique<FaissIndex>(faiss::read_index(path.c_str(), map ? faiss::IO_FLAG_MMAP : 0), o, map);
  } catch (const std::exception& e) {
    fail_input("{}: cannot read the index ({})", path, e.what());
  }
}

}  // namespace astrofm
