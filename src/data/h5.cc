#include "h5.h"

#include <H5PLpublic.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace astrofm::h5 {
namespace {

// Where Debian's hdf5-plugin-lzf installs the filter (serial and MPI builds).
const char* kPluginDirs[] = {"/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins",
                             "/usr/lib/aarch64-linux-gnu/hdf5/serial/plugins",
                             "/usr/lib/x86_64-linux-gnu/hdf5/openmpi/plugins"};

Handle owned(hid_t id, Handle::Closer c) { return Handle(id, c); }

Handle bool_type() {
  // h5py stores numpy bool as an int8 enum {FALSE: 0, TRUE: 1}.
  hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
  int8_t f = 0, tr = 1;
  H5Tenum_insert(t, "FALSE", &f);
  H5Tenum_insert(t, "TRUE", &tr);
  return owned(t, H5Tclose);
}

hid_t native_type(DType t) {
  switch (t) {
    case DType::Float32: return H5T_NATIVE_FLOAT;
    case DType::Float64: return H5T_NATIVE_DOUBLE;
    case DType::Int8: return H5T_NATIVE_INT8;
    case DType::Int16: return H5T_NATIVE_INT16;
    case DType::Int32: return H5T_NATIVE_INT32;
    case DType::Int64: return H5T_NATIVE_INT64;
    case DType::UInt8: return H5T_NATIVE_UINT8;
    case DType::UInt16: return H5T_NATIVE_UINT16;
    case DType::UInt32: return H5T_NATIVE_UINT32;
    case DType::UInt64: return H5T_NATIVE_UINT64;
    default: return -1;
  }
}

Handle fixed_string_type(size_t width) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, std::max<size_t>(width, 1));
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  return owned(t, H5Tclose);
}

// Copies of rows [start, start+count) as an HDF5 file dataspace selection.
Handle row_selection(hid_t ds, const std::string& where, int64_t start, int64_t count) {
  Handle space = owned(H5Dget_space(ds), H5Sclose);
  int nd = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(std::max(nd, 0));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  if (nd == 0) return space;
  if (start < 0 || count < 0 || static_cast<hsize_t>(start + count) > dims[0])
    fail_input("{}: rows [{}, {}) out of range ({} rows)", where, start, start + count, dims[0]);
  std::vector<hsize_t> off(nd, 0), cnt(dims);
  off[0] = start;
  cnt[0] = count;
  if (H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr) < 0)
    fail_input("{}: cannot select rows", where);
  return space;
}

}  // namespace

// HDF5 1.10 loads filter plugins lazily on read only; creating an LZF dataset
// needs the filter registered up front. Load Debian's plugin and register it.
void register_lzf_plugin() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("HDF5_PLUGIN_PATH")) {
    std::string s = env;
    for (size_t a = 0, b; a <= s.size(); a = b + 1) {
      b = s.find(':', a);
      if (b == std::string::npos) b = s.size();
      if (b > a) dirs.push_back(s.substr(a, b - a));
    }
  }
  dirs.insert(dirs.end(), std::begin(kPluginDirs), std::end(kPluginDirs));
  // Debian 12's plugin leaves lzf_compress/lzf_decompress undefined (it is not
  // linked against liblzf): make liblzf's symbols global before loading it.
  dlopen("liblzf.so.1", RTLD_NOW | RTLD_GLOBAL);
  // Inside Python, libhdf5 came in RTLD_LOCAL with the extension module: the
  // plugin could not resolve its H5* symbols. Promote the loaded copy to global.
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&H5open), &self) && self.dli_fname) dlopen(self.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  for (const auto& d : dirs) {
    std::string lib = d + "/liblzf_filter.so";
    if (!std::filesystem::exists(lib)) continue;
    void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) continue;
    using InfoFn = const void* (*)();
    auto info = reinterpret_cast<InfoFn>(dlsym(h, "H5PLget_plugin_info"));
    if (info && H5Zregister(info()) >= 0) return;
  }
}

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    if (H5Zfilter_avail(kLzfFilter) <= 0) register_lzf_plugin();
  });
}

bool lzf_available() {
  init();
  return H5Zfilter_avail(kLzfFilter) > 0;
}

