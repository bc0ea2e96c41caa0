#pragma once
// NumPy's .npy format (version 1-3), read from untrusted bytes and written:
// arrays travel to and from the service in it (`np.save` / `np.load`).
// Little-endian numeric dtypes and bool; C order only. Torch-free.
// Thread-safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "astrofm/table.h"

namespace astrofm {

// An array as a Column: the first axis is the rows, the rest the row shape.
// InputError naming `where` and the field (magic, header, descr, shape, data
// size) on anything malformed; a 0-d array, Fortran order, big-endian or
// object dtypes, or a size that does not match the shape.
Column parse_npy(std::string_view bytes, const std::string& name, const std::string& where);

// A float32 array of `shape` (C order) as .npy version 1 bytes.
std::string npy_bytes(const float* data, const std::vector<int64_t>& shape);

}  // namespace astrofm
