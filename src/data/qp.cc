// qp's HDF5 layout (qp.h, docs/formats/qp.md), with the HDF5 C API.
#include "astrofm/qp.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "astrofm/error.h"
#include "data/h5.h"

namespace astrofm {
namespace {

using h5::Handle;

Handle group(hid_t parent, const char* name, const std::string& path) {
  hid_t g = H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) fail_io("{}: cannot create group {}", path, name);
  return {g, H5Gclose};
}

void put(hid_t parent, const std::string& name, hid_t type, std::vector<hsize_t> dims, const void* data, const std::string& path) {
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle ds(H5Dcreate2(parent, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  if (!ds.valid() || H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail_io("{}: cannot write {} (disk full?)", path, name);
}

// Fixed-width, NUL-padded ASCII strings, as tables_io writes numpy bytes.
void put_strings(hid_t parent, const std::string& name, const std::vector<std::string>& v, const std::string& path) {
  size_t w = 1;
  for (const auto& s : v) w = std::max(w, s.size());
  std::vector<char> buf(w * v.size(), '\0');
  for (size_t i = 0; i < v.size(); ++i) std::copy(v[i].begin(), v[i].end(), buf.begin() + i * w);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), w);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  put(parent, name, type.get(), {v.size()}, buf.data(), path);
}

std::vector<double> get(hid_t parent, const std::string& name, std::vector<hsize_t>* dims, const std::string& path) {
  Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) fail_input("{}: not a qp file: no dataset {}", path, name);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1 || rank > 2) fail_input("{}: {} has rank {}, qp writes 1 or 2", path, name, rank);
  dims->assign(rank, 0);
  H5Sget_simple_extent_dims(space.get(), dims->data(), nullptr);
  hsize_t n = 1;
  for (auto d : *dims) n *= d;
  if (n > (hsize_t{1} << 32)) fail_input("{}: {} has {} values, more than a qp file of PDFs should", path, name, n);
  std::vector<double> v(n);
  if (n && H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    fail_input("{}: {} is not numeric", path, name);
  return v;
}

std::string get_name(hid_t meta, const std::string& path) {
  Handle ds(H5Dopen2(meta, "pdf_name", H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) fail_input("{}: not a qp file: no meta/pdf_name", path);
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0)
    fail_input("{}: meta/pdf_name is not a fixed-width string", path);
  size_t w = H5Tget_size(type.get());
  if (w == 0 || w > 64) fail_input("{}: meta/pdf_name has width {}", path, w);
  std::string s(w, '\0');
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1 || H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data()) < 0)
    fail_input("{}: cannot read meta/pdf_name", path);
  return s.substr(0, s.find('\0'));
}

// An extendible, chunked dataset of rows of `cols` values (0: a vector).
Handle growing(hid_t parent, const std::string& name, hid_t type, hsize_t cols, const std::string& path) {
  const int rank = cols ? 2 : 1;
  hsize_t dims[2] = {0, cols}, maxd[2] = {H5S_UNLIMITED, cols};
  hsize_t chunk[2] = {std::max<hsize_t>(1, cols ? (1 << 16) / cols : 4096), cols};
  Handle space(H5Screate_simple(rank, dims, maxd), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl.get(), rank, chunk);
  Handle ds(H5Dcreate2(parent, name.c_str(), type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) fail_io("{}: cannot create {}", path, name);
  return ds;
}

void extend(hid_t ds, hid_t type, hsize_t at, hsize_t n, hsize_t cols, const void* data, const std::string& path, const std::string& name) {
  const int rank = cols ? 2 : 1;
  hsize_t total[2] = {at + n, cols}, start[2] = {at, 0}, count[2] = {n, cols};
  if (H5Dset_extent(ds, total) < 0) fail_io("{}: cannot extend {}", path, name);
  Handle fs(H5Dget_space(ds), H5Sclose);
  H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
  Handle ms(H5Screate_simple(rank, count, nullptr), H5Sclose);
  if (n && H5Dwrite(ds, type, ms.get(), fs.get(), H5P_DEFAULT, data) < 0) fail_io("{}: write of {} failed (disk full?)", path, name);
}

}  // namespace

struct QpWriter::State {
  std::string path, tmp;
  int64_t K = 0, rows = 0;
  Handle file, y;
  std::vector<Handle> ancil, strings;
  std::vector<std::string> ancil_names, string_names;
  Handle vlen{H5Tcopy(H5T_C_S1), H5Tclose};
  bool committed = false;
};

