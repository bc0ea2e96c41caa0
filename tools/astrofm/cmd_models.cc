#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/aion_release.h"
#include "astrofm/bundle.h"
#include "astrofm/codecs.h"
#include "astrofm/communicator.h"
#include "astrofm/embed.h"
#include "astrofm/error.h"
#include "astrofm/resources.h"
#include "astrofm/model_file.h"
#include "astrofm/models/architecture.h"
#include "astrofm/models/registry.h"
#include "astrofm/models/snapshot.h"
#include "astrofm/train.h"
#include "commands.h"

namespace astrofm::cli {

void add_model_commands(CLI::App& app) {
  {
    auto* c = app.add_subcommand("models", "List the shipped models (names usable with --model)");
    static bool as_json = false, paths = false, archs = false;
    c->add_flag("--json", as_json, "machine-readable output");
    c->add_flag("--paths", paths, "where models and simulator data are looked up, in order");
    c->add_flag("--architectures", archs, "the architecture table: what each embeds and converts");
    auto* add = c->add_subcommand("add", "Register a released model snapshot folder (e.g. polymathic-ai/aion-base as downloaded) so --model NAME finds it");
    static std::string add_path, add_name;
    add->add_option("PATH", add_path, "the snapshot folder (config.json, model.safetensors, codecs/)")->required();
    add->add_option("--name", add_name, "the name to use (default: the repository's name, e.g. aion-base)");
    add->callback([] {
      auto snap = aion::read_snapshot(add_path);
      models::load_snapshot(add_path);  // refuse now what would fail later: config and weights must agree
      auto prov = aion::provenance_with_checksums(snap);
      std::string name = add_name;
      if (name.empty())
        name = prov.contains("repository") ? std::filesystem::path(prov["repository"].get<std::string>()).filename().string()
                                           : std::filesystem::absolute(add_path).lexically_normal().filename().string();
      auto reg = register_snapshot(name, add_path, prov);
      spdlog::info("registered {} as '{}' ({}): --model {} works from now on", add_path, name, reg, name);
    });
    c->callback([add] {
      if (*add) return;
      if (archs) {
        for (const auto& n : models::architecture_table().names()) {
          const auto& a = models::architecture_table().at(n);
          std::printf("%-17s %-15s %s%s\n", n.c_str(), fmt::format("{}", fmt::join(a.modalities, ",")).c_str(), a.description.c_str(),
                      a.convert_kinds.empty() ? "" : fmt::format(" [convert: {}]", fmt::join(a.convert_kinds, ", ")).c_str());
        }
        return;
      }
      if (paths) {
        for (const auto& d : models_dirs()) std::printf("models: %s\n", d.string().c_str());
        try {
          std::printf("data: %s\n", data_dir().string().c_str());
        } catch (const InputError&) {
          std::printf("data: (none found)\n");
        }
        return;
      }
      nlohmann::json all = nlohmann::json::array();
      for (const auto& [name, path] : shipped_models()) {
        nlohmann::json meta;
        if (!path.ends_with(".afm") && !aion::is_snapshot(path)) {
          meta = {{"name", name}, {"kind", "snapshot"}, {"description", "registered snapshot folder missing: run `astrofm models add` again"}};
        } else if (aion::is_snapshot(path)) {  // registered with `astrofm models add`
          auto snap = aion::read_snapshot(path);
          meta = {{"name", name}, {"architecture", "aion"}, {"kind", "snapshot"}, {"provenance", snap.provenance},
                  {"description", fmt::format("AION-1 snapshot (dim {}, {} + {} layers) from {}", snap.config["dim"].dump(),
                                              snap.config["encoder_depth"].dump(), snap.config["decoder_depth"].dump(),
                                              snap.provenance.value("repository", path))}};
        } else {
          meta = ModelFile::read_meta(path);
          meta["kind"] = model_kind_name(model_kind(meta, path));
        }
        meta["path"] = path;
        all.push_back(meta);
        if (!as_json) {
          std::string what = meta.value("description", "");
          if (what.empty() && meta.contains("training"))
            what = fmt::format("{} ({} steps, {} objects)", meta["training"].value("task", ""), meta["training"].value("steps", 0),
                               meta["training"].value("objects", 0));
          std::printf("%-20s %-8s %-10s %s\n", name.c_str(), meta.value("kind", "?").c_str(), meta.value("architecture", "?").c_str(), what.c_str());
        }
      }
      if (as_json) std::printf("%s\n", all.dump(2).c_str());
      else if (all.empty()) std::printf("no shipped models found\n");
    });
  }
  {
    auto* c = app.add_subcommand("convert", "Convert a released AION-1 snapshot folder to one bundle file, or an AstroCLIP / AstroDINO / SpecFormer / AION checkpoint or AION codec state dict to an astrofm model file");
    static std::string ckpt, kind, out;
    static std::vector<std::string> sets;
    c->add_option("CHECKPOINT", ckpt, "a Hugging Face snapshot folder (config.json, model.safetensors, codecs/), a .safetensors file, or a torch.save file (state_dict or Lightning checkpoint)")->required();
    c->add_option("--kind", kind, "for a file: astroclip, specformer, astrodino, aion, AION's codecs (aion-codec-image, aion-codec-spectrum, aion-codec-scalar), or float16 (an astrofm model file stored at half size); a snapshot folder needs none");
    c->add_option("--out", out, "output model file (.afm)")->required();
    c->add_option("--set", sets, "KEY=VALUE hyper-parameters the weights do not reveal, e.g. num_heads=16");
    c->callback([] {
      nlohmann::json overrides = nlohmann::json::object();
      for (const auto& s : sets) {
        auto eq = s.find('=');
        if (eq == std::string::npos) fail_usage("--set expects KEY=VALUE, got '{}'", s);
        std::string k = s.substr(0, eq), v = s.substr(eq + 1);
        try {
          overrides[k] = nlohmann::json::parse(v);
        } catch (...) {
          overrides[k] = v;
        }
      }
      if (aion::is_snapshot(ckpt)) {
        if (!kind.empty() && kind != "aion") fail_usage("{}: a snapshot folder of AION-1; --kind {} does not apply", ckpt, kind);
        auto meta = convert_snapshot(ckpt, out, overrides);
        spdlog::info("wrote {} (AION bundle: transformer dim {}, {} + {} layers, {} modalities, {} codecs)", out, meta["config"]["dim"].dump(),
                     meta["config"]["encoder_depth"].dump(), meta["config"]["decoder_depth"].dump(), meta["config"]["modalities"].size(),
                     meta["codecs"].size());
        return;
      }
      if (kind.empty()) fail_usage("--kind is needed for a file ({}): astroclip, specformer, astrodino, aion, aion-codec-*, float16", ckpt);
      if (kind == "float16") {
        auto meta = models::store_float16(ckpt, out, overrides);
        spdlog::info("wrote {} ({} model, float16 storage)", out, meta["architecture"].get<std::string>());
        return;
      }
      if (codecs::is_codec_convert_kind(kind)) {
        auto meta = codecs::convert_aion_codec(ckpt, kind, out, overrides);
        spdlog::info("wrote {} (codec for '{}', config {})", out, meta["modality"].get<std::string>(), meta["config"].dump());
        return;
      }
      auto meta = models::convert_checkpoint(ckpt, kind, out, overrides);
      spdlog::info("wrote {} ({} model, config {})", out, meta["architecture"].get<std::string>(), meta["config"].dump());
    });
  }
  {
    auto* c = app.add_subcommand("train", "Train a model: an encoder, a codec or AION (the tasks below)");
    static TrainOptions o;
    // The tasks come from the task table: a new task file appears here with no other edit.
    std::vector<std::string> names = {"image-ssl", "codec-scalar"};
    std::string help = "one of:\n  image-ssl: simclr or dino, by the config's \"method\"\n  codec-scalar: empirical-CDF codecs of catalogue columns";
    // Each task's own options, declared in its file: one flag per name, its
    // help prefixed with the tasks that take it.
    struct Flag {
      std::vector<std::string> tasks;
      std::string help;
      bool multiple = false;
    };
    static std::map<std::string, Flag> flags;
    static std::map<std::string, std::vector<std::string>> flag_values;
    for (const auto& task : training_tasks()) {
      names.push_back(task.name), help += "\n  " + task.name + ": " + task.description;
      for (const auto& op : task.options) {
        Flag& f = flags[op.name];
        f.tasks.push_back(task.name);
        f.help += (f.help.empty() ? "" : "; ") + op.help;
        f.multiple = f.multiple || op.multiple;
      }
    }
    c->add_option("TASK", o.task, help)->required()->check(CLI::IsMember(names));
    static codecs::ScalarFitOptions so;
    c->add_option("--columns", so.columns, "codec-scalar: COLUMN[:linear|log|arcsinh|grid], comma-separated (default log for FLUX_*/SHAPE_R, grid for Z, else linear)")->delimiter(',');
    c->add_option("--bins", so.bins, "codec-scalar: codebook size")->capture_default_str();
    c->add_option("--reservoir", so.reservoir, "codec-scalar: reservoir sample size")->capture_default_str();
    c->add_option("--grid-range", so.grid_range, "codec-scalar: LO HI of grid codecs")->expected(2)->capture_default_str();
    c->add_option("--data", o.data, "MMU datasets")->required();
    c->add_option("--config", o.config, "JSON settings (see configs/); default: the task's defaults");
    c->add_option("--out", o.out, "model file to write (.afm)")->required();
    for (auto& [name, f] : flags) {
      auto* opt = c->add_option("--" + name, flag_values[name], fmt::format("{}: {}", fmt::join(f.tasks, ", "), f.help));
      if (!f.multiple) opt->expected(1);
    }
    c->add_option("--steps", o.steps, "optimisation steps (overrides the config)");
    c->add_option("--batch", o.batch, "batch size (overrides the config)");
    c->add_option("--seed", o.seed, "random seed (overrides the config)");
    c->add_option("--checkpoint-every", o.checkpoint_every, "steps between checkpoints (overrides the config)");
    c->add_option("--device", o.device, "cpu, cuda or cuda:N (batches are prepared on the CPU either way)")->capture_default_str();
    c->add_option("--precision", o.precision, "auto (bf16 autocast on CUDA, fp32 on CPU), fp32 or bf16")
        ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
        ->capture_default_str();
    c->add_flag("--resume", o.resume, "continue from <out>.ckpt after an interruption");
    c->add_flag("--overwrite", o.overwrite, "replace an existing model file");
    c->callback([] {
      if (o.task == "codec-scalar") {
        so.data = o.data, so.out = o.out, so.overwrite = o.overwrite;
        if (o.seed > 0) so.seed = o.seed;
        auto meta = codecs::fit_scalar_codecs(so);
        spdlog::info("wrote {}: {}", o.out, meta["description"].get<std::string>());
        return;
      }
      for (const auto& [name, values] : flag_values)
        if (!values.empty()) o.task_options[name] = values;
      o.comm = world_communicator();
      quiet_unless_rank_zero(*o.comm);
      auto r = train_model(o);
      spdlog::info("trained {} steps in {:.0f} s on {} objects ({} held out, {} rank{}): train loss {:.4f}, validation loss {:.4f}; wrote {}",
                   r.steps, r.seconds, r.train_objects, r.val_objects, o.comm->size(), o.comm->size() > 1 ? "s" : "", r.train_loss, r.val_loss, o.out);
    });
  }
  {
    auto* c = app.add_subcommand("embed", "Embed a dataset with a model; writes an embedding catalogue");
    static EmbedOptions o;
    c->add_option("--model", o.model, "model file or shipped model name")->required();
    c->add_option("--data", o.data, "MMU dataset")->required();
    c->add_option("--out", o.out, "output dataset root (hdf5) or FITS file")->required();
    c->add_option("--format,--out-format", o.format, "hdf5 (MMU layout), hats (a HATS catalogue partitioned like the input) or fits")->capture_default_str();
    c->add_option("--batch", o.batch, "objects per batch")->capture_default_str();
    c->add_option("--device", o.device, "cpu or cuda")->capture_default_str();
    c->add_option("--dtype", o.dtype, "float32, or bfloat16 for an AION model (half the memory; faster on CPUs with bfloat16 units)")->capture_default_str();
    c->add_flag("--overwrite", o.overwrite, "replace an existing output");
    c->add_flag("--resume", o.resume, "continue an interrupted run");
    c->add_flag("--tokens", o.tokens, "also write the backbones' token outputs (tokens_image, tokens_spectrum) for attentive probes");
    c->add_option("--inputs", o.inputs, "only these input columns (an AION model: the token modalities to embed together, e.g. tok_image,tok_FLUX_G)")
        ->delimiter(',');
    c->add_option("--checkpoint-seconds", o.checkpoint_seconds, "at most this long between checkpoints")->capture_default_str();
    c->add_option("--checkpoint-rows", o.checkpoint_rows, "hdf5: objects between checkpoints (--resume continues from the last)")
        ->capture_default_str();
    c->callback([] {
      o.comm = world_communicator();
      quiet_unless_rank_zero(*o.comm);
      auto r = embed_dataset(o);
      spdlog::info("embedded {} objects into {} ({})", r.objects, o.out, fmt::join(r.columns, ", "));
    });
  }
}

}  // namespace astrofm::cli
