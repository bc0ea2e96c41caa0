#include "astrofm/aion.h"

#include <cmath>

#include "astrofm/bundle.h"
#include "astrofm/codecs.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/models/aion.h"
#include "astrofm/models/registry.h"
#include "astrofm/resources.h"

namespace astrofm {

struct Aion::Impl {
  std::string path;
  models::LoadedModel lm;
  std::shared_ptr<const codecs::CodecSet> codecs;  // null: a transformer alone
  std::unique_ptr<Encoder> encoder;
  std::unique_ptr<Generator> generator;
};

Aion::Aion(const std::string& model, AionOptions opt) : impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  I.path = resolve_model_path(model);
  I.lm = models::load_model(I.path, torch::kCPU, models::parse_model_dtype(opt.dtype));
  if (I.lm.architecture != "aion") fail_input("{}: a '{}' model, not an AION model", model, I.lm.architecture);
  I.lm.module->eval();
  if (auto paths = codecs_for_model(I.path, opt.codecs); !paths.empty())
    I.codecs = std::make_shared<const codecs::CodecSet>(codecs::CodecSet::load(paths));
  I.encoder = std::make_unique<Encoder>(I.lm, I.path);
  if (I.codecs) I.generator = std::make_unique<Generator>(I.lm, I.path, I.codecs);
}

Aion::~Aion() = default;

bool is_aion_model(const std::string& model) { return models::architecture_of(resolve_model_path(model)) == "aion"; }

const std::string& Aion::name() const { return impl_->encoder->name(); }
const std::string& Aion::path() const { return impl_->path; }
const nlohmann::json& Aion::meta() const { return impl_->lm.meta; }
const Encoder& Aion::encoder() const { return *impl_->encoder; }
bool Aion::can_generate() const { return impl_->generator != nullptr; }

std::vector<std::string> Aion::token_columns() const {
  std::vector<std::string> out;
  for (const auto& m : dynamic_cast<const models::AionImpl&>(*impl_->lm.module).config().modalities) out.push_back(m.column);
  return out;
}

namespace {

// Uploads and arrays carry no inverse variance. The image codec reads a row
// without one as an 8-bit display cutout: flux rows (bands not marked
// "(8-bit)") get unit weights, as Python's tokenize gives them, display rows NaN.
Column flux_weights(const Table& t) {
  const Column& img = t.at(mmu::kImageArray);
  const Column& band = t.at(mmu::kImageBand);
  Column w(mmu::kImageIvar, DType::Float32, img.shape, img.rows);
  const int64_t per = img.row_elems(), nb = band.row_elems();
  float* out = w.ptr<float>();
  for (int64_t i = 0; i < img.rows; ++i) {
    bool display = false;
    for (int64_t b = 0; b < nb; ++b) display = display || band.strings[i * nb + b].find("(8-bit)") != std::string::npos;
    std::fill(out + i * per, out + (i + 1) * per, display ? NAN : 1.0f);
  }
  return w;
}

bool unweighted(const Table& t) { return t.has(mmu::kImageArray) && t.has(mmu::kImageBand) && !t.has(mmu::kImageIvar); }

Table weighted(const Table& rows) {
  Table in = rows;
  in.add(flux_weights(in));
  return in;
}

}  // namespace

Table Aion::tokenize(const Table& rows, const std::string& where, const std::vector<std::string>& also) const {
  if (!impl_->codecs) return rows;
  Table copy;  // only when weights are added
  const Table& in = unweighted(rows) ? (copy = weighted(rows)) : rows;
  return RawTokenizer(impl_->codecs, in.names(), where, {}, also).tokenize(in);
}

Table Aion::embed(const Table& rows, bool tokens, const std::string& where, const std::vector<std::string>& also) const {
  return impl_->encoder->embed(tokenize(rows, where, also), tokens);
}

Table Aion::generate(const Table& rows, const GenerateRequest& r, const std::string& where) const {
  if (!impl_->generator) fail_usage("{}: a transformer without codecs cannot generate; give the codec files (--codecs)", impl_->path);
  Table copy;
  return impl_->generator->generate(unweighted(rows) ? (copy = weighted(rows)) : rows, r, where);
}

}  // namespace astrofm
