// `astrofm tokenize` and `astrofm detokenize`: streaming, resumable jobs in
// the MMU layout (docs/codecs.md).
#include <algorithm>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/codecs.h"
#include "astrofm/communicator.h"
#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/hash.h"
#include "astrofm/mmu.h"
#include "astrofm/modality.h"
#include "astrofm/progress.h"
#include "astrofm/stream_job.h"
#include "codecs/codec_table.h"

namespace astrofm::codecs {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTokenBands = "codec_image_band";
constexpr const char* kTokenDisplay = "codec_image_display";

// One dataset through a job, resumable and sharded over MPI ranks (stream_job.h).
template <class Job>
TokenizeResult stream(const std::string& data, const std::string& out, const std::vector<std::string>& cols, int64_t batch, bool overwrite,
                      bool resume, const std::string& out_format, const std::string& what, const std::string& source, Communicator* comm,
                      Job&& job) {
  TokenizeResult res;
  StreamJobOptions so{.data = data, .out = out, .columns = cols, .batch = batch, .checkpoint_rows = 1024, .overwrite = overwrite,
                      .resume = resume, .out_format = out_format, .label = what, .attributes = {{"source", source}}, .comm = comm};
  auto r = run_stream_job(so, [&](const Table& b, const std::string& where) {
    Table o = job(b, where);
    if (res.columns.empty()) res.columns = o.names();
    return o;
  });
  res.objects = r.rows_out;
  return res;
}

std::vector<std::string> output_roots(const std::vector<std::string>& data, const std::string& out) {
  if (data.size() == 1) return {out};
  std::vector<std::string> roots;
  std::set<std::string> seen;
  for (const auto& d : data) {
    std::string name = fs::path(d).filename().string();
    if (name.empty()) name = fs::path(d).parent_path().filename().string();
    if (!seen.insert(name).second) fail_usage("two --data folders are both named '{}'; tokenize them one at a time", name);
    roots.push_back((fs::path(out) / name).string());
  }
  return roots;
}

// The objects whose tokens of a --keep modality stay: the n of the split with
// the lowest hash of object_id (the same n whatever the batching or the run).
std::set<std::string> kept_objects(const std::string& data, const std::string& split, int64_t n) {
  std::vector<std::pair<uint64_t, std::string>> ids;
  const Table t = read_table(data, {mmu::kObjectId});
  for (const auto& id : t.at(mmu::kObjectId).strings)
    if (in_split(split, id)) ids.emplace_back(fnv1a("keep:" + id), id);
  std::sort(ids.begin(), ids.end());
  std::set<std::string> out;
  for (int64_t i = 0; i < std::min<int64_t>(n, static_cast<int64_t>(ids.size())); ++i) out.insert(ids[i].second);
  return out;
}

}  // namespace

CatalogueTokenizer::CatalogueTokenizer(const CodecSet& codecs, const std::vector<std::string>& have,
                                       const std::vector<std::string>& modalities, const std::map<std::string, std::string>& names,
                                       const std::string& where)
    : set_(codecs), names_(names) {
  mods_ = modalities.empty() ? set_.usable(have) : modalities;
  if (mods_.empty())
    fail_input("{}: none of the codecs' modalities ({}) is in the dataset", where, fmt::join(set_.modalities(), ", "));
  columns_ = {mmu::kObjectId, mmu::kRa, mmu::kDec};
  for (const auto& m : mods_) {
    set_.at(m);
    for (const auto& c : modality(m).column_names())
      if (std::find(have.begin(), have.end(), c) != have.end() && std::find(columns_.begin(), columns_.end(), c) == columns_.end())
        columns_.push_back(c);
    for (const auto& c : set_.at(m).input_columns())
      if (std::find(have.begin(), have.end(), c) == have.end()) fail_input("{}: no column '{}' for the {} codec", where, c, m);
  }
  for (const auto& [m, name] : names_) {
    if (std::find(mods_.begin(), mods_.end(), m) == mods_.end())
      fail_usage("--as {}={}: '{}' is not a modality tokenized here ({})", m, name, m, fmt::join(mods_, ", "));
    if (name != m && name.rfind(m + "_", 0) != 0) fail_usage("--as {}={}: the name must be {} or {}_<survey>", m, name, m, m);
  }
}

std::string CatalogueTokenizer::token_name(const std::string& m) const {
  auto it = names_.find(m);
  return token_column(it == names_.end() ? m : it->second);
}

Table CatalogueTokenizer::tokenize(const Table& b, const std::string& where) const {
  Table o;
  o.add(b.at(mmu::kObjectId));
  o.add(b.at(mmu::kRa));
  o.add(b.at(mmu::kDec));
  for (const auto& m : mods_) {
    Column t = set_.at(m).encode(b, where);
    t.name = token_name(m);
    o.add(std::move(t));
    if (set_.at(m).info().modality_kind() == ModalityKind::Image) {  // what detokenize needs to write the bands back (not image_band: no image here)
      Column band = b.at(mmu::kImageBand);
      band.name = kTokenBands;
      o.add(std::move(band));
      o.add(make_column<bool>(kTokenDisplay, display_rows(b)));  // what the codec keyed its band vocabulary on
    }
  }
  return o;
}