QpWriter::QpWriter(const std::string& path, const std::string& kind, std::vector<double> x, std::vector<std::string> ancil,
                   std::vector<std::string> ancil_strings)
    : st_(std::make_unique<State>()) {
  auto& s = *st_;
  if (kind != "interp" && kind != "hist") fail_usage("qp file {}: kind '{}' (interp or hist)", path, kind);
  s.K = kind == "hist" ? static_cast<int64_t>(x.size()) - 1 : static_cast<int64_t>(x.size());
  if (s.K < 2) fail_usage("qp file {}: a grid of {} values", path, x.size());
  h5::init();
  s.path = path, s.tmp = path + ".tmp";
  s.file = Handle(H5Fcreate(s.tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!s.file.valid()) fail_io("{}: cannot create the qp file", s.tmp);
  H5Tset_size(s.vlen.get(), H5T_VARIABLE);
  {
    Handle meta = group(s.file.get(), "meta", path);
    put_strings(meta.get(), "pdf_name", {kind}, path);
    int64_t version = 0;
    put(meta.get(), "pdf_version", H5T_STD_I64LE, {1}, &version, path);
    put(meta.get(), kind == "hist" ? "bins" : "xvals", H5T_IEEE_F64LE, {1, x.size()}, x.data(), path);
  }
  {
    Handle data = group(s.file.get(), "data", path);
    s.y = growing(data.get(), kind == "hist" ? "pdfs" : "yvals", H5T_IEEE_F64LE, static_cast<hsize_t>(s.K), path);
  }
  if (!ancil.empty() || !ancil_strings.empty()) {
    Handle g = group(s.file.get(), "ancil", path);
    for (const auto& a : ancil) s.ancil.push_back(growing(g.get(), a, H5T_IEEE_F64LE, 0, path));
    for (const auto& a : ancil_strings) s.strings.push_back(growing(g.get(), a, s.vlen.get(), 0, path));
  }
  s.ancil_names = std::move(ancil), s.string_names = std::move(ancil_strings);
}

QpWriter::~QpWriter() {
  if (!st_ || st_->committed) return;
  st_->y.reset(), st_->ancil.clear(), st_->strings.clear(), st_->file.reset();
  std::error_code ec;
  std::filesystem::remove(st_->tmp, ec);
}

int64_t QpWriter::rows() const { return st_->rows; }

void QpWriter::append(int64_t n, const double* y, const std::vector<const double*>& ancil,
                      const std::vector<const std::vector<std::string>*>& ancil_strings) {
  auto& s = *st_;
  if (ancil.size() != s.ancil.size() || ancil_strings.size() != s.strings.size())
    fail_usage("qp file {}: {} ancil columns given, {} declared", s.path, ancil.size() + ancil_strings.size(), s.ancil.size() + s.strings.size());
  const auto at = static_cast<hsize_t>(s.rows), cnt = static_cast<hsize_t>(n);
  extend(s.y.get(), H5T_NATIVE_DOUBLE, at, cnt, static_cast<hsize_t>(s.K), y, s.path, "densities");
  for (size_t a = 0; a < ancil.size(); ++a) extend(s.ancil[a].get(), H5T_NATIVE_DOUBLE, at, cnt, 0, ancil[a], s.path, s.ancil_names[a]);
  for (size_t a = 0; a < ancil_strings.size(); ++a) {
    if (static_cast<int64_t>(ancil_strings[a]->size()) != n) fail_usage("qp file {}: {} values of {} for {} rows", s.path, ancil_strings[a]->size(), s.string_names[a], n);
    std::vector<const char*> p;
    for (const auto& v : *ancil_strings[a]) p.push_back(v.c_str());
    extend(s.strings[a].get(), s.vlen.get(), at, cnt, 0, p.data(), s.path, s.string_names[a]);
  }
  s.rows += n;
}

void QpWriter::commit() {
  auto& s = *st_;
  if (H5Fflush(s.file.get(), H5F_SCOPE_GLOBAL) < 0) fail_io("{}: write failed (disk full?)", s.tmp);
  s.y.reset(), s.ancil.clear(), s.strings.clear(), s.file.reset();
  std::filesystem::rename(s.tmp, s.path);
  s.committed = true;
}

void write_qp(const std::string& path, const QpEnsemble& e) {
  const int64_t K = e.bins();
  if (K < 2 || e.n < 0 || static_cast<int64_t>(e.y.size()) != e.n * K)
    fail_usage("qp file {}: {} densities for {} objects on {} grid values", path, e.y.size(), e.n, e.x.size());
  std::vector<std::string> names, snames;
  std::vector<const double*> cols;
  std::vector<const std::vector<std::string>*> scols;
  for (const auto& [name, v] : e.ancil) {
    if (static_cast<int64_t>(v.size()) != e.n) fail_usage("qp file {}: ancil {} has {} values for {} objects", path, name, v.size(), e.n);
    names.push_back(name), cols.push_back(v.data());
  }
  for (const auto& [name, v] : e.ancil_strings) {
    if (static_cast<int64_t>(v.size()) != e.n) fail_usage("qp file {}: ancil {} has {} values for {} objects", path, name, v.size(), e.n);
    snames.push_back(name), scols.push_back(&v);
  }
  QpWriter w(path, e.kind, e.x, names, snames);
  w.append(e.n, e.y.data(), cols, scols);
  w.commit();
}

QpEnsemble read_qp(const std::string& path) {
  h5::init();
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!f.valid()) fail_input("{}: cannot open as HDF5 (a qp file is HDF5)", path);
  Handle meta(H5Gopen2(f.get(), "meta", H5P_DEFAULT), H5Gclose);
  Handle data(H5Gopen2(f.get(), "data", H5P_DEFAULT), H5Gclose);
  if (!meta.valid() || !data.valid()) fail_input("{}: not a qp file: no meta and data groups", path);
  QpEnsemble e;
  e.kind = get_name(meta.get(), path);
  if (e.kind != "interp" && e.kind != "hist") fail_input("{}: qp ensemble of kind '{}': astrofm reads interp and hist", path, e.kind);
  std::vector<hsize_t> xd, yd;
  e.x = get(meta.get(), e.kind == "hist" ? "bins" : "xvals", &xd, path);
  e.y = get(data.get(), e.kind == "hist" ? "pdfs" : "yvals", &yd, path);
  const int64_t K = e.bins();
  if (K < 2 || yd.size() != 2 || static_cast<int64_t>(yd[1]) != K)
    fail_input("{}: {} densities per object on {} grid values", path, yd.size() == 2 ? yd[1] : 0, e.x.size());
  e.n = static_cast<int64_t>(yd[0]);
  if (H5Lexists(f.get(), "ancil", H5P_DEFAULT) > 0) {
    Handle ancil(H5Gopen2(f.get(), "ancil", H5P_DEFAULT), H5Gclose);
    H5G_info_t gi;
    H5Gget_info(ancil.get(), &gi);
    for (hsize_t i = 0; i < gi.nlinks; ++i) {
      char name[256] = {};
      if (H5Lget_name_by_idx(ancil.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name - 1, H5P_DEFAULT) < 0) continue;
      Handle ds(H5Dopen2(ancil.get(), name, H5P_DEFAULT), H5Dclose);
      if (!ds.valid()) continue;
      Handle type(H5Dget_type(ds.get()), H5Tclose);
      auto cls = H5Tget_class(type.get());
      if (cls != H5T_FLOAT && cls != H5T_INTEGER) continue;
      std::vector<hsize_t> d;
      auto v = get(ancil.get(), name, &d, path);
      if (static_cast<int64_t>(v.size()) == e.n) e.ancil.emplace_back(name, std::move(v));
    }
  }
  return e;
}

