#pragma once
// The web page's files, compiled into the binary (cmake/embed_assets.cmake).
#include <cstddef>

namespace astrofm::serve {

struct WebAsset {
  const char* name;
  const char* type;
  const char* data;
  size_t size;
};
const WebAsset* find_web_asset(const char* name);  // nullptr when absent

}  // namespace astrofm::serve
