#include "io/fits.h"

#include <filesystem>
#include <limits>

#include "astrofm/error.h"

namespace astrofm {

FitsFile::FitsFile(const std::string& path) : path_(path) {
  if (!std::filesystem::exists(path)) fail_input("{}: no such file", path);
  int status = 0;
  // The "[0]" suffix stops CFITSIO from interpreting brackets in file names.
  if (fits_open_diskfile(&f_, path.c_str(), READONLY, &status)) {
    char msg[FLEN_STATUS];
    fits_get_errstatus(status, msg);
    fail_input("{}: not a readable FITS file ({})", path, msg);
  }
}

FitsFile::FitsFile(InMemory, std::string bytes, const std::string& name) : path_(name), mem_(std::move(bytes)) {
  if (mem_.empty()) fail_input("{}: empty FITS file", name);
  mem_ptr_ = mem_.data(), mem_size_ = mem_.size();
  int status = 0;
  if (fits_open_memfile(&f_, name.c_str(), READONLY, &mem_ptr_, &mem_size_, 0, nullptr, &status)) {
    char msg[FLEN_STATUS];
    fits_get_errstatus(status, msg);
    f_ = nullptr;
    fail_input("{}: not a readable FITS file ({})", name, msg);
  }
}

FitsFile::~FitsFile() {
  int status = 0;
  if (f_) fits_close_file(f_, &status);
}

void FitsFile::check(int status, const std::string& what) {
  if (!status) return;
  char msg[FLEN_STATUS];
  fits_get_errstatus(status, msg);
  fits_clear_errmsg();
  fail_input("{}: {}: {}", where(), what, msg);
}

bool FitsFile::has_hdu(const std::string& extname) {
  int status = 0;
  int cur = 0;
  fits_get_hdu_num(f_, &cur);
  bool ok = fits_movnam_hdu(f_, ANY_HDU, const_cast<char*>(extname.c_str()), 0, &status) == 0;
  status = 0;
  fits_movabs_hdu(f_, cur, nullptr, &status);
  fits_clear_errmsg();
  return ok;
}

void FitsFile::move_to(const std::string& extname) {
  int status = 0;
  if (fits_movnam_hdu(f_, ANY_HDU, const_cast<char*>(extname.c_str()), 0, &status)) {
    fits_clear_errmsg();
    fail_input("{}: no HDU named '{}' (is this the expected kind of file?)", path_, extname);
  }
  hdu_ = extname;
}

void FitsFile::move_to(int hdu) {
  int status = 0;
  if (fits_movabs_hdu(f_, hdu, nullptr, &status)) {
    fits_clear_errmsg();
    fail_input("{}: has no HDU {} (is this the expected kind of file?)", path_, hdu - 1);
  }
  hdu_ = "HDU " + std::to_string(hdu - 1);
}

int FitsFile::hdu_count() {
  int n = 0, status = 0;
  fits_get_num_hdus(f_, &n, &status);
  return n;
}

bool FitsFile::is_image() {
  int type = 0, status = 0;
  fits_get_hdu_type(f_, &type, &status);
  return status == 0 && type == IMAGE_HDU;
}

std::vector<long> FitsFile::image_dims() {
  int status = 0, naxis = 0;
  fits_get_img_dim(f_, &naxis, &status);
  check(status, "reading image dimensions");
  std::vector<long> dims(naxis);
  if (naxis > 0) fits_get_img_size(f_, naxis, dims.data(), &status);
  check(status, "reading image size");
  return dims;
}

std::vector<float> FitsFile::read_image_float() {
  auto dims = image_dims();
  long n = 1;
  for (long d : dims) n *= d;
  if (dims.empty()) fail_input("{}: HDU holds no image", where());
  std::vector<float> out(n);
  int status = 0, anynul = 0;
  float nulval = std::numeric_limits<float>::quiet_NaN();
  fits_read_img(f_, TFLOAT, 1, n, &nulval, out.data(), &anynul, &status);
  check(status, "reading image data (truncated file?)");
  return out;
}

std::vector<int32_t> FitsFile::read_image_int() {
  auto dims = image_dims();
  long n = 1;
  for (long d : dims) n *= d;
  std::vector<int32_t> out(n);
  int status = 0, anynul = 0;
  fits_read_img(f_, TINT, 1, n, nullptr, out.data(), &anynul, &status);
  check(status, "reading image data (truncated file?)");
  return out;
}

int64_t FitsFile::rows() {
  long n = 0;
  int status = 0;
  fits_get_num_rows(f_, &n, &status);
  check(status, "reading row count (not a table?)");
  return n;
}

int FitsFile::column_number(const std::string& name) {
  int col = 0, status = 0;
  fits_get_colnum(f_, CASEINSEN, const_cast<char*>(name.c_str()), &col, &status);
  if (status) {
    fits_clear_errmsg();
    fail_input("{}: no column '{}'", where(), name);
  }
  return col;
}

bool FitsFile::has_column(const std::string& name) {
  int col = 0, status = 0;
  fits_get_colnum(f_, CASEINSEN, const_cast<char*>(name.c_str()), &col, &status);
  fits_clear_errmsg();
  return status == 0;
}

std::vector<double> FitsFile::column_double(const std::string& name) {
  int col = column_number(name), status = 0, anynul = 0;
  int64_t n = rows();
  std::vector<double> out(n);
  double nulval = std::numeric_limits<double>::quiet_NaN();
  if (n) fits_read_col(f_, TDOUBLE, col, 1, 1, n, &nulval, out.data(), &anynul, &status);
  check(status, "reading column " + name);
  return out;
}

std::vector<int64_t> FitsFile::column_int64(const std::string& name) {
  int col = column_number(name), status = 0, anynul = 0;
  int64_t n = rows();
  std::vector<LONGLONG> buf(n);
  if (n) fits_read_col(f_, TLONGLONG, col, 1, 1, n, nullptr, buf.data(), &anynul, &status);
  check(status, "reading column " + name);
  return {buf.begin(), buf.end()};
}

std::vector<std::string> FitsFile::column_string(const std::string& name) {
  int col = column_number(name), status = 0, anynul = 0;
  int64_t n = rows();
  int width = 0;
  fits_get_col_display_width(f_, col, &width, &status);
  check(status, "reading column " + name);
  std::vector<std::vector<char>> bufs(n, std::vector<char>(width + 1, '\0'));
  std::vector<char*> ptrs(n);
  for (int64_t i = 0; i < n; ++i) ptrs[i] = bufs[i].data();
  if (n) fits_read_col(f_, TSTRING, col, 1, 1, n, nullptr, ptrs.data(), &anynul, &status);
  check(status, "reading column " + name);
  std::vector<std::string> out(n);
  for (int64_t i = 0; i < n; ++i) {
    out[i] = ptrs[i];
    out[i].erase(out[i].find_last_not_of(' ') + 1);
  }
  return out;
}

std::optional<double> FitsFile::key_double(const std::string& key) {
  double v = 0;
  int status = 0;
  if (fits_read_key(f_, TDOUBLE, key.c_str(), &v, nullptr, &status)) {
    fits_clear_errmsg();
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> FitsFile::key_string(const std::string& key) {
  char v[FLEN_VALUE] = {0};
  int status = 0;
  if (fits_read_key(f_, TSTRING, key.c_str(), v, nullptr, &status)) {
    fits_clear_errmsg();
    return std::nullopt;
  }
  std::string s(v);
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

}  // namespace astrofm
