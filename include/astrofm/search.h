#pragma once
// Similarity search over embedding catalogues. A small index interface
// (faiss style: train / add / search, a kind string) over Debian's FAISS
// (exact flat search, IVF-PQ, HNSW) and hnswlib (HNSW), plus the catalogue
// around it: object ids and sky positions, the dataset and column it came
// from, queries by id or vector, across modalities, inside a sky cone, with
// near-duplicates removed. Torch-free.
// Thread-safety: build() is a job of its own; an opened SearchIndex is immutable and search() is
// safe to call concurrently (FAISS and hnswlib searches do not modify the index; the search beam
// is set when the index opens).
#include <cstdint>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/catalogue.h"
#include "astrofm/table.h"

namespace astrofm {

struct IndexOptions {
  std::string kind = "flat";      // flat (exact) | hnsw | ivfpq | ivfsq8 (int8 codes) | ivffp16
  std::string metric = "cosine";  // cosine (unit vectors, inner product) | l2
  std::string hnsw_backend = "hnswlib";  // hnswlib | faiss (see bench/README.md for the measurement behind the default)
  int hnsw_m = 32, ef_construction = 200, ef_search = 128;
  int64_t nlist = 0;              // ivf*: inverted lists; 0 = 4 sqrt(n)
  int pq_m = 0;                   // ivfpq: sub-quantizers; 0 = d / 4 (8-bit codes)
  int nprobe = 32;                // ivf*: lists visited per query
  // 0: one index. N > 0: one index per HEALPix pixel (nested) at NSIDE N,
  // sharing one trained quantizer; a query merges the shards' top-k and a
  // cone query visits only the shards it overlaps (docs/search.md).
  int shard_nside = 0;
  void check() const;  // UsageError on an unknown kind, metric or backend
  nlohmann::json to_json() const;
  static IndexOptions from_json(const nlohmann::json& j);
};

// The vector index proper. Scores: inner product for cosine (higher is
// closer), squared distance for l2 (lower is closer).
class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  static std::unique_ptr<VectorIndex> create(int64_t dim, const IndexOptions& o);
  // mmap: IVF kinds map their codes read-only instead of reading them (add() then refuses).
  static std::unique_ptr<VectorIndex> load(const std::string& path, int64_t dim, const IndexOptions& o, bool mmap = false);
  virtual void train(const float* x, int64_t n) = 0;  // no-op for flat and hnsw
  virtual void reserve(int64_t n) { (void)n; }       // room for n vectors in all (hnswlib allocates up front)
  virtual void add(const float* x, int64_t n) = 0;    // ids are 0, 1, ... in order of addition
  // labels -1 where fewer than k results exist.
  virtual void search(const float* q, int64_t nq, int k, float* scores, int64_t* labels) const = 0;
  virtual void save(const std::string& path) const = 0;
  virtual int64_t size() const = 0;
  // Shards of one IVF index (SearchIndex, --shard-nside) share the trained
  // index's coarse quantizer: in memory (share_quantizer; `trained` must
  // outlive this index), on disk (save_shard writes the lists and an empty
  // stand-in for the quantizer) and at query time (the query is assigned to
  // its nprobe lists once, then every shard scans its part of those lists).
  // Other kinds: no-ops, save, and false.
  virtual void share_quantizer(const VectorIndex& trained) { (void)trained; }
  virtual void save_shard(const std::string& path) const { save(path); }
  virtual bool coarse_assign(const float* q, int64_t nq, std::vector<int64_t>& lists, std::vector<float>& dis) const {
    (void)q, (void)nq, (void)lists, (void)dis;
    return false;
  }
  virtual void search_assigned(const float* q, int64_t nq, int k, const std::vector<int64_t>& lists, const std::vector<float>& dis,
                               float* scores, int64_t* labels) const {
    (void)lists, (void)dis;
    search(q, nq, k, scores, labels);
  }
};

struct Hit {
  std::string object_id;
  double ra = 0, dec = 0;
  float score = 0;       // cosine similarity or squared L2 distance
  int64_t row = -1;      // row in the index
};

struct SearchRequest {
  std::string id;                    // query object (looked up in the source dataset), or
  std::vector<float> vector;         // a query vector
  std::string query_column;          // column of the query object's vector; default: the index's column (--cross a:b sets a)
  int k = 10;
  std::optional<std::array<double, 3>> cone;  // ra, dec, radius (deg): only objects inside
  double dedup_arcsec = 0;           // drop hits closer than this on the sky to a better hit (or the query)
  bool exclude_query = true;         // leave the query object out of its own results
  // A cone holding at most this many objects is searched exactly among its
  // objects; a larger one searches the index (the shards it overlaps) and
  // keeps the hits inside, widening k until k of them are found.
  int64_t cone_exact_limit = 50000;
};

