#include "astrofm/stream_job.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/communicator.h"
#include "astrofm/error.h"
#include "astrofm/progress.h"
#include "astrofm/sky.h"
#include "astrofm/strict_json.h"

namespace astrofm {

StreamJobResult run_stream_job(const StreamJobOptions& opt, const StreamJobFn& job) {
  if (opt.batch <= 0) fail_usage("--batch must be positive, got {}", opt.batch);
  if (opt.checkpoint_rows <= 0) fail_usage("checkpoint rows must be positive, got {}", opt.checkpoint_rows);
  if (!(opt.checkpoint_seconds > 0)) fail_usage("checkpoint seconds must be positive, got {}", opt.checkpoint_seconds);
  const int rank = opt.comm ? opt.comm->rank() : 0, ranks = opt.comm ? opt.comm->size() : 1;
  Dataset ds = Dataset::open(opt.data);
  // This rank's partitions: contiguous, balanced by rows, the same on every
  // rank. Ranks own NSIDE-16 pixels (what the writer shards by): HATS
  // partitions deeper than order 4 go with the others of their NSIDE-16 pixel.
  std::vector<int64_t> group_rows;
  std::vector<size_t> group_of(ds.partitions().size());
  std::map<std::pair<int, int64_t>, size_t> groups;
  for (size_t i = 0; i < ds.partitions().size(); ++i) {
    const auto& p = ds.partitions()[i];
    std::pair<int, int64_t> key = p.order > 4 ? std::pair<int, int64_t>(4, p.healpix >> (2 * (p.order - 4))) : std::pair(p.order, p.healpix);
    auto [it, fresh] = groups.emplace(key, group_rows.size());
    if (fresh) group_rows.push_back(0);
    group_of[i] = it->second;
    group_rows[it->second] += p.rows;
  }
  auto owners = partition_owners(group_rows, ranks);
  std::set<int64_t> owned;
  std::vector<int64_t> mine;
  int64_t my_rows = 0;
  for (size_t i = 0; i < ds.partitions().size(); ++i) {
    const auto& p = ds.partitions()[i];
    if (owners[group_of[i]] != rank) continue;
    my_rows += p.rows;
    if (p.healpix == sky::kNoPixel || p.order >= 4) {
      owned.insert(p.healpix == sky::kNoPixel || p.order == 4 ? p.healpix : p.healpix >> (2 * (p.order - 4)));
    } else {
      int64_t n = int64_t{1} << (2 * (4 - p.order));
      for (int64_t c = 0; c < n; ++c) owned.insert((p.healpix << (2 * (4 - p.order))) + c);
    }
  }
  mine.assign(owned.begin(), owned.end());

  WriteOptions wo;
  wo.overwrite = opt.overwrite;
  wo.resume = opt.resume;
  wo.shard = rank, wo.shards = ranks;
  wo.format = parse_out_format(opt.out_format);
  if (wo.format == "hats") wo.hats_partitions = partitions_of(ds);
  if (ranks > 1) wo.owns = [owned](int64_t pix) { return owned.count(pix) > 0; };
  const std::string config = opt.config.empty() ? ds.config() : opt.config;
  // Rank 0 creates (or resumes) the staging folder before the others join it.
  std::unique_ptr<DatasetWriter> w;
  if (rank == 0) w = std::make_unique<DatasetWriter>(opt.out, config, wo);
  if (ranks > 1) opt.comm->barrier();
  if (rank != 0) w = std::make_unique<DatasetWriter>(opt.out, config, wo);
  for (const auto& [k, v] : opt.attributes) w->set_attribute(k, v);

  StreamJobResult res;
  int64_t skip = 0;
  if (auto st = w->resume_state()) {
    auto j = nlohmann::json::parse(*st, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("rows")) fail_corrupt("{}.partial: unreadable progress state", opt.out);
    skip = json_integer<int64_t>(j["rows"], opt.out + ".partial: progress rows");
    res.resumed_at = skip;
    if (skip > 0) spdlog::info("{}: resuming at input row {} of {}", opt.label, skip, my_rows);
  }
  Progress bar(opt.label, my_rows, skip);
  auto last_checkpoint = std::chrono::steady_clock::now();
  int64_t seen = 0, since = 0, out_rows = 0;
  if (!mine.empty()) {
    DatasetReader r(ds, {.columns = opt.columns, .batch_rows = opt.batch, .healpix = mine});
    Table b;
    while (r.next(b)) {
      if (seen + b.rows() <= skip) {  // written before the interruption
        seen += b.rows();
        continue;
      }
      if (seen < skip) b = b.slice(skip - seen, b.rows() - (skip - seen)), seen = skip;
      Table o = job(b, fmt::format("{} (partition {}, rows {}-{} of this run)", opt.data, r.current_partition().healpix, seen, seen + b.rows() - 1));
      if (o.rows() > 0) w->append(o);
      seen += b.rows();
      since += b.rows();
      out_rows += o.rows();
      bar.advance(b.rows());
      const auto now = std::chrono::steady_clock::now();
      if (since >= opt.checkpoint_rows || std::chrono::duration<double>(now - last_checkpoint).count() >= opt.checkpoint_seconds) {
        w->checkpoint(nlohmann::json{{"rows", seen}}.dump());
        since = 0;
        last_checkpoint = now;
      }
    }
  }
  bar.finish();
  // The other ranks record that they are done, then rank 0 publishes.
  if (rank != 0) {
    w->checkpoint(nlohmann::json{{"rows", seen}}.dump());
    w->commit();
  }
  if (ranks > 1) opt.comm->barrier();
  if (rank == 0) w->commit();
  int64_t counts[2] = {seen - skip, out_rows};
  if (ranks > 1) {
    opt.comm->allreduce_sum(counts, 2);
    opt.comm->barrier();
  }
  res.rows_in = counts[0], res.rows_out = counts[1];
  return res;
}

}  // namespace astrofm
