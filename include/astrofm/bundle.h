#pragma once
// AION as one file: a bundle is a model file whose "model" part is the
// transformer and whose other parts are its codecs, one per modality
// (docs/formats/model-file.md). `--model BUNDLE` needs no `--codecs`; a
// released Hugging Face snapshot folder works the same way, converted in memory.
// Torch-free interface.
// Thread-safety: independent per call.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/model_file.h"

namespace astrofm {

// The bundle of a snapshot folder (transformer + every codec it ships),
// checked: each codec's token count and vocabulary must be what the
// transformer's modality takes (InputError naming the codec's config.json).
ModelFile snapshot_bundle(const std::string& snapshot_dir);

// `astrofm convert SNAPSHOT --out FILE`: the bundle written atomically; returns its meta.
nlohmann::json convert_snapshot(const std::string& snapshot_dir, const std::string& out, const nlohmann::json& set = nlohmann::json::object());

// The codec sources for a model: `codecs` when given, else the model itself
// when it is a bundle or a snapshot folder (else empty).
std::vector<std::string> codecs_for_model(const std::string& model_path, const std::vector<std::string>& codecs);

}  // namespace astrofm
