#include "astrofm/upload.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/importers.h"
#include "astrofm/mmu.h"
#include "astrofm/modality.h"
#include "astrofm/npy.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

}  // namespace

std::string upload_base_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

namespace {

// Without band names the images go to the model as they are, which (as
// `astrofm embed` and the Python Encoder) takes 3 unnamed bands as the
// Legacy Survey g, r, z its stretch expects.
void add_bands(Table& t, const std::vector<std::string>& bands, const std::string& where) {
  if (!t.has(mmu::kImageArray) || t.has(mmu::kImageBand) || bands.empty()) return;
  int64_t b = t.at(mmu::kImageArray).shape.at(0);
  if (static_cast<int64_t>(bands.size()) != b) fail_input("{}: {} band names for images of {} bands", where, bands.size(), b);
  std::vector<std::string> all;
  for (int64_t i = 0; i < t.rows(); ++i) all.insert(all.end(), bands.begin(), bands.end());
  t.add(make_string_column(mmu::kImageBand, all, {b}));
}

Table keep_data_columns(Table t, const std::string& where, int64_t max_objects) {
  if (t.rows() > max_objects) fail_input("{}: {} objects in one request; the limit is {}", where, t.rows(), max_objects);
  Table out;
  for (auto& c : t.columns()) {
    const std::string& n = c.name;
    if (n == mmu::kObjectId || n == mmu::kRa || n == mmu::kDec || n.rfind("image_", 0) == 0 || n.rfind("spectrum_", 0) == 0 ||
        n.rfind("tok_", 0) == 0)
      out.add(std::move(c));
  }
  return out;
}

// A table as bytes, for the child process below to hand its result back:
// per column its name, dtype, shape, rows, then the values (strings with their lengths).
void put(std::string& o, const void* p, size_t n) {
  if (n) o.append(static_cast<const char*>(p), n);  // p may be null when n is 0
}
void put64(std::string& o, uint64_t v) { put(o, &v, 8); }

std::string table_bytes(const Table& t) {
  std::string o;
  put64(o, t.columns().size());
  for (const auto& c : t.columns()) {
    put64(o, c.name.size()), put(o, c.name.data(), c.name.size());
    put64(o, static_cast<uint64_t>(c.dtype)), put64(o, c.shape.size());
    for (int64_t d : c.shape) put64(o, static_cast<uint64_t>(d));
    put64(o, static_cast<uint64_t>(c.rows));
    if (c.dtype == DType::String)
      for (const auto& s : c.strings) put64(o, s.size()), put(o, s.data(), s.size());
    else
      put(o, c.data.data(), c.data.size());
  }
  return o;
}

Table table_from_bytes(const std::string& b) {
  size_t at = 0;
  auto get = [&](void* p, size_t n) {
    ASTROFM_ASSERT(n <= b.size() - at, "upload: truncated table from the reader process");
    if (n) std::memcpy(p, b.data() + at, n);  // p may be an empty column's null data()
    at += n;
  };
  auto get64 = [&] {
    uint64_t v;
    get(&v, 8);
    return v;
  };
  Table t;
  uint64_t n = get64();
  for (uint64_t k = 0; k < n; ++k) {
    std::string name(get64(), '\0');
    get(name.data(), name.size());
    auto dtype = static_cast<DType>(get64());
    std::vector<int64_t> shape(get64());
    for (auto& d : shape) d = static_cast<int64_t>(get64());
    Column c(name, dtype, shape, 0);
    c.resize(static_cast<int64_t>(get64()));
    if (dtype == DType::String) {
      for (auto& s : c.strings) {
        s.resize(get64());
        get(s.data(), s.size());
      }
    } else {
      get(c.data.data(), c.data.size());
    }
    t.add(std::move(c));
  }
  return t;
}

// libhdf5 1.10 crashes on some malformed files (fuzz_hdf5 found a SEGV inside
// H5Dread), so an uploaded HDF5 file is read in a child process: a crash
// there is one 400 for that request, not the end of the server. Reading from
// memory refuses links and storage outside the file (read_table_image).
bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w, n -= static_cast<size_t>(w);
  }
  return true;
}

