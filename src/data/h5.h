#pragma once
// Thin RAII layer over the HDF5 C API (libhdf5). Internal to the data module:
// every error comes out as an InputError naming the file and the dataset.
#include <hdf5.h>

#include <string>
#include <string_view>
#include <vector>

#include "astrofm/table.h"

namespace astrofm::h5 {

// Silences HDF5's own error printing and makes sure the LZF filter plugin
// (Debian's hdf5-plugin-lzf, h5py's filter id 32000) can be found.
void init();
constexpr H5Z_filter_t kLzfFilter = 32000;
bool lzf_available();

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      closer_ = o.closer_;
      o.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

struct DatasetInfo {
  std::string name;
  DType dtype = DType::Float64;
  std::vector<int64_t> dims;  // full dims; dims[0] = rows
  bool vlen_string = false;
  size_t string_width = 0;    // fixed-length strings
  std::string type_desc;      // HDF5 type class, for messages
  bool supported = true;
  std::vector<std::string> filters;  // "gzip", "lzf", "shuffle", ...
  int64_t rows() const { return dims.empty() ? 1 : dims[0]; }
  std::vector<int64_t> row_shape() const { return dims.empty() ? dims : std::vector<int64_t>(dims.begin() + 1, dims.end()); }
};

class File {
 public:
  static File open(const std::string& path, bool writable = false);
  // A whole HDF5 file held in memory (an upload), read-only, through the core
  // driver; `name` only labels messages. libhdf5 copies the bytes. Links and
  // storage outside the file are refused (check_self_contained).
  static File open_image(std::string_view bytes, const std::string& name);
  void check_self_contained() const;  // InputError naming a soft/external link, external or virtual storage
  static File create(const std::string& path);
  hid_t id() const { return file_.get(); }
  const std::string& path() const { return path_; }
  void flush() const;
  void close() { file_.reset(); }

  std::vector<std::string> dataset_names() const;  // top level, sorted
  bool has(const std::string& name) const;
  DatasetInfo info(const std::string& name) const;
  // Reads rows [start, start+count) into a fresh column.
  Column read(const std::string& name, int64_t start, int64_t count) const;
  Column read_all(const std::string& name) const;
  // Small string attributes for provenance.
  void set_attr(const std::string& key, const std::string& value) const;
  std::string attr(const std::string& key) const;  // "" when absent

 private:
  Handle file_;
  std::string path_;
};

// One dataset opened for repeated row-slab reads: keeps its chunk cache warm
// between batches and reads into the caller's column, reusing its buffer.
class ColumnReader {
 public:
  ColumnReader(const File& file, const std::string& name);
  const DatasetInfo& info() const { return info_; }
  void read(int64_t start, int64_t count, Column& out);

 private:
  Handle ds_;
  DatasetInfo info_;
  std::string where_;
};

enum class Compression { None, Gzip, Lzf };
Compression parse_compression(const std::string& s);

// An extendible, chunked dataset that grows by appended rows.
class AppendDataset {
 public:
  // Creates `name` in `file` with the layout of `proto` (its rows size the
  // chunks: pass the first rows to be written). String columns get fixed
  // width max(string_width, longest string in proto).
  AppendDataset(const File& file, const Column& proto, Compression comp, int gzip_level, size_t string_width);
  // Reopens an existing dataset to continue appending (resume).
  AppendDataset(const File& file, const std::string& name);
  void append(const Column& col, int64_t begin, int64_t count);
  void truncate(int64_t rows);
  int64_t rows() const { return rows_; }
  const std::string& name() const { return name_; }

 private:
  Handle ds_, mem_type_;
  std::string file_path_, name_;
  DType dtype_;
  std::vector<int64_t> row_shape_;
  size_t width_ = 0;
  int64_t rows_ = 0;
};

}  // namespace astrofm::h5
