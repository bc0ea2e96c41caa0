#include "astrofm/embed.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/config.h"
#include "astrofm/fits_table.h"
#include "astrofm/mmu.h"
#include "astrofm/encoder.h"
#include "astrofm/modality.h"
#include "astrofm/progress.h"
#include "astrofm/resources.h"

namespace astrofm {
namespace fs = std::filesystem;

EmbedResult embed_dataset(const EmbedOptions& opt) {
  if (opt.batch <= 0) fail_usage("--batch must be positive");
  Encoder enc(opt.model, {.device = opt.device});
  Dataset ds = Dataset::open(opt.data);
  std::vector<std::string> have;
  for (const auto& c : ds.schema()) have.push_back(c.name);
  if (!opt.inputs.empty()) {  // only these of the columns the model would read
    auto all = enc.input_columns(have);
    for (const auto& c : opt.inputs)
      if (std::find(all.begin(), all.end(), c) == all.end())
        fail_input("{}: --inputs {}: not an input of the model in this dataset (it reads {})", opt.data, c, fmt::join(all, ", "));
    std::erase_if(have, [&](const std::string& c) {
      return std::find(all.begin(), all.end(), c) != all.end() && std::find(opt.inputs.begin(), opt.inputs.end(), c) == opt.inputs.end();
    });
  }
  auto use = enc.modalities_for(have);
  if (use.empty())
    fail_input("{}: nothing to embed with a '{}' model (it embeds {}; the dataset has {})", opt.data, enc.architecture(),
               fmt::join(enc.modalities(), ", "), fmt::join(have, ", "));
  const std::string& model_id = enc.name();
  std::vector<std::string> cols = {mmu::kObjectId, mmu::kRa, mmu::kDec};
  // The main columns plus what preprocessing reads (image_band for band order; an AION model's token columns).
  for (const auto& c : enc.input_columns(have)) cols.push_back(c);

  EmbedResult res;
  std::unique_ptr<DatasetWriter> w;
  std::unique_ptr<FitsTableWriter> fw;
  int64_t skip = 0;
  if (opt.format == "fits") {
    if (opt.resume) fail_usage("--resume works with the hdf5 format only");
    fw = std::make_unique<FitsTableWriter>(opt.out, "EMBEDDINGS", opt.overwrite);
  } else if (opt.format == "hdf5") {
    WriteOptions wo;
    wo.overwrite = opt.overwrite;
    wo.resume = opt.resume;
    w = std::make_unique<DatasetWriter>(opt.out, "embeddings", wo);
    w->set_attribute("model", model_id);
    w->set_attribute("source", "astrofm embed --model " + model_id + " --data " + opt.data);
    if (auto st = w->resume_state()) skip = nlohmann::json::parse(*st).at("rows").get<int64_t>();
  } else {
    fail_usage("--format must be hdf5 or fits, got '{}'", opt.format);
  }
  DatasetReader r(ds, {.columns = cols, .batch_rows = opt.batch});
  Progress bar("embed", ds.rows(), skip);
  Table b;
  int64_t seen = 0, since = 0;
  while (r.next(b)) {
    if (seen + b.rows() <= skip) {  // already embedded before the interruption
      seen += b.rows();
      continue;
    }
    if (seen < skip) b = b.slice(skip - seen, b.rows() - (skip - seen)), seen = skip;
    Table out;
    out.add(b.at(mmu::kObjectId));
    out.add(b.at(mmu::kRa));
    out.add(b.at(mmu::kDec));
    Table emb = enc.embed(b, opt.tokens);
    if (res.columns.empty()) res.columns = emb.names();
    for (auto& c : emb.columns()) out.add(std::move(c));
    out.add(make_string_column("model_id", std::vector<std::string>(b.rows(), model_id)));
    if (w) w->append(out);
    else fw->append(out);
    seen += b.rows();
    since += b.rows();
    res.objects += b.rows();
    bar.advance(b.rows());
    if (w && since >= 4096) {
      w->checkpoint(nlohmann::json{{"rows", seen}}.dump());
      since = 0;
    }
  }
  bar.finish();
  if (w) w->commit();
  else fw->commit();
  return res;
}

}  // namespace astrofm
