#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/search.h"
#include "commands.h"

namespace astrofm::cli {
namespace {

std::vector<float> read_vector(const std::string& path) {
  std::string text = read_file(path);
  for (auto& ch : text)
    if (ch == ',' || ch == '[' || ch == ']') ch = ' ';
  std::istringstream in(text);
  std::vector<float> v;
  std::string tok;
  while (in >> tok) {
    try {
      size_t used = 0;
      v.push_back(std::stof(tok, &used));
      if (used != tok.size()) throw std::invalid_argument(tok);
    } catch (const std::exception&) {
      fail_input("{}: '{}' is not a number", path, tok);
    }
  }
  if (v.empty()) fail_input("{}: no numbers", path);
  return v;
}

std::string embedding_column(const std::string& kind) { return kind.rfind("embedding_", 0) == 0 ? kind : "embedding_" + kind; }

}  // namespace

void add_search_commands(CLI::App& app) {
  auto* idx = app.add_subcommand("index", "Build or evaluate a similarity-search index over an embedding catalogue");
  idx->require_subcommand(1);
  {
    auto* c = idx->add_subcommand("build", "Index the vectors of one embedding column");
    static std::string data, out, column;
    static IndexOptions o;
    static bool overwrite = false;
    c->add_option("EMB", data, "embedding catalogue (astrofm embed) or any MMU dataset with a vector column")->required();
    c->add_option("--out", out, "index folder to write")->required();
    c->add_option("--column", column, "vector column (default: the embedding column)");
    c->add_option("--kind", o.kind, "flat (exact), hnsw, ivfpq (d/4 bytes a vector), ivfsq8 (d bytes) or ivffp16 (2d bytes)")
        ->check(CLI::IsMember({"flat", "hnsw", "ivfpq", "ivfsq8", "ivffp16"}))
        ->capture_default_str();
    c->add_option("--metric", o.metric, "cosine or l2")->check(CLI::IsMember({"cosine", "l2"}))->capture_default_str();
    c->add_option("--hnsw-backend", o.hnsw_backend, "hnswlib or faiss")->check(CLI::IsMember({"hnswlib", "faiss"}))->capture_default_str();
    c->add_option("--hnsw-m", o.hnsw_m, "hnsw: links per node")->capture_default_str();
    c->add_option("--ef-construction", o.ef_construction, "hnsw: build beam")->capture_default_str();
    c->add_option("--ef-search", o.ef_search, "hnsw: search beam")->capture_default_str();
    c->add_option("--nlist", o.nlist, "ivf*: inverted lists (0: 4 sqrt(n))")->capture_default_str();
    c->add_option("--pq-m", o.pq_m, "ivfpq: sub-quantizers (0: d / 4)")->capture_default_str();
    c->add_option("--nprobe", o.nprobe, "ivf*: lists visited per query")->capture_default_str();
    c->add_option("--shard-nside", o.shard_nside,
                  "shard by sky region: one index per HEALPix pixel at this NSIDE (a power of two; 0: one index); queries merge the shards, "
                  "cones visit the shards they overlap")
        ->capture_default_str();
    c->add_flag("--overwrite", overwrite, "replace an existing index");
    c->callback([] {
      SearchIndex::build(data, column, out, o, overwrite);
      auto s = SearchIndex::open(out);
      spdlog::info("indexed {} objects ({}, {} dimensions{}) in {:.1f} s: {}", s.size(), s.meta()["options"]["kind"].get<std::string>(),
                   s.meta()["dim"].get<int64_t>(), s.shards() > 1 ? fmt::format(", {} sky shards", s.shards()) : "",
                   s.meta()["build_seconds"].get<double>(), out);
    });
  }
  {
    auto* c = idx->add_subcommand("add", "Add the objects of another embedding catalogue to an index (no retraining)");
    static std::string path, data;
    c->add_option("INDEX", path, "index folder")->required();
    c->add_option("EMB", data, "embedding catalogue with the index's column")->required();
    c->callback([] {
      int64_t n = SearchIndex::add(path, data);
      spdlog::info("added {} objects to {} ({} in all)", n, path, SearchIndex::open(path).size());
    });
  }
  {
    auto* c = idx->add_subcommand("eval", "recall@k of an index against exact search");
    static std::string path;
    static int64_t queries = 1000;
    static int k = 10;
    static uint64_t seed = 1;
    c->add_option("INDEX", path, "index folder")->required();
    c->add_option("--queries", queries, "query objects drawn from the catalogue")->capture_default_str();
    c->add_option("--k", k, "neighbours")->capture_default_str();
    c->add_option("--seed", seed, "query draw")->capture_default_str();
    c->callback([] { std::printf("%s\n", SearchIndex::open(path).evaluate(queries, k, seed).dump(1).c_str()); });
  }
  auto* c = app.add_subcommand("search", "Find the objects most similar to one object or vector");
  static std::string path, cross, vector_file, grid, images, json_out;
  static SearchRequest r;
  static std::vector<double> cone;
  c->add_option("INDEX", path, "index folder (astrofm index build)")->required();
  auto* id = c->add_option("--id", r.id, "query object_id (its vector is read from the indexed dataset)");
  c->add_option("--vector", vector_file, "query vector: a text file of numbers")->excludes(id);
  c->add_option("--k", r.k, "neighbours")->capture_default_str();
  c->add_option("--cross", cross, "QUERY:INDEXED modalities, e.g. image:spectrum: the query's image embedding against indexed spectra");
  c->add_option("--cone", cone, "RA,DEC,RADIUS in degrees: only objects inside this sky cone (exact)")->delimiter(',')->expected(3);
  c->add_option("--dedup", r.dedup_arcsec, "drop results within this many arcsec of a better result or the query");
  c->add_option("--grid", grid, "PNG strip of the query's and neighbours' images");
  c->add_option("--images", images, "dataset holding the images for --grid (default: the indexed dataset)");
  c->add_option("--json", json_out, "write the results as JSON ('-' for stdout)");
  c->callback([] {
    if (r.id.empty() && vector_file.empty()) fail_usage("give --id OBJECT_ID or --vector FILE");
    if (!vector_file.empty()) r.vector = read_vector(vector_file);
    auto s = SearchIndex::open(path);
    if (!cross.empty()) {
      auto colon = cross.find(':');
      if (colon == std::string::npos) fail_usage("--cross wants QUERY:INDEXED, e.g. image:spectrum");
      std::string q = embedding_column(cross.substr(0, colon)), t = embedding_column(cross.substr(colon + 1));
      if (t != s.meta()["column"]) fail_usage("--cross {}: the index holds {}, not {}", cross, s.meta()["column"].get<std::string>(), t);
      if (r.id.empty()) fail_usage("--cross needs --id");
      r.query_column = q;
      r.exclude_query = false;  // the object's own other modality is the match to find
    }
    if (!cone.empty()) r.cone = std::array<double, 3>{cone[0], cone[1], cone[2]};
    auto hits = s.search(r);
    nlohmann::json j = nlohmann::json::array();
    for (size_t i = 0; i < hits.size(); ++i)
      j.push_back({{"rank", i + 1}, {"object_id", hits[i].object_id}, {"ra", hits[i].ra}, {"dec", hits[i].dec}, {"score", hits[i].score}});
    if (json_out == "-") {
      std::printf("%s\n", j.dump(1).c_str());
    } else {
      if (!json_out.empty()) write_file_atomic(json_out, j.dump(1));
      std::printf("%4s  %-24s %11s %11s %9s\n", "rank", "object_id", "ra", "dec", s.meta()["options"]["metric"] == "l2" ? "dist2" : "cosine");
      for (size_t i = 0; i < hits.size(); ++i)
        std::printf("%4zu  %-24s %11.6f %11.6f %9.4f\n", i + 1, hits[i].object_id.c_str(), hits[i].ra, hits[i].dec, hits[i].score);
    }
    if (!grid.empty()) {
      std::vector<std::string> ids = {r.id.empty() ? std::string("(vector)") : r.id};
      for (const auto& h : hits) ids.push_back(h.object_id);
      write_neighbour_grid(grid, images.empty() ? s.meta()["dataset"].get<std::string>() : images, ids);
      spdlog::info("wrote {}", grid);
    }
  });
}

}  // namespace astrofm::cli
