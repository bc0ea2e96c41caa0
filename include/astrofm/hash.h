#pragma once
// FNV-1a, 64-bit: model-file checksums and the stable object_id splits
// (validation, probe test set) that must not change between runs or builds.
// Thread-safety: pure functions.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace astrofm {

inline constexpr uint64_t kFnvOffset = 1469598103934665603ull;

inline uint64_t fnv1a(const void* data, size_t n, uint64_t h = kFnvOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

inline uint64_t fnv1a(std::string_view s) { return fnv1a(s.data(), s.size()); }

// The fixed test split, a fifth of the objects by object_id: `astrofm probe`
// without --test and `astrofm tokenize --split` agree on it.
inline bool in_fixed_test_split(std::string_view object_id) { return (fnv1a(object_id) >> 7) % 5 == 0; }
// Whether an object is in `split`: "train" or "test" of that fixed split, or
// every object for "" and "all" (callers check the name first).
inline bool in_split(std::string_view split, std::string_view object_id) {
  return split.empty() || split == "all" || in_fixed_test_split(object_id) == (split == "test");
}

}  // namespace astrofm
