#pragma once
// Internal to astrofm_search: what the index build (index_build.cc) and the
// queries (search.cc) share. Torch-free.
#include <cstdint>

namespace astrofm::search_internal {

// objects.bin's magic (docs/formats/index-folder.md).
inline constexpr char kObjectsMagic[8] = {'A', 'F', 'M', 'O', 'B', 'J', '1', '\n'};

// Rows of x [n, d] to unit length (cosine indexes); zero rows stay zero.
void normalise(float* x, int64_t n, int64_t d);

}  // namespace astrofm::search_internal
