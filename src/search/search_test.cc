#include "astrofm/search.h"

#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/sky.h"
#include "testutil.h"

namespace astrofm {
namespace {

// Clustered vectors (as embeddings are), with sky positions in a 10-degree patch.
struct Catalogue {
  std::vector<std::string> ids;
  std::vector<double> ra, dec;
  std::vector<float> a, b;  // two "modalities": b = a + noise
  int64_t n, d;
};

Catalogue make(int64_t n, int64_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  Catalogue c{{}, {}, {}, std::vector<float>(n * d), std::vector<float>(n * d), n, d};
  std::vector<float> centres(20 * d);
  for (auto& v : centres) v = g(rng) * 3;
  for (int64_t i = 0; i < n; ++i) {
    c.ids.push_back("obj" + std::to_string(i));
    c.ra.push_back(150 + 10 * u(rng));
    c.dec.push_back(10 * u(rng));
    int64_t k = static_cast<int64_t>(rng() % 20);
    for (int64_t j = 0; j < d; ++j) {
      c.a[i * d + j] = centres[k * d + j] + g(rng);
      c.b[i * d + j] = c.a[i * d + j] + 0.3f * g(rng);
    }
  }
  return c;
}

std::string write(const test::TempDir& tmp, const Catalogue& c) {
  Table t;
  t.add(make_string_column(mmu::kObjectId, c.ids));
  t.add(make_column(mmu::kRa, c.ra));
  t.add(make_column(mmu::kDec, c.dec));
  t.add(make_column("embedding_image", c.a, {c.d}));
  t.add(make_column("embedding_spectrum", c.b, {c.d}));
  DatasetWriter w(tmp.path("emb"), "embeddings");
  w.append(t);
  w.commit();
  return tmp.path("emb");
}

// Exact cosine top-k by brute force in double precision.
std::vector<int64_t> exact(const Catalogue& c, const std::vector<float>& base, const float* q, int k) {
  auto norm = [&](const float* v) {
    double s = 0;
    for (int64_t j = 0; j < c.d; ++j) s += double(v[j]) * v[j];
    return std::sqrt(s);
  };
  std::vector<std::pair<double, int64_t>> s;
  double nq = norm(q);
  for (int64_t i = 0; i < c.n; ++i) {
    double dot = 0;
    for (int64_t j = 0; j < c.d; ++j) dot += double(base[i * c.d + j]) * q[j];
    s.push_back({-dot / (norm(&base[i * c.d]) * nq), i});
  }
  std::partial_sort(s.begin(), s.begin() + k, s.end());
  std::vector<int64_t> out;
  for (int i = 0; i < k; ++i) out.push_back(s[i].second);
  return out;
}

// IVF-PQ is lossy: isotropic within-cluster neighbours are its hard case (chance is 0.0025).
TEST(Search, FlatIsExactAndApproximateKindsRecallWell) {
  test::TempDir tmp;
  Catalogue c = make(4000, 32, 1);
  std::string data = write(tmp, c);
  for (auto [kind, backend, floor] : {std::tuple{"flat", "hnswlib", 1.0}, {"hnsw", "hnswlib", 0.95}, {"hnsw", "faiss", 0.95}, {"ivfpq", "hnswlib", 0.4},
                                    {"ivfsq8", "hnswlib", 0.9}, {"ivffp16", "hnswlib", 0.9}}) {
    IndexOptions o;
    o.kind = kind;
    o.hnsw_backend = backend;
    std::string out = tmp.path(std::string("ix_") + kind + backend);
    SearchIndex::build(data, "embedding_image", out, o);
    auto s = SearchIndex::open(out);
    double recall = 0;
    for (int q = 0; q < 50; ++q) {
      int64_t i = q * 79;
      auto hits = s.search({.vector = std::vector<float>(c.a.begin() + i * c.d, c.a.begin() + (i + 1) * c.d), .k = 10});
      auto want = exact(c, c.a, &c.a[i * c.d], 10);
      std::set<std::string> w;
      for (int64_t r : want) w.insert(c.ids[r]);
      for (const auto& h : hits) recall += w.count(h.object_id) / 500.0;
    }
    EXPECT_GE(recall, floor - 1e-9) << kind << " " << backend;
    auto eval = s.evaluate(200, 10, 3);
    EXPECT_GE(eval["recall_at_k"].get<double>(), floor - 0.05) << kind;
  }
}

// Incremental add: an index built on two thirds of a catalogue, then given the
// rest, finds the added objects (flat: the same answers as an index of the
// whole catalogue; IVF: with the quantizer trained on the first part); an id
// already indexed is refused; IVF codes are memory-mapped read-only on open.
TEST(Search, IncrementalAddAndMemoryMappedIvf) {
  test::TempDir tmp;
  Catalogue c = make(3000, 16, 5);
  auto half = [&](int64_t lo, int64_t hi, const std::string& name) {
    Table t;
    std::vector<std::string> ids(c.ids.begin() + lo, c.ids.begin() + hi);
    t.add(make_string_column(mmu::kObjectId, ids));
    t.add(make_column(mmu::kRa, std::vector<double>(c.ra.begin() + lo, c.ra.begin() + hi)));
    t.add(make_column(mmu::kDec, std::vector<double>(c.dec.begin() + lo, c.dec.begin() + hi)));
    t.add(make_column("embedding_image", std::vector<float>(c.a.begin() + lo * c.d, c.a.begin() + hi * c.d), {c.d}));
    DatasetWriter w(tmp.path(name), "embeddings");
    w.append(t);
    w.commit();
    return tmp.path(name);
  };
  std::string first = half(0, 2000, "first"), second = half(2000, 3000, "second"), all = write(tmp, c);
  for (const char* kind : {"flat", "ivfsq8", "hnsw"}) {
    IndexOptions o;
    o.kind = kind;
    std::string ix = tmp.path(std::string("add_") + kind), whole = tmp.path(std::string("all_") + kind);
    SearchIndex::build(first, "", ix, o);
    EXPECT_EQ(SearchIndex::add(ix, second), 1000);
    SearchIndex::build(all, "embedding_image", whole, o);
    auto a = SearchIndex::open(ix), b = SearchIndex::open(whole);
    ASSERT_EQ(a.size(), 3000);
    int same = 0, found = 0;
    for (int q = 0; q < 40; ++q) {
      int64_t i = 2000 + q * 23;  // objects of the added half
      std::vector<float> v(c.a.begin() + i * c.d, c.a.begin() + (i + 1) * c.d);
      auto ha = a.search({.vector = v, .k = 5}), hb = b.search({.vector = v, .k = 5});
      found += !ha.empty() && ha[0].object_id == c.ids[i];
      same += !ha.empty() && !hb.empty() && ha[0].object_id == hb[0].object_id;
    }
    EXPECT_GE(found, 38) << kind;
    if (std::string(kind) == "flat") EXPECT_EQ(same, 40);
    // Adding the same objects again is refused, and the index is untouched.
    EXPECT_THROW(SearchIndex::add(ix, second), InputError);
    EXPECT_EQ(SearchIndex::open(ix).size(), 3000);
  }
  // A memory-mapped IVF index cannot be written to.
  IndexOptions o;
  o.kind = "ivfsq8";
  SearchIndex::build(all, "embedding_image", tmp.path("m"), o);
  auto v = VectorIndex::load(tmp.path("m") + "/index", c.d, o, /*mmap=*/true);
  EXPECT_EQ(v->size(), 3000);
  EXPECT_THROW(v->add(c.a.data(), 1), UsageError);
  // 1 byte per dimension: the file is about n x d bytes, not 4 n d.
  EXPECT_LT(std::filesystem::file_size(tmp.path("m") + "/index"), static_cast<uintmax_t>(3000 * c.d * 2 + 200000));
}

TEST(Search, QueriesByIdAcrossModalitiesInsideACone) {
  test::TempDir tmp;
  Catalogue c = make(3000, 16, 2);
  std::string data = write(tmp, c);
  SearchIndex::build(data, "embedding_spectrum", tmp.path("ix"), {});
  auto s = SearchIndex::open(tmp.path("ix"));
  // Own modality: the query object is left out of its results.
  auto hits = s.search({.id = "obj7", .k = 5});
  ASSERT_EQ(hits.size(), 5u);
  for (const auto& h : hits) EXPECT_NE(h.object_id, "obj7");
  // Across modalities: the object's own spectrum is the best match for its image.
  int own_first = 0;
  for (int i = 0; i < 40; ++i) {
    std::string id = "obj" + std::to_string(i * 13);
    auto x = s.search({.id = id, .query_column = "embedding_image", .k = 1, .exclude_query = false});
    own_first += x.at(0).object_id == id;
  }
  EXPECT_GE(own_first, 36);
  // Cone: exact search restricted to objects within 1.5 deg of (155, 5).
  auto cone = s.search({.id = "obj7", .k = 8, .cone = std::array<double, 3>{155, 5, 1.5}});
  ASSERT_EQ(cone.size(), 8u);
  std::vector<float> inside;
  std::vector<std::string> inside_ids;
  for (int64_t i = 0; i < c.n; ++i)
    if (sky::separation_deg(155, 5, c.ra[i], c.dec[i]) <= 1.5 && c.ids[i] != "obj7") {
      inside_ids.push_back(c.ids[i]);
      inside.insert(inside.end(), c.b.begin() + i * c.d, c.b.begin() + (i + 1) * c.d);
    }
  Catalogue sub{inside_ids, {}, {}, inside, inside, static_cast<int64_t>(inside_ids.size()), c.d};
  auto want = exact(sub, sub.a, &c.b[7 * c.d], 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(cone[i].object_id, inside_ids[want[i]]) << i;
  // Dedup: no two results closer than 2 degrees on the sky.
  auto far = s.search({.id = "obj7", .k = 5, .dedup_arcsec = 7200});
  for (size_t i = 0; i < far.size(); ++i)
    for (size_t j = 0; j < i; ++j) EXPECT_GE(sky::separation_deg(far[i].ra, far[i].dec, far[j].ra, far[j].dec), 2.0);
}

// Sharded by sky region: a flat index in HEALPix shards answers exactly as one
// flat index (the merged top-k), a cone larger than the exact limit searches
// only the shards it overlaps and still returns the exact in-cone answer,
// and an added catalogue lands in its shards (new shards included).
TEST(Search, SkyShardedIndexMergesShardsAndAnswersCones) {
  test::TempDir tmp;
  // 3,400 objects of one distribution: 3,000 indexed first, 400 added later elsewhere on the sky.
  Catalogue all = make(3400, 16, 9);
  auto part = [&](int64_t lo, int64_t hi) {
    Catalogue p{{all.ids.begin() + lo, all.ids.begin() + hi}, {all.ra.begin() + lo, all.ra.begin() + hi},
                {all.dec.begin() + lo, all.dec.begin() + hi}, {all.a.begin() + lo * all.d, all.a.begin() + hi * all.d},
                {all.b.begin() + lo * all.d, all.b.begin() + hi * all.d}, hi - lo, all.d};
    return p;
  };
  Catalogue c = part(0, 3000), far = part(3000, 3400);
  std::string data = write(tmp, c);
  IndexOptions one, sharded;
  sharded.shard_nside = 16;  // ~3.7 degree pixels over the 10-degree patch
  SearchIndex::build(data, "embedding_image", tmp.path("one"), one);
  SearchIndex::build(data, "embedding_image", tmp.path("sh"), sharded);
  auto a = SearchIndex::open(tmp.path("one")), b = SearchIndex::open(tmp.path("sh"));
  EXPECT_EQ(a.shards(), 1);
  EXPECT_GE(b.shards(), 6);
  ASSERT_EQ(b.size(), 3000);
  EXPECT_TRUE(std::filesystem::exists(tmp.path("sh") + "/shards"));
  for (int q = 0; q < 30; ++q) {
    std::string id = "obj" + std::to_string(q * 97);
    auto ha = a.search({.id = id, .k = 10}), hb = b.search({.id = id, .k = 10});
    ASSERT_EQ(ha.size(), hb.size());
    for (size_t i = 0; i < ha.size(); ++i) {
      EXPECT_NEAR(ha[i].score, hb[i].score, 1e-5);
      // The same objects in the same order, but for exact ties (equal vectors' scores).
      bool tie = (i > 0 && std::abs(ha[i - 1].score - ha[i].score) < 1e-6) ||
                 (i + 1 < ha.size() && std::abs(ha[i + 1].score - ha[i].score) < 1e-6);
      if (!tie) EXPECT_EQ(ha[i].object_id, hb[i].object_id) << id << " " << i;
    }
  }
  // A cone of 2 degrees: exact among its objects, and through the shards' own
  // search (exact limit 0): the same answer.
  auto cone = std::array<double, 3>{153, 4, 2.0};
  auto exact_cone = b.search({.id = "obj5", .k = 10, .cone = cone});
  auto shard_cone = b.search({.id = "obj5", .k = 10, .cone = cone, .cone_exact_limit = 0});
  ASSERT_EQ(exact_cone.size(), 10u);
  ASSERT_EQ(shard_cone.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(exact_cone[i].object_id, shard_cone[i].object_id) << i;
    EXPECT_LE(sky::separation_deg(153, 4, shard_cone[i].ra, shard_cone[i].dec), 2.0);
  }
  // IVF shards share one trained quantizer; the merged search recalls well.
  IndexOptions ivf = sharded;
  ivf.kind = "ivfsq8";
  SearchIndex::build(data, "embedding_image", tmp.path("ivf"), ivf);
  auto iv = SearchIndex::open(tmp.path("ivf"));
  EXPECT_TRUE(std::filesystem::exists(tmp.path("ivf") + "/trained.index"));
  // Shards hold their lists only (8-byte ids + 16-byte codes per vector and a
  // small header), not a copy of the 219-list quantizer (14 KB) each.
  uintmax_t shard_bytes = 0;
  for (const auto& f : std::filesystem::directory_iterator(tmp.path("ivf") + "/shards")) shard_bytes += f.file_size();
  EXPECT_LT(shard_bytes, 3000u * 24 + 4000u * static_cast<uintmax_t>(iv.shards())) << iv.shards() << " shards";
  EXPECT_GE(iv.evaluate(200, 10, 4)["recall_at_k"].get<double>(), 0.9);
  // Objects elsewhere on the sky go to new shards of the same index.
  for (auto& r : far.ra) r += 100;
  test::TempDir tmp2;
  std::string more = write(tmp2, far);
  int64_t before = iv.shards();
  EXPECT_EQ(SearchIndex::add(tmp.path("ivf"), more), 400);
  auto grown = SearchIndex::open(tmp.path("ivf"));
  EXPECT_EQ(grown.size(), 3400);
  EXPECT_GT(grown.shards(), before);
  std::vector<float> v(far.a.begin() + 17 * far.d, far.a.begin() + 18 * far.d);
  auto hit = grown.search({.vector = v, .k = 1});
  ASSERT_EQ(hit.size(), 1u);
  EXPECT_EQ(hit[0].object_id, "obj3017");
  // Not a power of two: a usage error before anything is written.
  IndexOptions bad;
  bad.shard_nside = 3;
  EXPECT_THROW(SearchIndex::build(data, "embedding_image", tmp.path("bad"), bad), UsageError);
  EXPECT_FALSE(std::filesystem::exists(tmp.path("bad")));
}

TEST(Search, BadInputsAreClearErrors) {
  test::TempDir tmp;
  Catalogue c = make(200, 8, 3);
  std::string data = write(tmp, c);
  SearchIndex::build(data, "embedding_image", tmp.path("ix"), {});
  EXPECT_THROW(SearchIndex::build(data, "embedding_image", tmp.path("ix"), {}), InputError);  // exists
  auto s = SearchIndex::open(tmp.path("ix"));
  EXPECT_THROW(s.search({.vector = std::vector<float>(9, 1.f)}), InputError);  // another dimension
  EXPECT_THROW(s.search({.id = "nobody"}), InputError);
  EXPECT_THROW(SearchIndex::open(tmp.path("nothing")), InputError);
  EXPECT_THROW(SearchIndex::build(data, "ra", tmp.path("ix2"), {.kind = "tree"}), UsageError);
  std::filesystem::resize_file(tmp.path("ix/objects.bin"), 20);
  EXPECT_THROW(SearchIndex::open(tmp.path("ix")), InputError);
}

}  // namespace
}  // namespace astrofm
