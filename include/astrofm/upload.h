#pragma once
// The objects a client sends (to `astrofm serve`), as an MMU table:
// image_array [N, B, H, W] float32 with image_band [N, B], and/or
// spectrum_flux [N, L] float32, optional object_id, and tok_* columns of an
// HDF5 upload. Every format a request body may use is parsed here, from
// untrusted bytes, and fuzzed (fuzz/fuzz_upload.cc, fuzz_hdf5.cc). Torch-free.
// Thread-safety: JSON and .npy parsing are pure; FITS, PNG/JPEG and HDF5
// uploads go through the importers and HDF5, which one thread at a time may
// call (see mmu.h): the caller serialises them. HDF5 uploads are read in a
// child process (fork), because libhdf5 crashes on some malformed files.
#include <cstdint>
#include <mutex>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "astrofm/table.h"

namespace astrofm {

struct UploadOptions {
  std::vector<std::string> bands;  // band names for images that do not carry them (.npy, PNG/JPEG, JSON without "bands"); none: no image_band column
  std::string modality = "image";  // .npy: image ([N, B, H, W] or [B, H, W]) or spectrum ([N, L])
  int image_size = 0;              // PNG/JPEG: resample to this size (0: native)
  int64_t max_objects = 4096;      // more objects in one upload: InputError
  std::mutex* hdf5_lock = nullptr; // HDF5 uploads: held while forking the reader (no other thread may be inside HDF5 then)
  int reader_seconds = 60;         // HDF5 uploads: the reader process is killed after this long
};

// "image/png" of "Image/PNG; q=1": the media type alone, lower case.
std::string upload_base_type(const std::string& content_type);

// A whole request body of `content_type` (application/json, application/x-npy,
// application/fits, application/x-hdf5, image/png, image/jpeg) as a table.
// InputError naming the field and value for anything unusable.
Table parse_upload(std::string_view body, const std::string& content_type, const UploadOptions& o);

// The data fields of a JSON request ("images", "bands", "spectra", "ids"):
// nested arrays of numbers, checked to be rectangular and finite-or-NaN;
// an empty table when the request has none of them.
Table table_from_json(const nlohmann::json& request, const UploadOptions& o);

// A JSON request body read in one SAX pass: the numeric arrays under the
// top-level keys `images` and `spectra` go straight into float buffers
// (null is a missing value: NaN), checked to be rectangular, with errors
// naming the element (images[0][2][5][1]); everything else becomes the DOM
// `rest`. (table_from_json of a DOM goes through this reader too.) Large uploads
// thus never become a tree of one node per number.
struct JsonRequest {
  nlohmann::json rest = nlohmann::json::object();
  struct Array {
    std::vector<int64_t> shape;
    std::vector<float> values;
  };
  std::map<std::string, Array> arrays;
};
// InputError for invalid JSON, a body that is not an object, or a bad array.
JsonRequest parse_json_request(std::string_view body, const UploadOptions& o);
Table table_from_json(JsonRequest&& request, const UploadOptions& o);

// True for the content types parse_upload reads.
bool is_upload_type(const std::string& content_type);

}  // namespace astrofm