TokenizeResult tokenize(const TokenizeOptions& opt) {
  if (opt.codecs.empty()) fail_usage("--codecs: at least one codec file");
  if (opt.data.empty()) fail_usage("--data: at least one dataset");
  if (opt.batch <= 0) fail_usage("--batch must be positive");
  if (!opt.split.empty() && opt.split != "train" && opt.split != "test") fail_usage("--split '{}': train or test", opt.split);
  for (const auto& [m, n] : opt.keep)
    if (n < 0) fail_usage("--keep {}={}: a count of objects, 0 or more", m, n);
  CodecSet set = CodecSet::load(opt.codecs);
  auto roots = output_roots(opt.data, opt.out);
  TokenizeResult total;
  for (size_t di = 0; di < opt.data.size(); ++di) {
    const auto& data = opt.data[di];
    Dataset ds = Dataset::open(data);
    std::vector<std::string> have;
    for (const auto& c : ds.schema()) have.push_back(c.name);
    const CatalogueTokenizer core(set, have, opt.modalities, opt.names, data);
    const auto& mods = core.modalities();
    const auto& cols = core.columns();
    std::map<std::string, std::set<std::string>> kept;
    for (const auto& [m, n] : opt.keep) {
      if (std::find(mods.begin(), mods.end(), m) == mods.end())
        fail_usage("--keep {}={}: '{}' is not a modality tokenized here ({})", m, n, m, fmt::join(mods, ", "));
      kept[m] = kept_objects(data, opt.split, n);
    }
    std::string source = fmt::format("astrofm tokenize --codecs {} --data {}", fmt::join(opt.codecs, " "), data);
    if (!opt.split.empty()) source += " --split " + opt.split;
    for (const auto& [m, n] : opt.keep) source += fmt::format(" --keep {}={}", m, n);
    auto r = stream(data, roots[di], cols, opt.batch, opt.overwrite, opt.resume, opt.out_format, "tokenize", source, opt.comm.get(), [&](const Table& all, const std::string& where) {
      Table b;
      if (opt.split.empty()) {
        b = all;
      } else {
        std::vector<int64_t> rows;
        const auto& ids = all.at(mmu::kObjectId).strings;
        for (int64_t i = 0; i < all.rows(); ++i)
          if (in_split(opt.split, ids[i])) rows.push_back(i);
        b = all.take(rows);
        if (b.rows() == 0) return b;
      }
      Table o = core.tokenize(b, where);
      for (const auto& [m, objects] : kept) {
        Column& t = o.at(core.token_name(m));
        for (int64_t i = 0; i < b.rows(); ++i)
          if (!objects.count(b.at(mmu::kObjectId).strings[i])) std::fill_n(t.ptr<int32_t>() + i * t.row_elems(), t.row_elems(), kMissing);
      }
      return o;
    });
    total.objects += r.objects;
    total.columns = r.columns;
  }
  return total;
}

TokenizeResult detokenize(const DetokenizeOptions& opt) {
  if (opt.codecs.empty()) fail_usage("--codecs: at least one codec file");
  if (opt.batch <= 0) fail_usage("--batch must be positive");
  CodecSet set = CodecSet::load(opt.codecs);
  Dataset ds = Dataset::open(opt.data);
  std::vector<std::string> cols = {mmu::kObjectId, mmu::kRa, mmu::kDec}, mods;
  for (const auto& c : ds.schema()) {
    if (c.name.rfind("tok_", 0) != 0) {
      if (c.name == kTokenBands || c.name == kTokenDisplay || c.name == mmu::kSpectrumLambda) cols.push_back(c.name);
      continue;
    }
    std::string m = c.name.substr(4);
    set.at(m);  // NotFound naming the modality when no codec covers it
    mods.push_back(m);
    cols.push_back(c.name);
  }
  if (mods.empty()) fail_input("{}: no tok_<modality> columns (is this an `astrofm tokenize` output?)", opt.data);
  std::string source = fmt::format("astrofm detokenize --codecs {} --data {}", fmt::join(opt.codecs, " "), opt.data);
  return stream(opt.data, opt.out, cols, opt.batch, opt.overwrite, opt.resume, opt.out_format, "detokenize", source, opt.comm.get(), [&](const Table& b, const std::string& where) {
    Table o;
    o.add(b.at(mmu::kObjectId));
    o.add(b.at(mmu::kRa));
    o.add(b.at(mmu::kDec));
    // The codecs read their context under the MMU names.
    Table ctx;
    for (const auto& c : b.columns()) {
      Column x = c;
      if (x.name == kTokenBands) x.name = mmu::kImageBand;
      if (x.name == kTokenDisplay) x.name = "image_display";
      ctx.add(std::move(x));
    }
    for (const auto& m : mods) {
      Table d = set.at(m).decode(b.at(token_column(m)), ctx, where);
      for (auto& c : d.columns())
        if (!o.has(c.name)) o.add(std::move(c));
    }
    return o;
  });
}

}  // namespace astrofm::codecs
