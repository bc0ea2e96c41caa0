#pragma once
// Internal to astrofm_core: a whole file memory-mapped read-only (private), the
// storage behind ModelFile's and the safetensors reader's tensor views.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace astrofm {

struct Mapping {
  const uint8_t* data = nullptr;
  size_t size = 0;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();
};

// Throws InputError (IO) naming `path` and `what` ("model file") when it cannot be opened or mapped.
std::shared_ptr<Mapping> map_file(const std::string& path, const char* what = "model file");

}  // namespace astrofm