File File::open(const std::string& path, bool writable) {
  init();
  File f;
  f.path_ = path;
  if (!std::filesystem::exists(path)) fail_input("{}: no such file", path);
  htri_t is = H5Fis_hdf5(path.c_str());
  if (is <= 0) fail_input("{}: not an HDF5 file (or truncated before its superblock)", path);
  hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) fail_input("{}: cannot open HDF5 file (truncated or corrupt)", path);
  f.file_ = owned(id, H5Fclose);
  return f;
}

File File::create(const std::string& path) {
  init();
  File f;
  f.path_ = path;
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) fail_input("{}: cannot create HDF5 file", path);
  f.file_ = owned(id, H5Fclose);
  return f;
}

void File::flush() const {
  if (H5Fflush(id(), H5F_SCOPE_LOCAL) < 0) fail_input("{}: flush failed (disk full?)", path_);
}

std::vector<std::string> File::dataset_names() const {
  std::vector<std::string> names;
  auto cb = [](hid_t g, const char* name, const H5L_info_t*, void* op) -> herr_t {
    H5O_info_t oi;
    if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) >= 0 && oi.type == H5O_TYPE_DATASET)
      static_cast<std::vector<std::string>*>(op)->push_back(name);
    return 0;
  };
  if (H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names) < 0)
    fail_input("{}: cannot list datasets (corrupt file?)", path_);
  std::sort(names.begin(), names.end());
  return names;
}

bool File::has(const std::string& name) const {
  return H5Lexists(id(), name.c_str(), H5P_DEFAULT) > 0;
}

DatasetInfo File::info(const std::string& name) const {
  DatasetInfo di;
  di.name = name;
  std::string where = path_ + ":" + name;
  if (!has(name)) fail_input("{}: no dataset '{}'", path_, name);
  Handle ds = owned(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) fail_input("{}: cannot open dataset (corrupt file?)", where);
  Handle type = owned(H5Dget_type(ds.get()), H5Tclose);
  Handle space = owned(H5Dget_space(ds.get()), H5Sclose);
  int nd = H5Sget_simple_extent_ndims(space.get());
  if (nd < 0) fail_input("{}: unreadable dataspace", where);
  std::vector<hsize_t> dims(nd);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  di.dims.assign(dims.begin(), dims.end());
  H5T_class_t cls = H5Tget_class(type.get());
  size_t size = H5Tget_size(type.get());
  switch (cls) {
    case H5T_FLOAT:
      di.dtype = size == 4 ? DType::Float32 : DType::Float64;
      di.supported = size == 4 || size == 8;
      di.type_desc = fmt::format("float{}", size * 8);
      break;
    case H5T_INTEGER: {
      bool sgn = H5Tget_sign(type.get()) == H5T_SGN_2;
      static const DType s[] = {DType::Int8, DType::Int16, DType::Int32, DType::Int64};
      static const DType u[] = {DType::UInt8, DType::UInt16, DType::UInt32, DType::UInt64};
      int k = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : size == 8 ? 3 : -1;
      di.supported = k >= 0;
      if (k >= 0) di.dtype = sgn ? s[k] : u[k];
      di.type_desc = fmt::format("{}int{}", sgn ? "" : "u", size * 8);
      break;
    }
    case H5T_ENUM:
      di.dtype = DType::Bool;
      di.supported = H5Tget_nmembers(type.get()) == 2 && size == 1;
      di.type_desc = "enum";
      break;
    case H5T_STRING:
      di.dtype = DType::String;
      di.vlen_string = H5Tis_variable_str(type.get()) > 0;
      di.string_width = di.vlen_string ? 0 : size;
      di.type_desc = di.vlen_string ? "vlen string" : fmt::format("S{}", size);
      break;
    default:
      di.supported = false;
      di.type_desc = fmt::format("HDF5 type class {}", static_cast<int>(cls));
  }
  Handle dcpl = owned(H5Dget_create_plist(ds.get()), H5Pclose);
  int nf = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < nf; ++i) {
    unsigned flags;
    size_t ncd = 0;
    char fname[64] = {0};
    unsigned cfg;
    H5Z_filter_t fid = H5Pget_filter2(dcpl.get(), i, &flags, &ncd, nullptr, sizeof fname, fname, &cfg);
    di.filters.push_back(fid == H5Z_FILTER_DEFLATE ? "gzip" : fid == kLzfFilter ? "lzf"
                         : fid == H5Z_FILTER_SHUFFLE ? "shuffle" : fmt::format("filter{}", fid));
  }
  return di;
}

