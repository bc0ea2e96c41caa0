#include "astrofm/stream_job.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/communicator.h"
#include "astrofm/error.h"
#include "astrofm/progress.h"
#include "astrofm/strict_json.h"

namespace astrofm {

StreamJobResult run_stream_job(const StreamJobOptions& opt, const StreamJobFn& job) {
  if (opt.batch <= 0) fail_usage("--batch must be positive, got {}", opt.batch);
  if (opt.checkpoint_rows <= 0) fail_usage("checkpoint rows must be positive, got {}", opt.checkpoint_rows);
  const int rank = opt.comm ? opt.comm->rank() : 0, ranks = opt.comm ? opt.comm->size() : 1;
  Dataset ds = Dataset::open(opt.data);
  // This rank's partitions: contiguous, balanced by rows, the same on every rank.
  std::vector<int64_t> rows, mine;
  for (const auto& p : ds.partitions()) rows.push_back(p.rows);
  auto owners = partition_owners(rows, ranks);
  std::set<int64_t> owned;
  int64_t my_rows = 0;
  for (size_t i = 0; i < owners.size(); ++i)
    if (owners[i] == rank) mine.push_back(ds.partitions()[i].healpix), owned.insert(ds.partitions()[i].healpix), my_rows += rows[i];

  WriteOptions wo;
  wo.overwrite = opt.overwrite;
  wo.resume = opt.resume;
  wo.shard = rank, wo.shards = ranks;
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
      if (since >= opt.checkpoint_rows) {
        w->checkpoint(nlohmann::json{{"rows", seen}}.dump());
        since = 0;
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
