#include "astrofm/fits_table.h"

#include <fitsio.h>

#include <filesystem>

#include "astrofm/error.h"

namespace astrofm {

struct FitsTableWriter::State {
  std::string path, tmp, extname;
  fitsfile* f = nullptr;
  bool created = false, committed = false;
  int64_t rows = 0;
  std::vector<std::string> names;
};

namespace {
void check(int status, const std::string& where) {
  if (!status) return;
  char msg[FLEN_STATUS];
  fits_get_errstatus(status, msg);
  fail_input("{}: {}", where, msg);
}
}  // namespace

FitsTableWriter::FitsTableWriter(const std::string& path, const std::string& extname, bool overwrite) : st_(new State) {
  st_->path = path;
  st_->tmp = path + ".partial";
  st_->extname = extname;
  if (std::filesystem::exists(path) && !overwrite) fail_input("output {} already exists (pass --overwrite to replace it)", path);
  std::filesystem::remove(st_->tmp);
  int status = 0;
  fits_create_file(&st_->f, st_->tmp.c_str(), &status);
  check(status, st_->tmp);
}

FitsTableWriter::~FitsTableWriter() {
  int status = 0;
  if (st_->f) fits_close_file(st_->f, &status);
  if (!st_->committed) std::filesystem::remove(st_->tmp);
  delete st_;
}

void FitsTableWriter::append(const Table& t) {
  int status = 0;
  if (!st_->created) {
    std::vector<std::string> ttype, tform;
    for (const auto& c : t.columns()) {
      int64_t n = c.row_elems();
      std::string code;
      switch (c.dtype) {
        case DType::Float32: code = "E"; break;
        case DType::Float64: code = "D"; break;
        case DType::Int64: case DType::UInt32: case DType::UInt64: code = "K"; break;
        case DType::Int32: case DType::UInt16: code = "J"; break;
        case DType::Int16: case DType::Int8: case DType::UInt8: code = "I"; break;
        case DType::Bool: code = "L"; break;
        case DType::String: {
          size_t w = 1;
          for (const auto& s : c.strings) w = std::max(w, s.size());
          code = "A";
          n = static_cast<int64_t>(std::max<size_t>(w, 32));
          break;
        }
      }
      ttype.push_back(c.name);
      tform.push_back(std::to_string(n) + code);
      st_->names.push_back(c.name);
    }
    std::vector<char*> tt, tf;
    for (auto& s : ttype) tt.push_back(s.data());
    for (auto& s : tform) tf.push_back(s.data());
    fits_create_tbl(st_->f, BINARY_TBL, 0, static_cast<int>(tt.size()), tt.data(), tf.data(), nullptr,
                    st_->extname.c_str(), &status);
    check(status, st_->tmp);
    st_->created = true;
  }
  int64_t first = st_->rows + 1;
  for (size_t k = 0; k < st_->names.size(); ++k) {
    const Column& c = t.at(st_->names[k]);
    int col = static_cast<int>(k) + 1;
    int64_t n = t.rows() * c.row_elems();
    if (n == 0) continue;
    switch (c.dtype) {
      case DType::Float32: fits_write_col(st_->f, TFLOAT, col, first, 1, n, const_cast<uint8_t*>(c.data.data()), &status); break;
      case DType::Float64: fits_write_col(st_->f, TDOUBLE, col, first, 1, n, const_cast<uint8_t*>(c.data.data()), &status); break;
      case DType::String: {
        std::vector<char*> p;
        for (const auto& s : c.strings) p.push_back(const_cast<char*>(s.c_str()));
        fits_write_col(st_->f, TSTRING, col, first, 1, n, p.data(), &status);
        break;
      }
      default: {
        std::vector<LONGLONG> v(n);
        for (int64_t i = 0; i < n; ++i) v[i] = c.dtype == DType::Bool ? c.data[i] : c.as_int64(i);
        if (c.dtype == DType::Bool) {
          std::vector<char> b(v.begin(), v.end());
          fits_write_col(st_->f, TLOGICAL, col, first, 1, n, b.data(), &status);
        } else {
          fits_write_col(st_->f, TLONGLONG, col, first, 1, n, v.data(), &status);
        }
      }
    }
    check(status, st_->tmp + ": column " + c.name);
  }
  st_->rows += t.rows();
}

void FitsTableWriter::commit() {
  int status = 0;
  fits_close_file(st_->f, &status);
  st_->f = nullptr;
  check(status, st_->tmp);
  std::filesystem::rename(st_->tmp, st_->path);
  st_->committed = true;
}

}  // namespace astrofm