Column File::read(const std::string& name, int64_t start, int64_t count) const {
  Column col;
  ColumnReader(*this, name).read(start, count, col);
  return col;
}

ColumnReader::ColumnReader(const File& file, const std::string& name)
    : info_(file.info(name)), where_(file.path() + ":" + name) {
  if (!info_.supported) fail_input("{}: unsupported dtype {}", where_, info_.type_desc);
  if (info_.dims.empty()) fail_input("{}: scalar dataset, expected one row per object", where_);
  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  // Uncompressed chunks are read straight into the caller's buffer when the
  // cache cannot hold them, which saves a copy: no cache. Compressed chunks
  // need a cache of two chunks, so that one straddling two batches is
  // decompressed once (the reader keeps this dataset open across batches).
  size_t cache = 0;
  if (!info_.filters.empty()) {
    Handle probe = owned(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
    Handle dcpl = owned(H5Dget_create_plist(probe.get()), H5Pclose);
    std::vector<hsize_t> chunk(info_.dims.size(), 1);
    size_t elem = info_.dtype == DType::String ? std::max<size_t>(info_.string_width, 8) : dtype_size(info_.dtype);
    if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED && !chunk.empty())
      H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    size_t chunk_bytes = elem;
    for (auto c : chunk) chunk_bytes *= c;
    cache = std::max<size_t>(2 * chunk_bytes + 4096, 1 << 20);
  }
  H5Pset_chunk_cache(dapl, 521, cache, 1.0);
  ds_ = owned(H5Dopen2(file.id(), name.c_str(), dapl), H5Dclose);
  H5Pclose(dapl);
  if (!ds_.valid()) fail_input("{}: cannot open dataset (corrupt file?)", where_);
}

void ColumnReader::read(int64_t start, int64_t count, Column& col) {
  const DatasetInfo& di = info_;
  const std::string& where = where_;
  // Reuse the caller's buffer when the layout matches: no reallocation, no page faults.
  if (col.name != di.name || col.dtype != di.dtype || col.shape != di.row_shape()) col = Column(di.name, di.dtype, di.row_shape(), 0);
  // Shapes come from the file: a corrupt header must not make us allocate terabytes.
  constexpr double kMaxBatchBytes = 16.0 * (1ull << 30);
  const double per_value = di.dtype == DType::String ? 32.0 + static_cast<double>(di.string_width) : static_cast<double>(dtype_size(di.dtype));
  double per_row = 1;  // in double: a corrupt shape's product can overflow int64
  for (int64_t d : di.row_shape()) per_row *= static_cast<double>(d);
  if (static_cast<double>(count) * per_row * per_value > kMaxBatchBytes)
    fail_corrupt("{}: column '{}' declares a row shape of {} values, more than a batch of {} rows can hold in memory", where, di.name,
                 fmt::join(di.row_shape(), "x"), count);
  if (col.rows != count) {
    col.rows = count;
    if (di.dtype == DType::String)
      col.strings.resize(count * col.row_elems());
    else
      col.data.resize(count * col.row_bytes());
  }
  if (count == 0) return;
  Handle fspace = row_selection(ds_.get(), where, start, count);
  std::vector<hsize_t> mdims(di.dims.begin(), di.dims.end());
  mdims[0] = count;
  Handle mspace = owned(H5Screate_simple(static_cast<int>(mdims.size()), mdims.data(), nullptr), H5Sclose);
  herr_t st;
  int64_t n = count * col.row_elems();
  if (di.dtype == DType::String) {
    if (di.vlen_string) {
      Handle mt = owned(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mt.get(), H5T_VARIABLE);
      Handle ft = owned(H5Dget_type(ds_.get()), H5Tclose);
      H5Tset_cset(mt.get(), H5Tget_cset(ft.get()));
      std::vector<char*> ptrs(n, nullptr);
      st = H5Dread(ds_.get(), mt.get(), mspace.get(), fspace.get(), H5P_DEFAULT, ptrs.data());
      if (st >= 0) {
        for (int64_t i = 0; i < n; ++i) col.strings[i] = ptrs[i] ? ptrs[i] : "";
        H5Dvlen_reclaim(mt.get(), mspace.get(), H5P_DEFAULT, ptrs.data());
      }
    } else {
      Handle mt = fixed_string_type(di.string_width);
      std::vector<char> buf(n * di.string_width);
      st = H5Dread(ds_.get(), mt.get(), mspace.get(), fspace.get(), H5P_DEFAULT, buf.data());
      for (int64_t i = 0; st >= 0 && i < n; ++i) {
        const char* p = buf.data() + i * di.string_width;
        col.strings[i].assign(p, strnlen(p, di.string_width));
      }
    }
  } else if (di.dtype == DType::Bool) {
    Handle mt = bool_type();
    st = H5Dread(ds_.get(), mt.get(), mspace.get(), fspace.get(), H5P_DEFAULT, col.data.data());
  } else {
    st = H5Dread(ds_.get(), native_type(di.dtype), mspace.get(), fspace.get(), H5P_DEFAULT, col.data.data());
  }
  if (st < 0) {
    bool lzf = std::find(di.filters.begin(), di.filters.end(), "lzf") != di.filters.end();
    if (lzf && !H5Zfilter_avail(kLzfFilter))
      fail_input("{}: compressed with LZF but the LZF filter is not installed (apt-get install hdf5-plugin-lzf)", where);
    fail_input("{}: read of rows [{}, {}) failed (truncated or corrupt file)", where, start, start + count);
  }
}