// An index with its catalogue, saved as a folder: index (FAISS or hnswlib
// file) or shards/<pixel>.index (sharded by sky region), objects.bin (ids,
// ra, dec in index order; shard by shard), meta.json.
class SearchIndex {
 public:
  static void build(const std::string& dataset, const std::string& column, const std::string& out, const IndexOptions& o,
                    bool overwrite = false);
  // IVF kinds are memory-mapped unless `writable`.
  static SearchIndex open(const std::string& dir, bool writable = false);
  // Incremental add: the objects of another catalogue of the same column and
  // dimension, with the index's trained quantizer (no retraining); an id
  // already in the index is an error. Returns the objects added. The folder
  // is replaced atomically.
  static int64_t add(const std::string& dir, const std::string& dataset);
  std::vector<Hit> search(const SearchRequest& r) const;
  // recall@k of the index against exact search, for `queries` objects drawn from the catalogue.
  nlohmann::json evaluate(int64_t queries, int k, uint64_t seed) const;
  const nlohmann::json& meta() const { return meta_; }
  int64_t size() const { return cat_.size(); }
  int64_t shards() const { return static_cast<int64_t>(shards_.size()); }
  // The vector of one object from the source dataset's `column`.
  std::vector<float> vector_of(const std::string& object_id, const std::string& column) const;
  // Reads the index column and `more` columns of the source catalogue into
  // memory (for a service): afterwards queries by id, cross-modal queries on
  // those columns and cone queries touch no file, so search() runs fully in
  // parallel. Not thread-safe itself: call before sharing the index.
  void preload(const std::vector<std::string>& more = {});
  // A preloaded column, every object's vector in index order (NaN where the
  // catalogue lacks it); null when that column was not preloaded.
  const std::vector<float>* preloaded(const std::string& column) const {
    auto it = cache_.find(column);
    return it == cache_.end() ? nullptr : &it->second;
  }
  // Its objects in index order: ids, positions, the id -> row map, cones.
  const Catalogue& catalogue() const { return cat_; }
  const std::vector<std::string>& ids() const { return cat_.ids(); }
  const std::vector<double>& ra() const { return cat_.ra(); }
  const std::vector<double>& dec() const { return cat_.dec(); }
  bool contains(const std::string& id) const { return cat_.contains(id); }
  int64_t row(const std::string& id) const { return cat_.row(id); }  // -1 when absent

 private:
  std::string dir_;
  nlohmann::json meta_;
  IndexOptions opt_;
  // One shard (pixel 0) unless sharded; index rows are shard by shard:
  // global row = offset + the shard's own label.
  struct Shard {
    int64_t pixel = 0, offset = 0;
    std::unique_ptr<VectorIndex> index;
  };
  std::vector<Shard> shards_;
  std::unique_ptr<VectorIndex> trained_;  // sharded IVF: the coarse quantizer every shard uses
  Catalogue cat_;
  std::unordered_map<std::string, std::vector<float>> cache_;  // preloaded columns, rows in index order
  int64_t row_of(const std::string& id) const { return cat_.row(id); }
  // Merged top-k over the shards listed (all when null): global rows.
  void knn(const float* q, int64_t nq, int k, float* scores, int64_t* rows, const std::vector<size_t>* only = nullptr) const;
};

// A PNG strip of the query's and its neighbours' images (object_ids looked up
// in `images`, an MMU dataset with image_array): 8-bit colour cutouts as they
// are, Legacy-Survey g, r, z flux through an asinh stretch. The query gets a
// red frame; objects without an image are left grey.
void write_neighbour_grid(const std::string& path, const std::string& images, const std::vector<std::string>& ids, int cell = 96);
// Cutouts of `ids` in rows of `columns` (0: one row) as PNG bytes; the same colour mapping.
struct CutoutGridOptions {
  int cell = 96;
  int columns = 0;
  bool frame_first = false;  // a red frame around the first (the query)
};
std::string cutout_grid_png(const std::string& images, const std::vector<std::string>& ids, const CutoutGridOptions& o = {});
// The one display stretch of every picture of a cutout (the web page's
// cutouts, neighbour grids, discovery reports, Python's display_rgb): row
// `row` of image_array as RGB floats in [0, 1], [3][h][w]. Legacy-Survey
// g, r, z flux (DECam bands by the band table) through a Lupton-style asinh
// of the mean intensity, z r g as R G B; anything else (8-bit colour
// cutouts) as it is. Models see their own preprocessing, not this.
std::vector<float> display_rgb(const Column& image_array, const Column* image_band, int64_t row, int64_t& h, int64_t& w);
// One object's image (row `row` of image_array, bands from image_band) as PNG
// bytes, `cell` pixels square, through display_rgb.
std::string cutout_png(const Column& image_array, const Column* image_band, int64_t row, int cell = 128);

}  // namespace astrofm