GridPdfSummary summarize_grid_pdf(const std::vector<double>& grid, const double* p) {
  const size_t K = grid.size();
  GridPdfSummary s;
  double total = 0, m1 = 0, best = -1;
  for (size_t k = 0; k < K; ++k) {
    if (p[k] > best) best = p[k], s.mode = grid[k];
    if (k + 1 < K) {
      const double h = grid[k + 1] - grid[k];
      total += 0.5 * h * (p[k] + p[k + 1]);
      // The mean of a linear piece: integral of x (a + b x) over [x0, x1].
      m1 += h / 6 * (p[k] * (2 * grid[k] + grid[k + 1]) + p[k + 1] * (grid[k] + 2 * grid[k + 1]));
    }
  }
  if (!(total > 0)) return {NAN, NAN, NAN, NAN, NAN};
  s.mean = m1 / total;
  const double q[3] = {0.16, 0.5, 0.84};
  double* out[3] = {&s.p16, &s.median, &s.p84};
  for (double* o : out) *o = grid.back();
  double cdf = 0;
  int qi = 0;
  for (size_t k = 0; k + 1 < K && qi < 3; ++k) {
    const double h = grid[k + 1] - grid[k], piece = 0.5 * h * (p[k] + p[k + 1]) / total;
    while (qi < 3 && cdf + piece >= q[qi]) {
      *out[qi] = grid[k] + h * (piece > 0 ? (q[qi] - cdf) / piece : 0);  // linear within the piece
      ++qi;
    }
    cdf += piece;
  }
  return s;
}

}  // namespace astrofm