Column File::read_all(const std::string& name) const { return read(name, 0, info(name).rows()); }

void File::set_attr(const std::string& key, const std::string& value) const {
  Handle t = fixed_string_type(value.size());
  Handle sp = owned(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(id(), key.c_str()) > 0) H5Adelete(id(), key.c_str());
  Handle a = owned(H5Acreate2(id(), key.c_str(), t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.valid() || H5Awrite(a.get(), t.get(), value.data()) < 0)
    fail_input("{}: cannot write attribute '{}'", path_, key);
}

std::string File::attr(const std::string& key) const {
  if (H5Aexists(id(), key.c_str()) <= 0) return "";
  Handle a = owned(H5Aopen(id(), key.c_str(), H5P_DEFAULT), H5Aclose);
  Handle ft = owned(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(ft.get()) != H5T_STRING) return "";
  if (H5Tis_variable_str(ft.get()) > 0) {
    char* p = nullptr;
    Handle mt = owned(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt.get(), H5T_VARIABLE);
    if (H5Aread(a.get(), mt.get(), &p) < 0 || !p) return "";
    std::string s(p);
    H5free_memory(p);
    return s;
  }
  size_t n = H5Tget_size(ft.get());
  std::string s(n, '\0');
  Handle mt = fixed_string_type(n);
  if (H5Aread(a.get(), mt.get(), s.data()) < 0) return "";
  s.resize(strnlen(s.data(), n));
  return s;
}

Compression parse_compression(const std::string& s) {
  if (s == "none") return Compression::None;
  if (s == "gzip") return Compression::Gzip;
  if (s == "lzf") return Compression::Lzf;
  fail_usage("unknown compression '{}' (use none, gzip or lzf)", s);
}

AppendDataset::AppendDataset(const File& file, const Column& proto, Compression comp, int gzip_level,
                             size_t string_width)
    : file_path_(file.path()), name_(proto.name), dtype_(proto.dtype), row_shape_(proto.shape) {
  std::string where = file_path_ + ":" + name_;
  Handle ftype;
  if (dtype_ == DType::String) {
    width_ = string_width;
    for (const auto& s : proto.strings) width_ = std::max(width_, s.size());
    ftype = fixed_string_type(width_);
    mem_type_ = fixed_string_type(width_);
  } else if (dtype_ == DType::Bool) {
    ftype = bool_type();
    mem_type_ = bool_type();
  } else {
    ftype = owned(H5Tcopy(native_type(dtype_)), H5Tclose);
    mem_type_ = owned(H5Tcopy(native_type(dtype_)), H5Tclose);
  }
  int nd = 1 + static_cast<int>(row_shape_.size());
  std::vector<hsize_t> dims(nd), maxdims(nd), chunk(nd);
  dims[0] = 0;
  maxdims[0] = H5S_UNLIMITED;
  size_t row_bytes = dtype_ == DType::String ? width_ * proto.row_elems() : proto.row_bytes();
  for (int i = 1; i < nd; ++i) dims[i] = maxdims[i] = chunk[i] = row_shape_[i - 1];
  // About 1 MiB per chunk: large enough for fast compression, small enough for
  // random access; but no larger than the first write, since small partitions
  // would otherwise allocate (and, uncompressed, store) mostly-empty chunks.
  hsize_t max_rows = std::clamp<hsize_t>((1u << 20) / std::max<size_t>(row_bytes, 1), 1, 16384);
  chunk[0] = std::clamp<hsize_t>(static_cast<hsize_t>(proto.rows), 1, max_rows);
  Handle space = owned(H5Screate_simple(nd, dims.data(), maxdims.data()), H5Sclose);
  Handle dcpl = owned(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl.get(), nd, chunk.data());
  if (comp == Compression::Gzip) {
    H5Pset_deflate(dcpl.get(), gzip_level);
  } else if (comp == Compression::Lzf) {
    // Optional, as h5py sets it: an incompressible chunk is stored raw.
    if (H5Pset_filter(dcpl.get(), kLzfFilter, H5Z_FLAG_OPTIONAL, 0, nullptr) < 0 || !lzf_available())
      fail_input("{}: LZF filter not available (apt-get install hdf5-plugin-lzf)", where);
  }
  hid_t ds = H5Dcreate2(file.id(), name_.c_str(), ftype.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT);
  if (ds < 0) fail_input("{}: cannot create dataset", where);
  ds_ = owned(ds, H5Dclose);
}

AppendDataset::AppendDataset(const File& file, const std::string& name) : file_path_(file.path()), name_(name) {
  DatasetInfo di = file.info(name);
  if (di.vlen_string) fail_input("{}:{}: cannot append to a variable-length string dataset", file_path_, name);
  dtype_ = di.dtype;
  row_shape_ = di.row_shape();
  rows_ = di.rows();
  width_ = di.string_width;
  mem_type_ = dtype_ == DType::String ? fixed_string_type(width_)
              : dtype_ == DType::Bool ? bool_type() : owned(H5Tcopy(native_type(dtype_)), H5Tclose);
  ds_ = owned(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
}

void AppendDataset::truncate(int64_t rows) {
  std::vector<hsize_t> dims(1 + row_shape_.size());
  dims[0] = rows;
  for (size_t i = 0; i < row_shape_.size(); ++i) dims[i + 1] = row_shape_[i];
  if (H5Dset_extent(ds_.get(), dims.data()) < 0) fail_input("{}:{}: cannot resize", file_path_, name_);
  rows_ = rows;
}

void AppendDataset::append(const Column& col, int64_t begin, int64_t count) {
  std::string where = file_path_ + ":" + name_;
  if (col.dtype != dtype_ || col.shape != row_shape_)
    fail_input("{}: batch column is {}, dataset holds {}[{}]", where, col.describe(), dtype_name(dtype_),
               fmt::join(row_shape_, ","));
  if (count == 0) return;
  truncate(rows_ + count);
  Handle fspace = row_selection(ds_.get(), where, rows_ - count, count);
  std::vector<hsize_t> mdims(1 + row_shape_.size());
  mdims[0] = count;
  for (size_t i = 0; i < row_shape_.size(); ++i) mdims[i + 1] = row_shape_[i];
  Handle mspace = owned(H5Screate_simple(static_cast<int>(mdims.size()), mdims.data(), nullptr), H5Sclose);
  herr_t st;
  if (dtype_ == DType::String) {
    int64_t per = col.row_elems();
    std::vector<char> buf(count * per * width_, '\0');
    for (int64_t i = 0; i < count * per; ++i) {
      const std::string& s = col.strings[begin * per + i];
      if (s.size() > width_)
        fail_input("{}: value '{}' is longer than the column's fixed width {}", where, s, width_);
      std::memcpy(buf.data() + i * width_, s.data(), s.size());
    }
    st = H5Dwrite(ds_.get(), mem_type_.get(), mspace.get(), fspace.get(), H5P_DEFAULT, buf.data());
  } else {
    st = H5Dwrite(ds_.get(), mem_type_.get(), mspace.get(), fspace.get(), H5P_DEFAULT,
                  col.data.data() + begin * col.row_bytes());
  }
  if (st < 0) fail_input("{}: write failed (disk full?)", where);
}

}  // namespace astrofm::h5
