#pragma once
// AION-1 as its authors release it: the table of its modalities (from
// polymathic-aion 0.0.2's aion/modalities.py, aion/codecs/config.py and
// aion/fourm/modality_info.py) and the Hugging Face snapshot folder layout
// (docs/formats/hf-snapshot.md):
//
//   SNAPSHOT/config.json                       the transformer's settings
//   SNAPSHOT/model.safetensors                 its weights (or pytorch_model.bin)
//   SNAPSHOT/codecs/<name>/config.json         each codec's constructor arguments
//   SNAPSHOT/codecs/<name>/model.safetensors   each codec's weights
//
// <name> is AION's Modality.name ("image", "spectrum", "FLUX_G", "Z", ...):
// Legacy Survey and HSC images share one image codec, DESI and SDSS spectra
// one spectrum codec. Reading a snapshot here checks every settings file and
// finds the files; no weights are touched (torch-free, fuzzed).
// Thread-safety: the table is immutable; read_snapshot is reentrant.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm::aion {

struct ReleaseModality {
  const char* aion_class;   // "LegacySurveyImage": the class a notebook names
  const char* token_key;    // "tok_image": the transformer's key
  const char* codec_dir;    // "image": codecs/<codec_dir>/ in a snapshot (Modality.name)
  const char* codec_class;  // "ImageCodec", "SpectrumCodec", "LogScalarCodec", ...
  const char* column;       // astrofm's token column ("tok_spectrum" for DESI, "tok_FLUX_G")
  int64_t tokens, vocab, grid_h, grid_w;
  // 4M's seq_token modality (the catalog): 1-D positions counted over the
  // tokens present, and codec token k is k + vocab_offset in the transformer
  // (the values below are 4M's pad, start, end, unk and sentinels).
  bool sequence = false;
  int64_t vocab_offset = 0;
};

std::span<const ReleaseModality> release_modalities();
// By token key ("tok_flux_g"), AION class ("LegacySurveyFluxG") or astrofm
// column ("tok_FLUX_G"); nullptr when unknown.
const ReleaseModality* find_modality(const std::string& name);

struct SnapshotCodec {
  std::string name;         // codec_dir
  std::string codec_class;  // from the release table
  std::string config_path, weights_path;
  nlohmann::json config;    // the codec's config.json (constructor arguments)
};

struct Snapshot {
  std::string dir;
  std::string kind;            // "aion"
  std::string config_path, weights_path;
  nlohmann::json config;       // config.json as written
  std::vector<std::string> domains;  // token keys, domains_in then any domains_out not in it
  std::map<std::string, SnapshotCodec> codecs;  // by codec_dir, those present in the folder
  nlohmann::json provenance;   // repository, revision, files (name, bytes)
};

// A folder holding config.json (a Hugging Face snapshot of some model).
bool is_snapshot(const std::string& path);

// Reads and checks config.json and every codecs/*/config.json. InputError
// naming the file and the field: missing weights, a field of the wrong type,
// an unknown modality in domains_in/out, a codec folder AION does not have,
// a codec config that names another modality.
Snapshot read_snapshot(const std::string& dir);

// The settings check alone, on config.json's parsed text (`where` names the file).
nlohmann::json check_aion_config(const nlohmann::json& config, const std::string& where);

// provenance["files"] with a checksum for each file: the sha256 that a hub
// cache names its blobs by (a snapshot file is a link to blobs/<sha256>), else
// FNV-1a 64 of the bytes (reads every file once).
nlohmann::json provenance_with_checksums(const Snapshot& s);

// The codec a token key needs from a snapshot; InputError naming the folder
// and the missing codecs/<name>/ when absent.
const SnapshotCodec& codec_for(const Snapshot& s, const std::string& token_key);

}  // namespace astrofm::aion
