#pragma once
// A small RAII reader over CFITSIO; every failure is an InputError naming the
// file and the HDU or column.
#include <fitsio.h>

#include <optional>
#include <string>
#include <vector>

namespace astrofm {

class FitsFile {
 public:
  explicit FitsFile(const std::string& path);
  // A FITS file held in memory (an upload); `name` stands in for the path in errors.
  struct InMemory {};
  FitsFile(InMemory, std::string bytes, const std::string& name);
  ~FitsFile();
  FitsFile(const FitsFile&) = delete;
  FitsFile& operator=(const FitsFile&) = delete;

  const std::string& path() const { return path_; }
  fitsfile* raw() { return f_; }
  bool has_hdu(const std::string& extname);
  void move_to(const std::string& extname);  // throws when absent
  void move_to(int hdu);                     // 1-based, as CFITSIO counts
  int hdu_count();
  std::string where() const { return path_ + "[" + hdu_ + "]"; }

  bool is_image();                 // the current HDU is an image (not a table)
  std::vector<long> image_dims();  // NAXIS1, NAXIS2, ... (FITS order)
  std::vector<float> read_image_float();
  std::vector<int32_t> read_image_int();

  int64_t rows();
  bool has_column(const std::string& name);
  std::vector<double> column_double(const std::string& name);
  std::vector<int64_t> column_int64(const std::string& name);
  std::vector<std::string> column_string(const std::string& name);

  std::optional<double> key_double(const std::string& key);
  std::optional<std::string> key_string(const std::string& key);

 private:
  void check(int status, const std::string& what);
  int column_number(const std::string& name);
  fitsfile* f_ = nullptr;
  std::string path_, hdu_ = "primary";
  std::string mem_;  // in memory: the bytes, and the pointer and size CFITSIO keeps addresses of
  void* mem_ptr_ = nullptr;
  size_t mem_size_ = 0;
};

}  // namespace astrofm
