#include "astrofm/embed.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/bundle.h"
#include "astrofm/communicator.h"
#include "astrofm/config.h"
#include "astrofm/fits_table.h"
#include "astrofm/mmu.h"
#include "astrofm/encoder.h"
#include "astrofm/modality.h"
#include "astrofm/progress.h"
#include "astrofm/resources.h"
#include "astrofm/stream_job.h"

namespace astrofm {
namespace fs = std::filesystem;

struct CatalogueEmbedder::State {
  std::unique_ptr<Encoder> enc;
  RawTokenizer raw;
  bool tokens = false;
  std::vector<std::string> columns;
};

CatalogueEmbedder::CatalogueEmbedder(const EmbedOptions& opt, const std::vector<std::string>& have_in, const std::string& where)
    : st_(std::make_shared<State>()) {
  st_->enc = std::make_unique<Encoder>(opt.model, EncoderOptions{.device = opt.device, .dtype = opt.dtype});
  st_->tokens = opt.tokens;
  const Encoder& enc = *st_->enc;
  std::vector<std::string> have = have_in;
  // An AION bundle or snapshot embeds raw MMU columns too: its own codecs
  // tokenize each batch first (token columns the data already holds win).
  RawTokenizer& raw = st_->raw;
  if (enc.architecture() == "aion") raw = RawTokenizer(enc.path(), have, where, opt.inputs);
  for (const auto& t : raw.token_columns()) have.push_back(t);
  if (!opt.inputs.empty()) {  // only these of the columns the model would read
    auto all = enc.input_columns(have);
    for (const auto& c : opt.inputs)
      if (std::find(all.begin(), all.end(), c) == all.end())
        fail_input("{}: --inputs {}: not an input of the model in this dataset (it reads {})", where, c, fmt::join(all, ", "));
    std::erase_if(have, [&](const std::string& c) {
      return std::find(all.begin(), all.end(), c) != all.end() && std::find(opt.inputs.begin(), opt.inputs.end(), c) == opt.inputs.end();
    });
  }
  auto use = enc.modalities_for(have);
  if (use.empty())
    fail_input("{}: nothing to embed with a '{}' model (it embeds {}; the dataset has {})", where, enc.architecture(),
               fmt::join(enc.modalities(), ", "), fmt::join(have, ", "));
  auto& cols = st_->columns;
  cols = {mmu::kObjectId, mmu::kRa, mmu::kDec};
  // The main columns plus what preprocessing reads (image_band for band order; an AION model's token columns).
  for (const auto& c : enc.input_columns(have))
    if (raw.makes(c)) {
      for (const auto& in : raw.inputs_of(c))
        if (std::find(cols.begin(), cols.end(), in) == cols.end()) cols.push_back(in);
    } else {
      cols.push_back(c);
    }
}

const std::vector<std::string>& CatalogueEmbedder::columns() const { return st_->columns; }
const std::string& CatalogueEmbedder::model_id() const { return st_->enc->name(); }

Table CatalogueEmbedder::embed(const Table& b) const {
  Table out;
  out.add(b.at(mmu::kObjectId));
  out.add(b.at(mmu::kRa));
  out.add(b.at(mmu::kDec));
  Table emb = st_->enc->embed(st_->raw.empty() ? b : st_->raw.tokenize(b), st_->tokens);
  for (auto& c : emb.columns()) out.add(std::move(c));
  out.add(make_string_column("model_id", std::vector<std::string>(b.rows(), model_id())));
  return out;
}

EmbedResult embed_dataset(const EmbedOptions& opt) {
  if (opt.batch <= 0) fail_usage("--batch must be positive");
  Dataset ds = Dataset::open(opt.data);
  std::vector<std::string> have;
  for (const auto& c : ds.schema()) have.push_back(c.name);
  CatalogueEmbedder embedder(opt, have, opt.data);
  const std::string& model_id = embedder.model_id();
  const std::vector<std::string>& cols = embedder.columns();
  EmbedResult res;
  auto embed_batch = [&](const Table& b) {
    Table out = embedder.embed(b);
    if (res.columns.empty())
      for (const auto& c : out.columns())
        if (c.name != mmu::kObjectId && c.name != mmu::kRa && c.name != mmu::kDec && c.name != "model_id") res.columns.push_back(c.name);
    return out;
  };
  if (opt.format == "fits") {
    if (opt.resume) fail_usage("--resume works with the hdf5 format only");
    if (opt.comm && opt.comm->size() > 1) fail_usage("--format fits writes one file from one process; use hdf5 under mpirun");
    FitsTableWriter fw(opt.out, "EMBEDDINGS", opt.overwrite);
    DatasetReader r(ds, {.columns = cols, .batch_rows = opt.batch});
    Progress bar("embed", ds.rows());
    Table b;
    while (r.next(b)) {
      fw.append(embed_batch(b));
      res.objects += b.rows();
      bar.advance(b.rows());
    }
    bar.finish();
    fw.commit();
    return res;
  }
  if (opt.format != "hdf5" && opt.format != "hats") fail_usage("--format must be hdf5, hats or fits, got '{}'", opt.format);
  StreamJobOptions so{.data = opt.data, .out = opt.out, .config = "embeddings", .columns = cols, .batch = opt.batch,
                      .checkpoint_rows = opt.checkpoint_rows, .checkpoint_seconds = opt.checkpoint_seconds, .overwrite = opt.overwrite, .resume = opt.resume, .out_format = opt.format, .label = "embed",
                      .attributes = {{"model", model_id}, {"source", "astrofm embed --model " + model_id + " --data " + opt.data}},
                      .comm = opt.comm.get()};
  auto sr = run_stream_job(so, [&](const Table& b, const std::string&) { return embed_batch(b); });
  res.objects = sr.rows_out;
  res.resumed_at = sr.resumed_at;
  return res;
}

}  // namespace astrofm
