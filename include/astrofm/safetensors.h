#pragma once
// Hugging Face safetensors files (layout and checks in docs/formats/safetensors.md),
// read as a ModelFile whose tensors are views into a read-only memory map:
// no copy of the data is made here.
//
// The header is untrusted input: its length, JSON, dtypes, shapes and byte
// ranges are checked before any tensor is touched (one InputError naming the
// file, the tensor and the field). A tensor that safetensors stored once for
// several names (torch's shared tensors, e.g. AION's modality embeddings shared
// by encoder and decoder) appears under every name listed in the metadata.
// Torch-free.
// Thread-safety: read_safetensors is reentrant; the result is immutable.
#include <string>

#include "astrofm/model_file.h"

namespace astrofm {

// meta = {"format": "safetensors", "metadata": {...the file's __metadata__...},
//         "aliases": {alias: stored name}}. F64 tensors are narrowed to F32
// (an owned copy) and BOOL read as U8; other dtypes are an error.
ModelFile read_safetensors(const std::string& path);

// True when the file starts like a safetensors file (a plausible header length
// followed by '{'); cheap, reads 9 bytes.
bool looks_like_safetensors(const std::string& path);

// What readers dispatch on: named *.safetensors (so a damaged one gets
// read_safetensors' error, not another format's) or looking like one.
bool is_safetensors_file(const std::string& path);

}  // namespace astrofm
