#include "astrofm/upload.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "astrofm/error.h"
#include "astrofm/fsutil.h"
#include "astrofm/importers.h"
#include "astrofm/mmu.h"
#include "astrofm/npy.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

std::string base_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

// Shape of a nested JSON array from its first elements, then every element checked against it.
void shape_of(const nlohmann::json& j, std::vector<int64_t>& shape, const std::string& where) {
  const nlohmann::json* p = &j;
  while (p->is_array()) {
    if (p->empty()) fail_input("{}: an empty array at depth {}", where, shape.size());
    shape.push_back(static_cast<int64_t>(p->size()));
    if (shape.size() > 6) fail_input("{}: arrays nested more than 6 deep", where);
    p = &(*p)[0];
  }
}

void flatten(const nlohmann::json& j, const std::vector<int64_t>& shape, size_t depth, std::vector<float>& out, std::string& path) {
  if (depth == shape.size()) {
    if (j.is_number()) out.push_back(j.get<float>());
    else if (j.is_null()) out.push_back(NAN);  // JSON has no NaN: null stands for a missing pixel
    else fail_input("{}: {} is not a number", path, j.dump().substr(0, 40));
    return;
  }
  if (!j.is_array() || static_cast<int64_t>(j.size()) != shape[depth])
    fail_input("{}: expected an array of {} values (the first object's shape), got {}", path, shape[depth],
               j.is_array() ? std::to_string(j.size()) + " values" : j.dump().substr(0, 40));
  size_t len = path.size();
  for (size_t i = 0; i < j.size(); ++i) {
    path += "[" + std::to_string(i) + "]";
    flatten(j[i], shape, depth + 1, out, path);
    path.resize(len);
  }
}

Column float_array(const nlohmann::json& j, const std::string& name, const std::string& field, size_t dims, int64_t max_objects) {
  std::vector<int64_t> shape;
  shape_of(j, shape, field);
  if (shape.size() != dims) fail_input("{}: expected {} nested arrays ({}), got {}", field, dims, dims == 4 ? "[N][bands][H][W]" : "[N][L]", shape.size());
  if (shape[0] > max_objects) fail_input("{}: {} objects in one request; the limit is {}", field, shape[0], max_objects);
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (total > (int64_t{1} << 28)) fail_input("{}: {} values is too many for one request", field, total);
  std::vector<float> v;
  v.reserve(total);
  std::string path = field;
  flatten(j, shape, 0, v, path);
  return make_column(name, v, std::vector<int64_t>(shape.begin() + 1, shape.end()));
}

void add_bands(Table& t, const std::vector<std::string>& bands, const std::string& where) {
  if (!t.has(mmu::kImageArray) || t.has(mmu::kImageBand)) return;
  int64_t b = t.at(mmu::kImageArray).shape.at(0);
  if (bands.empty()) fail_input("{}: images of {} bands need band names (\"bands\": [...], or ?bands=G,R,Z)", where, b);
  if (static_cast<int64_t>(bands.size()) != b) fail_input("{}: {} band names for images of {} bands", where, bands.size(), b);
  std::vector<std::string> all;
  for (int64_t i = 0; i < t.rows(); ++i) all.insert(all.end(), bands.begin(), bands.end());
  t.add(make_string_column(mmu::kImageBand, all, {b}));
}

// An upload that the importers read from a file.
std::string stage(std::string_view body, const UploadOptions& o, const std::string& name) {
  if (o.scratch.empty()) fail_usage("upload: no scratch folder for a file upload");
  fs::create_directories(o.scratch);
  std::string path = (fs::path(o.scratch) / name).string();
  std::ofstream f(path, std::ios::binary);
  f.write(body.data(), static_cast<std::streamsize>(body.size()));
  if (!f) fail_io("upload: cannot stage {} bytes", body.size());
  return path;
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

}  // namespace

bool is_upload_type(const std::string& content_type) {
  static const char* kTypes[] = {"application/json", "application/x-npy", "application/octet-stream", "application/fits",
                                 "image/fits", "application/x-hdf5", "application/x-hdf", "image/png", "image/jpeg"};
  std::string t = base_type(content_type);
  for (const char* k : kTypes)
    if (t == k) return true;
  return false;
}

