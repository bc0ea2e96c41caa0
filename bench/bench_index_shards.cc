// One index against the same index sharded by sky region, on one catalogue of
// embedding-like vectors spread over the whole sky: recall@10 of each against
// exact search, queries/s for whole-sky queries (the shards' merged top-k)
// and for large cones answered through the index (only the shards a cone
// overlaps are searched), and that both give the same cone answers.
// Usage: astrofm_bench_index_shards WORKDIR [N=500000] [DIM=64] [NSIDE=4] [KIND=ivfsq8]
// Prints one JSON object.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "astrofm/mmu.h"
#include "astrofm/search.h"

using namespace astrofm;
namespace fs = std::filesystem;

// Embedding-like vectors as bench/synthetic.py draws them: 200 clusters, each
// a 16-dimensional linear manifold, small isotropic noise; uniform on the sky.
static void write_catalogue(const std::string& root, int64_t n, int64_t d) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> g(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  const int C = 200, K = 16;
  std::vector<float> centre(C * d), proj(static_cast<size_t>(C) * K * d);
  for (auto& v : centre) v = g(rng);
  for (auto& v : proj) v = 0.3f * g(rng);
  DatasetWriter w(root, "embeddings");
  const int64_t chunk = 50000;
  for (int64_t s = 0; s < n; s += chunk) {
    int64_t m = std::min(chunk, n - s);
    std::vector<std::string> ids;
    std::vector<double> ra, dec;
    std::vector<float> x(m * d);
    for (int64_t i = 0; i < m; ++i) {
      ids.push_back("g" + std::to_string(s + i));
      ra.push_back(360 * u(rng));
      dec.push_back(std::asin(2 * u(rng) - 1) * 180 / M_PI);
      int c = static_cast<int>(rng() % C);
      float z[K];
      for (auto& v : z) v = g(rng);
      for (int64_t j = 0; j < d; ++j) {
        float v = centre[c * d + j] + 0.05f * g(rng);
        for (int k = 0; k < K; ++k) v += z[k] * proj[(static_cast<size_t>(c) * K + k) * d + j];
        x[i * d + j] = v;
      }
    }
    Table t;
    t.add(make_string_column(mmu::kObjectId, ids));
    t.add(make_column(mmu::kRa, ra));
    t.add(make_column(mmu::kDec, dec));
    t.add(make_column("embedding_image", x, {d}));
    w.append(t);
  }
  w.commit();
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s WORKDIR [N] [DIM] [NSIDE] [KIND]\n", argv[0]);
    return 2;
  }
  const std::string work = argv[1];
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 500000, d = argc > 3 ? std::atoll(argv[3]) : 64;
  const int nside = argc > 4 ? std::atoi(argv[4]) : 4;
  const std::string kind = argc > 5 ? argv[5] : "ivfsq8";
  const std::string emb = work + "/emb";
  if (!fs::exists(emb)) write_catalogue(emb, n, d);
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  IndexOptions one, sharded;
  one.kind = sharded.kind = kind;
  sharded.shard_nside = nside;
  // Built once per WORKDIR (build time from the index's own record).
  if (!fs::exists(work + "/one")) SearchIndex::build(emb, "", work + "/one", one, true);
  if (!fs::exists(work + "/sharded")) SearchIndex::build(emb, "", work + "/sharded", sharded, true);
  auto a = SearchIndex::open(work + "/one"), b = SearchIndex::open(work + "/sharded");
  a.preload();  // query vectors from memory, not one catalogue lookup each
  b.preload();
  auto ea = a.evaluate(1000, 10, 5), eb = b.evaluate(1000, 10, 5);
  // Queries by vector (catalogue objects), whole sky and in 10-degree cones
  // through the index (cone_exact_limit 0 forces the index path).
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(0, 1);
  const int Q = 300;
  std::vector<std::vector<float>> qv;
  std::vector<std::array<double, 3>> cones;
  for (int i = 0; i < Q; ++i) {
    qv.push_back(a.vector_of(a.ids()[rng() % a.size()], "embedding_image"));
    cones.push_back({360 * u(rng), std::asin(2 * u(rng) - 1) * 180 / M_PI, 10.0});
  }
  auto qps = [&](const SearchIndex& s, bool cone, int& agree_out, const SearchIndex* other) {
    auto s0 = now();
    agree_out = 0;
    for (int i = 0; i < Q; ++i) {
      SearchRequest r{.vector = qv[i], .k = 10};
      if (cone) r.cone = cones[i], r.cone_exact_limit = 0;
      auto h = s.search(r);
      if (other) {
        auto o = other->search(r);
        agree_out += !h.empty() && !o.empty() && h[0].object_id == o[0].object_id;
      }
    }
    return Q / secs(s0, now());
  };
  int agree = 0, agree_cone = 0, dummy = 0;
  double all_one = qps(a, false, dummy, nullptr), all_sh = qps(b, false, dummy, nullptr);
  double cone_one = qps(a, true, dummy, nullptr), cone_sh = qps(b, true, dummy, nullptr);
  qps(b, false, agree, &a);
  qps(b, true, agree_cone, &a);
  std::printf(
      "{\"n\": %lld, \"dim\": %lld, \"kind\": \"%s\", \"shard_nside\": %d, \"shards\": %lld,\n"
      " \"build_s\": {\"one\": %.1f, \"sharded\": %.1f},\n"
      " \"recall_at_10\": {\"one\": %.4f, \"sharded\": %.4f},\n"
      " \"whole_sky_queries_per_s\": {\"one\": %.1f, \"sharded\": %.1f},\n"
      " \"cone10deg_queries_per_s\": {\"one\": %.1f, \"sharded\": %.1f},\n"
      " \"same_top1\": {\"whole_sky\": %.3f, \"cone\": %.3f}}\n",
      static_cast<long long>(n), static_cast<long long>(d), kind.c_str(), nside, static_cast<long long>(b.shards()),
      a.meta()["build_seconds"].get<double>(), b.meta()["build_seconds"].get<double>(), ea["recall_at_k"].get<double>(), eb["recall_at_k"].get<double>(), all_one, all_sh, cone_one, cone_sh,
      agree / double(Q), agree_cone / double(Q));
  return 0;
}