// The child reads the body it inherited (fork copies the address space) from
// memory and hands back, through a pipe, one status byte and then the table
// or the error message: no file is written anywhere.
Table read_hdf5_isolated(std::string_view body, const UploadOptions& o) {
  constexpr size_t kMaxReply = size_t{1} << 30;  // what the child may hand back
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_io("upload.hdf5: cannot start the reader process");
  pid_t pid;
  {
    std::unique_lock<std::mutex> l;
    if (o.hdf5_lock) l = std::unique_lock<std::mutex>(*o.hdf5_lock);
    pid = ::fork();
  }
  if (pid < 0) {
    ::close(fds[0]), ::close(fds[1]);
    fail_io("upload.hdf5: cannot start the reader process");
  }
  if (pid == 0) {
    ::close(fds[0]);
    // A crash here is reported to the parent as a signal, not handled in the child.
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) std::signal(sig, SIG_DFL);
    ::alarm(static_cast<unsigned>(std::max(1, o.reader_seconds)));
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASTROFM_ASAN 1
#endif
#endif
#if !defined(__SANITIZE_ADDRESS__) && !defined(ASTROFM_ASAN)  // ASan reserves terabytes of address space
    rlimit as{8ul << 30, 8ul << 30};  // a decompression bomb ends here, not in the server's memory
    ::setrlimit(RLIMIT_AS, &as);
#endif
    char code = 0;
    std::string reply;
    try {
      reply = table_bytes(keep_data_columns(read_table_image(body, "upload.hdf5"), "upload.hdf5", o.max_objects));
    } catch (const InputError& e) {
      code = static_cast<char>(10 + static_cast<int>(e.kind())), reply = e.what();
    } catch (const std::exception& e) {
      code = static_cast<char>(10 + static_cast<int>(ErrorKind::InvalidInput)), reply = fmt::format("upload.hdf5: {}", e.what());
    }
    bool ok = write_all(fds[1], &code, 1) && write_all(fds[1], reply.data(), reply.size());
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  // Read everything before waiting: a child blocked on a full pipe would never exit.
  std::string reply;
  char buf[1 << 16];
  bool too_big = false;
  for (;;) {
    ssize_t r = ::read(fds[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (reply.size() + static_cast<size_t>(r) > kMaxReply + 1) {
      too_big = true;
      ::kill(pid, SIGKILL);
      break;
    }
    reply.append(buf, static_cast<size_t>(r));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (too_big) fail_input("upload.hdf5: its table is larger than {} bytes", kMaxReply);
  if (WIFSIGNALED(status))
    fail_input("upload.hdf5: not a readable HDF5 file (the HDF5 library crashed reading it: signal {})", WTERMSIG(status));
  if (reply.empty() || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) fail_input("upload.hdf5: the file could not be read");
  const int code = static_cast<unsigned char>(reply[0]);
  if (code != 0)
    throw InputError(reply.size() > 1 ? reply.substr(1) : "upload.hdf5: the file could not be read",
                     code >= 10 && code <= 14 ? static_cast<ErrorKind>(code - 10) : ErrorKind::InvalidInput);
  return table_from_bytes(reply.substr(1));
}

}  // namespace

bool is_upload_type(const std::string& content_type) {
  static const char* kTypes[] = {"application/json", "application/x-npy", "application/octet-stream", "application/fits",
                                 "image/fits", "application/x-hdf5", "application/x-hdf", "image/png", "image/jpeg"};
  std::string t = upload_base_type(content_type);
  for (const char* k : kTypes)
    if (t == k) return true;
  return false;
}

namespace {

using json = nlohmann::json;
constexpr int64_t kMaxJsonValues = int64_t{1} << 28;

// SAX events of a request body: the arrays under the top object's "images"
// and "spectra" stream into float buffers; everything else builds a DOM.
class RequestSax {
 public:
  RequestSax(JsonRequest& out, int64_t max_objects) : out_(out), max_objects_(max_objects) {}

  // -- values
  bool null() { return cap_ ? leaf(NAN) : dom(json(nullptr)); }
  bool boolean(bool v) { return cap_ ? not_number(v ? "true" : "false") : dom(json(v)); }
  bool number_integer(json::number_integer_t v) { return cap_ ? leaf(static_cast<float>(v)) : dom(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return cap_ ? leaf(static_cast<float>(v)) : dom(json(v)); }
  bool number_float(json::number_float_t v, const std::string&) { return cap_ ? leaf(static_cast<float>(v)) : dom(json(v)); }
  bool string(json::string_t& v) { return cap_ ? not_number(json(v).dump().substr(0, 40)) : dom(json(std::move(v))); }
  bool binary(json::binary_t&) { fail_input("request: binary values are not JSON"); }
  // -- containers
  bool start_object(std::size_t) {
    if (cap_ || !pending_.empty()) return not_number("{...}");
    if (stack_.empty()) {
      out_.rest = json::object();
      stack_.push_back(&out_.rest);
      return true;
    }
    json* o = insert(json::object());
    stack_.push_back(o);
    return true;
  }
  bool key(json::string_t& k) {
    if (cap_) return not_number("{...}");
    key_ = k;
    if (stack_.size() == 1 && (k == "images" || k == "spectra")) {
      pending_ = k;
      out_.arrays.erase(k);
    }
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    if (!pending_.empty()) {  // the captured array begins
      cap_ = &out_.arrays[pending_];
      field_ = pending_;
      pending_.clear();
      idx_.clear();
      leaf_depth_ = -1;
    } else if (!cap_) {
      if (stack_.empty()) fail_input("request: the body must be a JSON object");
      stack_.push_back(insert(json::array()));
      return true;
    }
    const int64_t d = static_cast<int64_t>(idx_.size());
    if (!idx_.empty()) {
      if (leaf_depth_ >= 0 && d >= leaf_depth_) fail_input("{}: an array is not a number", element_path());
      ++idx_.back();
    }
    if (d >= 6) fail_input("{}: arrays nested more than 6 deep", field_);
    idx_.push_back(0);
    return true;
  }
  bool end_array() {
    if (!cap_) {
      stack_.pop_back();
      return true;
    }
    const size_t d = idx_.size() - 1;
    const int64_t n = idx_.back();
    if (n == 0) fail_input("{}: an empty array at depth {}", field_, d);
    auto& shape = cap_->shape;
    if (d >= shape.size()) shape.resize(d + 1, 0);
    if (shape[d] == 0) shape[d] = n;
    else if (shape[d] != n)
      fail_input("{}: expected an array of {} values (the first object's shape), got {} values", array_path(d), shape[d], n);
    idx_.pop_back();
    if (idx_.empty()) cap_ = nullptr;  // the captured array is complete
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) {
    fail_input("request: the body is not valid JSON (at byte {})", pos);
  }

 private:
  // A value into the DOM: as the top object's (or an array's) next element.
  bool dom(json v) {
    if (!pending_.empty()) {  // "images": 5 -- not nested arrays
      cap_ = nullptr;
      fail_input("{}: expected nested arrays of numbers, got {}", pending_, v.dump().substr(0, 40));
    }
    if (stack_.empty()) fail_input("request: the body must be a JSON object");
    insert(std::move(v));
    return true;
  }
  json* insert(json v) {
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }
  // The path of the open array at depth d: field[i][j]... of its ancestors' current elements.
  std::string array_path(size_t d) const {
    std::string p = field_;
    for (size_t k = 0; k < d; ++k) p += "[" + std::to_string(idx_[k] - 1) + "]";
    return p;
  }
  bool not_number(const std::string& what) {
    if (!pending_.empty()) fail_input("{}: expected nested arrays of numbers, got {}", pending_, what);
    fail_input("{}: {} is not a number", element_path(), what);
  }
  // The path of the element about to be read.
  std::string element_path() const {
    std::string p = field_;
    for (size_t k = 0; k + 1 < idx_.size(); ++k) p += "[" + std::to_string(idx_[k] - 1) + "]";
    if (!idx_.empty()) p += "[" + std::to_string(idx_.back()) + "]";
    return p;
  }
  bool leaf(float v) {
    if (!pending_.empty()) fail_input("{}: expected nested arrays of numbers, got a single value", pending_);
    const int64_t d = static_cast<int64_t>(idx_.size());
    if (leaf_depth_ < 0) leaf_depth_ = d;
    if (d != leaf_depth_) {
      const auto& shape = cap_->shape;
      const int64_t want = d < static_cast<int64_t>(shape.size()) ? shape[d] : 0;
      fail_input("{}: expected an array of {} values (the first object's shape), got {}", element_path(), want, v);
    }
    if (idx_[0] > max_objects_) fail_input("{}: {} objects in one request; the limit is {}", field_, idx_[0], max_objects_);
    if (static_cast<int64_t>(cap_->values.size()) >= kMaxJsonValues) fail_input("{}: more than {} values is too many for one request", field_, kMaxJsonValues);
    cap_->values.push_back(v);
    ++idx_.back();
    return true;
  }

  JsonRequest& out_;
  int64_t max_objects_;
  std::vector<json*> stack_;
  std::string key_, pending_, field_;
  JsonRequest::Array* cap_ = nullptr;
  std::vector<int64_t> idx_;  // elements seen so far in each open captured array
  int64_t leaf_depth_ = -1;
};

Column captured_column(JsonRequest::Array& a, const std::string& name, const std::string& field, size_t dims, int64_t max_objects) {
  if (a.shape.size() != dims) fail_input("{}: expected {} nested arrays ({}), got {}", field, dims, dims == 4 ? "[N][bands][H][W]" : "[N][L]", a.shape.size());
  if (a.shape[0] > max_objects) fail_input("{}: {} objects in one request; the limit is {}", field, a.shape[0], max_objects);
  Column c(name, DType::Float32, std::vector<int64_t>(a.shape.begin() + 1, a.shape.end()), 0);
  const int64_t per = c.row_elems();
  ASTROFM_ASSERT(static_cast<int64_t>(a.values.size()) == a.shape[0] * per, "captured {} values for shape", a.values.size());
  c.resize(a.shape[0]);
  if (!a.values.empty()) std::memcpy(c.data.data(), a.values.data(), a.values.size() * sizeof(float));
  std::vector<float>().swap(a.values);
  return c;
}

}  // namespace

JsonRequest parse_json_request(std::string_view body, const UploadOptions& o) {
  JsonRequest r;
  RequestSax sax(r, o.max_objects);
  if (!json::sax_parse(body, &sax)) fail_input("request: the body is not valid JSON");
  if (!r.rest.is_object()) fail_input("request: the body must be a JSON object");
  return r;
}

Table table_from_json(JsonRequest&& r, const UploadOptions& o) {
  Table t;
  if (auto it = r.arrays.find("images"); it != r.arrays.end()) {
    t.add(captured_column(it->second, mmu::kImageArray, "images", 4, o.max_objects));
    std::vector<std::string> bands = o.bands;
    if (r.rest.contains("bands")) {
      const auto& b = r.rest["bands"];
      if (!b.is_array() || b.empty()) fail_input("bands: expected an array of band names");
      bands.clear();
      for (const auto& x : b) {
        if (!x.is_string() || x.get<std::string>().empty() || x.get<std::string>().size() > 32)
          fail_input("bands: {} is not a band name", x.dump().substr(0, 40));
        bands.push_back(x.get<std::string>());
      }
    }
    add_bands(t, bands, "images");
  }
  if (auto it = r.arrays.find("spectra"); it != r.arrays.end()) {
    Column s = captured_column(it->second, mmu::kSpectrumFlux, "spectra", 2, o.max_objects);
    if (t.rows() && s.rows != t.rows()) fail_input("spectra: {} spectra for {} images", s.rows, t.rows());
    t.add(std::move(s));
  }
  if (r.rest.contains("ids") && t.rows()) {
    const auto& ids = r.rest["ids"];
    if (!ids.is_array() || static_cast<int64_t>(ids.size()) != t.rows()) fail_input("ids: expected {} object ids", t.rows());
    std::vector<std::string> v;
    for (const auto& x : ids) {
      if (!x.is_string()) fail_input("ids: {} is not a string", x.dump().substr(0, 40));
      v.push_back(x.get<std::string>());
    }
    t.add(make_string_column(mmu::kObjectId, v));
  }
  return t;
}

Table table_from_json(const nlohmann::json& j, const UploadOptions& o) {
  if (!j.is_object()) fail_input("request: the body must be a JSON object");
  // One reader for both: a DOM in hand goes through the streaming one.
  return table_from_json(parse_json_request(j.dump(), o), o);
}

Table parse_upload(std::string_view body, const std::string& content_type, const UploadOptions& o) {
  std::string type = upload_base_type(content_type);
  if (body.empty()) fail_input("request: empty body");
  if (type == "application/json") {
    Table t = table_from_json(parse_json_request(body, o), o);
    if (!t.rows()) fail_input("request: no \"images\" or \"spectra\" in the JSON body");
    return t;
  }
  if (type == "application/x-npy" || type == "application/octet-stream") {
    const ModalityKind kind = modality(o.modality).kind;
    if (kind != ModalityKind::Image && kind != ModalityKind::Spectrum) fail_usage("modality '{}': image or spectrum", o.modality);
    Column c = parse_npy(body, kind == ModalityKind::Spectrum ? mmu::kSpectrumFlux : mmu::kImageArray, "upload.npy");
    if (c.rows > o.max_objects) fail_input("upload.npy: {} objects in one request; the limit is {}", c.rows, o.max_objects);
    if (!dtype_is_float(c.dtype) && !dtype_is_integer(c.dtype)) fail_input("upload.npy: dtype {} is not numeric", dtype_name(c.dtype));
    std::vector<float> v(c.rows * c.row_elems());
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(c.as_double(static_cast<int64_t>(i)));
    std::vector<int64_t> shape = c.shape;
    int64_t rows = c.rows;
    if (kind == ModalityKind::Spectrum) {
      if (shape.size() != 1) fail_input("upload.npy: spectra must be [N, L], got {} axes", shape.size() + 1);
    } else {
      if (shape.size() == 2) shape.insert(shape.begin(), rows), rows = 1;  // one image [B, H, W]
      if (shape.size() != 3) fail_input("upload.npy: images must be [N, bands, H, W] or [bands, H, W], got {} axes", shape.size() + 1);
    }
    Table t;
    Column col = make_column(c.name, v, shape);
    ASTROFM_ASSERT(col.rows == rows, "npy rows");
    t.add(std::move(col));
    add_bands(t, o.bands, "upload.npy");
    return t;
  }
  // Cutouts are decoded in memory: no scratch files.
  if (type == "application/fits" || type == "image/fits") {
    FitsCutoutOptions fo;
    fo.bands = o.bands;
    return keep_data_columns(decode_fits_upload(body, "upload.fits", fo), "upload.fits", o.max_objects);
  }
  if (type == "image/png" || type == "image/jpeg") {
    ImageOptions io;
    io.bands = o.bands.empty() ? std::vector<std::string>{"R", "G", "B"} : o.bands;
    io.size = o.image_size;
    const std::string name = type == "image/png" ? "upload.png" : "upload.jpg";
    return keep_data_columns(decode_image_upload(body, name, io), name, o.max_objects);
  }
  if (type == "application/x-hdf5" || type == "application/x-hdf") {
    return read_hdf5_isolated(body, o);
  }
  fail_input("request: Content-Type '{}' is not one astrofm reads (application/json, application/x-npy, application/fits, "
             "application/x-hdf5, image/png, image/jpeg)", content_type);
}

}  // namespace astrofm