Table table_from_json(const nlohmann::json& j, const UploadOptions& o) {
  if (!j.is_object()) fail_input("request: the body must be a JSON object");
  Table t;
  if (j.contains("images")) {
    t.add(float_array(j["images"], mmu::kImageArray, "images", 4, o.max_objects));
    std::vector<std::string> bands = o.bands;
    if (j.contains("bands")) {
      const auto& b = j["bands"];
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
  if (j.contains("spectra")) {
    Column s = float_array(j["spectra"], mmu::kSpectrumFlux, "spectra", 2, o.max_objects);
    if (t.rows() && s.rows != t.rows()) fail_input("spectra: {} spectra for {} images", s.rows, t.rows());
    t.add(std::move(s));
  }
  if (j.contains("ids") && t.rows()) {
    const auto& ids = j["ids"];
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

Table parse_upload(std::string_view body, const std::string& content_type, const UploadOptions& o) {
  std::string type = base_type(content_type);
  if (body.empty()) fail_input("request: empty body");
  if (type == "application/json") {
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded()) fail_input("request: the body is not valid JSON");
    Table t = table_from_json(j, o);
    if (!t.rows()) fail_input("request: no \"images\" or \"spectra\" in the JSON body");
    return t;
  }
  if (type == "application/x-npy" || type == "application/octet-stream") {
    Column c = parse_npy(body, o.modality == "spectrum" ? mmu::kSpectrumFlux : mmu::kImageArray, "upload.npy");
    if (c.rows > o.max_objects) fail_input("upload.npy: {} objects in one request; the limit is {}", c.rows, o.max_objects);
    if (!dtype_is_float(c.dtype) && !dtype_is_integer(c.dtype)) fail_input("upload.npy: dtype {} is not numeric", dtype_name(c.dtype));
    std::vector<float> v(c.rows * c.row_elems());
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(c.as_double(static_cast<int64_t>(i)));
    std::vector<int64_t> shape = c.shape;
    int64_t rows = c.rows;
    if (o.modality == "spectrum") {
      if (shape.size() != 1) fail_input("upload.npy: spectra must be [N, L], got {} axes", shape.size() + 1);
    } else if (o.modality == "image") {
      if (shape.size() == 2) shape.insert(shape.begin(), rows), rows = 1;  // one image [B, H, W]
      if (shape.size() != 3) fail_input("upload.npy: images must be [N, bands, H, W] or [bands, H, W], got {} axes", shape.size() + 1);
    } else {
      fail_usage("modality '{}': image or spectrum", o.modality);
    }
    Table t;
    Column col = make_column(c.name, v, shape);
    ASTROFM_ASSERT(col.rows == rows, "npy rows");
    t.add(std::move(col));
    add_bands(t, o.bands, "upload.npy");
    return t;
  }
  if (type == "application/fits" || type == "image/fits") {
    std::string path = stage(body, o, "upload.fits");
    ImportTarget tgt{.out = (fs::path(o.scratch) / "fits").string(), .config = "upload", .write = {.compression = "none"}};
    FitsCutoutOptions fo;
    fo.bands = o.bands;
    import_fits_cutouts({path}, tgt, fo);
    return keep_data_columns(read_table(tgt.out), "upload.fits", o.max_objects);
  }
  if (type == "image/png" || type == "image/jpeg") {
    std::string path = stage(body, o, type == "image/png" ? "upload.png" : "upload.jpg");
    ImportTarget tgt{.out = (fs::path(o.scratch) / "img").string(), .config = "upload", .write = {.compression = "none"}};
    ImageOptions io;
    io.bands = o.bands.empty() ? std::vector<std::string>{"R", "G", "B"} : o.bands;
    io.size = o.image_size;
    import_images({path}, tgt, io);
    return keep_data_columns(read_table(tgt.out), type == "image/png" ? "upload.png" : "upload.jpg", o.max_objects);
  }
  if (type == "application/x-hdf5" || type == "application/x-hdf") {
    std::string path = stage(body, o, "upload.hdf5");
    return keep_data_columns(read_table(path), "upload.hdf5", o.max_objects);
  }
  fail_input("request: Content-Type '{}' is not one astrofm reads (application/json, application/x-npy, application/fits, "
             "application/x-hdf5, image/png, image/jpeg)", content_type);
}

}  // namespace astrofm
