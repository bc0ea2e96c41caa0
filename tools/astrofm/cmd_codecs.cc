// tokenize, detokenize, codec eval|kinds: thin wrappers over astrofm/codecs.h.
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "astrofm/codecs.h"
#include "astrofm/communicator.h"
#include "astrofm/error.h"
#include "astrofm/generate.h"
#include "astrofm/model_file.h"
#include "commands.h"

namespace astrofm::cli {

void add_codec_commands(CLI::App& app) {
  {
    auto* c = app.add_subcommand("tokenize", "Tokenize datasets with modality codecs: tok_<modality> integer columns in the MMU layout");
    static codecs::TokenizeOptions o;
    c->add_option("--codecs", o.codecs, "codec files (or shipped names); several may be given")->required();
    c->add_option("--data", o.data, "MMU datasets")->required();
    c->add_option("--out", o.out, "output dataset root (with several --data: a folder of roots)")->required();
    c->add_option("--modalities", o.modalities, "only these modalities (default: every one the codecs and the data share)")->delimiter(',');
    static std::vector<std::string> as, keep;
    c->add_option("--as", as, "name a modality's tokens by survey, e.g. image=image_hsc writes tok_image_hsc (AION's names)")->delimiter(',');
    c->add_option("--split", o.split, "only the fixed train or test split by object_id (the split astrofm probe uses)")
        ->check(CLI::IsMember({"train", "test"}));
    c->add_option("--keep", keep, "MODALITY=N: that modality's tokens for N objects only (by a hash of object_id), missing elsewhere")->delimiter(',');
    c->add_option("--batch", o.batch, "objects per batch")->capture_default_str();
    c->add_flag("--overwrite", o.overwrite, "replace an existing output");
    c->add_option("--out-format", o.out_format, "hdf5 (MMU v1 layout) or hats (a HATS catalogue LSDB opens)")->capture_default_str();
    c->add_flag("--resume", o.resume, "continue an interrupted run");
    c->callback([] {
      for (const auto& a : as) {
        auto eq = a.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == a.size()) fail_usage("--as '{}': MODALITY=NAME", a);
        o.names[a.substr(0, eq)] = a.substr(eq + 1);
      }
      for (const auto& k : keep) {
        auto eq = k.find('=');
        const std::string count = eq == std::string::npos ? "" : k.substr(eq + 1);
        if (eq == 0 || count.empty() || count.find_first_not_of("0123456789") != std::string::npos)
          fail_usage("--keep '{}': MODALITY=N with N a count of objects", k);
        o.keep[k.substr(0, eq)] = std::stoll(count);
      }
      o.comm = world_communicator();
      quiet_unless_rank_zero(*o.comm);
      auto r = codecs::tokenize(o);
      spdlog::info("tokenized {} objects into {} ({})", r.objects, o.out, fmt::join(r.columns, ", "));
    });
  }
  {
    auto* c = app.add_subcommand("detokenize", "Decode tok_<modality> columns back to modality columns (flux images, spectra, scalars)");
    static codecs::DetokenizeOptions o;
    c->add_option("--codecs", o.codecs, "codec files (or shipped names)")->required();
    c->add_option("--data", o.data, "a tokens dataset (astrofm tokenize output)")->required();
    c->add_option("--out", o.out, "output dataset root")->required();
    c->add_option("--batch", o.batch, "objects per batch")->capture_default_str();
    c->add_flag("--overwrite", o.overwrite, "replace an existing output");
    c->add_option("--out-format", o.out_format, "hdf5 (MMU v1 layout) or hats (a HATS catalogue LSDB opens)")->capture_default_str();
    c->add_flag("--resume", o.resume, "continue an interrupted run");
    c->callback([] {
      o.comm = world_communicator();
      quiet_unless_rank_zero(*o.comm);
      auto r = codecs::detokenize(o);
      spdlog::info("decoded {} objects into {} ({})", r.objects, o.out, fmt::join(r.columns, ", "));
    });
  }
  {
    auto* c = app.add_subcommand("generate", "Generate a modality from others with an AION model: distributions of scalars, decoded spectra and images");
    static GenerateOptions o;
    c->add_option("--model", o.model, "AION model: a bundle or a released snapshot folder (their codecs are used), or a model file from astrofm train aion / convert --kind aion")->required();
    c->add_option("--codecs", o.codecs, "codec files, to decode the target (default: the bundle's or snapshot's own)");
    c->add_option("--data", o.data, "tokens dataset (astrofm tokenize)")->required();
    c->add_option("--from", o.from, "input modalities (default: every one the model knows but the target)")->delimiter(',');
    c->add_option("--to", o.to, "the modality to generate (Z, FLUX_G, spectrum, image, ...)")->required();
    c->add_option("--out", o.out, "output dataset root")->required();
    c->add_option("--report", o.report, "folder for metrics.json and pit.png (when the data holds the target's tokens)");
    c->add_option("--qp", o.qp, "one-token targets: also write the distributions as a qp file (hist ensemble over the codec's bins; qp.read, RAIL)");
    c->add_option("--steps", o.steps, "iterative decoding steps for many-token targets")->capture_default_str();
    c->add_option("--temperature", o.temperature, "sampling temperature (0: most likely tokens)")->capture_default_str();
    c->add_option("--seed", o.seed, "random seed")->capture_default_str();
    c->add_option("--bands", o.bands, "image targets: bands to write")->delimiter(',');
    c->add_option("--dtype", o.dtype, "float32, or bfloat16 (half the memory; faster on CPUs with bfloat16 units)")->capture_default_str();
    c->add_flag("--overwrite", o.overwrite, "replace an existing output");
    c->add_option("--out-format", o.out_format, "hdf5 (MMU v1 layout) or hats (a HATS catalogue LSDB opens)")->capture_default_str();
    c->callback([] {
      auto r = generate(o);
      spdlog::info("generated {} for {} objects into {} ({})", o.to, r.objects, o.out, fmt::join(r.columns, ", "));
      if (!r.metrics.is_null()) std::printf("%s\n", r.metrics.dump(2).c_str());
    });
  }
  auto* codec = app.add_subcommand("codec", "Modality codecs: reconstruction quality (eval), the codec kinds (kinds)");
  codec->require_subcommand(1);
  {
    auto* c = codec->add_subcommand("eval", "Reconstruction quality of codecs on a dataset (chi^2, flux error, R^2, bin error)");
    static codecs::CodecEvalOptions o;
    c->add_option("--codecs", o.codecs, "codec files (or shipped names)")->required();
    c->add_option("--data", o.data, "MMU dataset the codecs never saw")->required();
    c->add_option("--report", o.report, "folder for metrics.json and figures");
    c->add_option("--max-objects", o.max_objects, "objects evaluated")->capture_default_str();
    c->add_option("--figures", o.figures, "objects shown per modality")->capture_default_str();
    c->callback([] { std::printf("%s\n", codecs::evaluate_codecs(o).dump(2).c_str()); });
  }
  {
    auto* c = codec->add_subcommand("merge", "Several codec files into one (one codec per modality)");
    static std::vector<std::string> in;
    static std::string out;
    static bool overwrite = false;
    c->add_option("FILES", in, "codec files")->required();
    c->add_option("--out", out, "merged codec file")->required();
    c->add_flag("--overwrite", overwrite, "replace an existing file");
    c->callback([] {
      if (std::filesystem::exists(out) && !overwrite) fail_input("output {} already exists (pass --overwrite)", out);
      auto set = codecs::CodecSet::load(in);
      nlohmann::json meta = {{"name", std::filesystem::path(out).stem().string()},
                             {"description", fmt::format("codecs for {}", fmt::join(set.modalities(), ", "))},
                             {"merged_from", nlohmann::json::array()}};
      for (const auto& f : in) {
        auto m = ModelFile::read_meta(codecs::resolve_codec_path(f));
        meta["merged_from"].push_back({{"file", f}, {"training", m.value("training", nlohmann::json())}});
      }
      set.save(out, meta);
      spdlog::info("wrote {} ({})", out, fmt::join(set.modalities(), ", "));
    });
  }
  {
    auto* c = codec->add_subcommand("kinds", "The codec table: each kind, its modality and what it converts");
    c->callback([] {
      for (const auto& k : codecs::codec_kinds())
        std::printf("%-12s %-9s %s%s\n", k.kind.c_str(), k.modality_kind.c_str(), k.description.c_str(),
                    k.convert_kinds.empty() ? "" : fmt::format(" [convert: {}]", fmt::join(k.convert_kinds, ", ")).c_str());
    });
  }
}

}  // namespace astrofm::cli
