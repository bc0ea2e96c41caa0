#include "astrofm/validate.h"

#include <cmath>
#include <set>

#include "astrofm/mmu.h"
#include "astrofm/sky.h"
#include "h5.h"

namespace astrofm {
namespace {

using Infos = std::map<std::string, h5::DatasetInfo>;

struct Checker {
  std::vector<Violation>& out;
  std::string file;
  Infos infos;
  int64_t rows = 0;

  void add(const std::string& col, std::string reason) { out.push_back({file, col, std::move(reason)}); }

  const h5::DatasetInfo* want(const std::string& col, const char* why) {
    auto it = infos.find(col);
    if (it == infos.end()) {
      add(col, fmt::format("missing ({})", why));
      return nullptr;
    }
    return &it->second;
  }

  void want_dtype(const h5::DatasetInfo& d, std::initializer_list<DType> ok, const char* expect) {
    for (DType t : ok)
      if (d.dtype == t && d.supported) return;
    add(d.name, fmt::format("dtype {} where {} is expected", d.type_desc, expect));
  }

  void want_rank(const h5::DatasetInfo& d, size_t rank, const char* layout) {
    if (d.dims.size() != rank) add(d.name, fmt::format("shape [{}] where {} is expected", fmt::join(d.dims, ","), layout));
  }

  void same_shape(const h5::DatasetInfo& d, const h5::DatasetInfo& ref) {
    if (d.dims != ref.dims)
      add(d.name, fmt::format("shape [{}] differs from {} [{}]", fmt::join(d.dims, ","), ref.name, fmt::join(ref.dims, ",")));
  }
};

void check_image(Checker& c) {
  const auto* arr = c.want(mmu::kImageArray, "image modality");
  if (!arr) return;
  c.want_dtype(*arr, {DType::Float32, DType::Float64}, "float32 flux");
  c.want_rank(*arr, 4, "[N, bands, H, W]");
  if (arr->dims.size() != 4) return;
  int64_t bands = arr->dims[1];
  if (const auto* iv = c.want(mmu::kImageIvar, "image modality")) {
    c.want_dtype(*iv, {DType::Float32, DType::Float64}, "float32");
    c.same_shape(*iv, *arr);
  }
  if (const auto* m = c.want(mmu::kImageMask, "image modality")) {
    c.want_dtype(*m, {DType::Bool}, "bool");
    c.same_shape(*m, *arr);
  }
  if (const auto* b = c.want(mmu::kImageBand, "image modality")) {
    c.want_dtype(*b, {DType::String}, "string band names");
    if (b->dims != std::vector<int64_t>{c.rows, bands}) c.add(b->name, fmt::format("shape [{}] where [N, {}] is expected", fmt::join(b->dims, ","), bands));
  }
  for (const char* col : {mmu::kImagePsfFwhm, mmu::kImageScale}) {
    if (const auto* d = c.want(col, "image modality")) {
      c.want_dtype(*d, {DType::Float32, DType::Float64}, "float");
      if (d->dims != std::vector<int64_t>{c.rows, bands}) c.add(col, fmt::format("shape [{}] where [N, {}] is expected", fmt::join(d->dims, ","), bands));
    }
  }
}

void check_spectrum(Checker& c, const h5::File& f) {
  const auto* flux = c.want(mmu::kSpectrumFlux, "spectrum modality");
  if (!flux) return;
  c.want_dtype(*flux, {DType::Float32, DType::Float64}, "float");
  c.want_rank(*flux, 2, "[N, L]");
  const h5::DatasetInfo *lam = nullptr, *mask = nullptr;
  for (const char* col : {mmu::kSpectrumIvar, mmu::kSpectrumLambda, mmu::kSpectrumMask}) {
    const auto* d = c.want(col, "spectrum modality");
    if (!d) continue;
    c.same_shape(*d, *flux);
    if (std::string(col) == mmu::kSpectrumMask) {
      c.want_dtype(*d, {DType::Bool}, "bool");
      mask = d;
    } else {
      c.want_dtype(*d, {DType::Float32, DType::Float64}, "float");
      if (std::string(col) == mmu::kSpectrumLambda) lam = d;
    }
  }
  if (auto it = c.infos.find(mmu::kSpectrumLsfSigma); it != c.infos.end()) c.same_shape(it->second, *flux);
  if (!lam || !mask || lam->dims != mask->dims || lam->dims.size() != 2 || !lam->supported) return;
  // Padding convention: lambda = -1 exactly where the pixel is padding, which must be masked.
  for (int64_t start = 0; start < c.rows; start += 1024) {
    int64_t n = std::min<int64_t>(1024, c.rows - start);
    Column l = f.read(mmu::kSpectrumLambda, start, n), m = f.read(mmu::kSpectrumMask, start, n);
    int64_t per = l.row_elems();
    for (int64_t i = 0; i < n * per; ++i) {
      double v = l.as_double(i);
      if (v == -1.0 && !m.data[i]) {
        c.add(mmu::kSpectrumMask, fmt::format("row {} pixel {}: padding (lambda = -1) not masked", start + i / per, i % per));
        return;
      }
      if (v != -1.0 && !(v > 0)) {
        c.add(mmu::kSpectrumLambda, fmt::format("row {} pixel {}: wavelength {} is neither positive nor the padding value -1", start + i / per, i % per, v));
        return;
      }
    }
  }
}

void check_file(const PartitionInfo& part, std::set<std::string>& seen_ids, std::vector<Violation>& out) {
  Checker c{out, part.path, {}, 0};
  h5::File f;
  try {
    f = h5::File::open(part.path);
    for (const auto& n : f.dataset_names()) c.infos[n] = f.info(n);
  } catch (const InputError& e) {
    c.add("", e.what());
    return;
  }
  const auto* id = c.want(mmu::kObjectId, "mandatory");
  if (id) c.want_dtype(*id, {DType::String}, "string");
  c.rows = id ? id->rows() : 0;
  for (auto& [name, d] : c.infos) {
    if (!d.supported) c.add(name, "unsupported dtype " + d.type_desc);
    if (d.dims.empty()) c.add(name, "scalar dataset; every column needs one row per object");
    else if (id && d.rows() != c.rows) c.add(name, fmt::format("{} rows, object_id has {}", d.rows(), c.rows));
  }
  const auto* ra = c.want(mmu::kRa, "mandatory");
  const auto* dec = c.want(mmu::kDec, "mandatory");
  const auto* hp = c.want(mmu::kHealpix, "mandatory");
  if (ra) c.want_dtype(*ra, {DType::Float64}, "float64 degrees");
  if (dec) c.want_dtype(*dec, {DType::Float64}, "float64 degrees");
  if (hp) c.want_dtype(*hp, {DType::Int64, DType::Int32, DType::UInt32, DType::UInt64, DType::Int16}, "integer");
  bool ok = id && ra && dec && hp && c.out.size() == out.size();
  try {
    if (id && id->dtype == DType::String && id->rows() == c.rows) {
      Column ids = f.read_all(mmu::kObjectId);
      for (int64_t i = 0; i < ids.rows; ++i)
        if (!seen_ids.insert(ids.strings[i]).second) c.add(mmu::kObjectId, fmt::format("row {}: duplicate object_id '{}'", i, ids.strings[i]));
    }
    if (ok) {
      Column r = f.read_all(mmu::kRa), d = f.read_all(mmu::kDec), h = f.read_all(mmu::kHealpix);
      int bad = 0;
      for (int64_t i = 0; i < c.rows && bad < 5; ++i) {
        double rv = r.as_double(i), dv = d.as_double(i);
        int64_t hv = h.as_int64(i);
        bool finite = std::isfinite(rv) && std::isfinite(dv);
        if (finite && (rv < 0 || rv > 360 || dv < -90 || dv > 90)) {
          c.add(mmu::kRa, fmt::format("row {}: (ra, dec) = ({}, {}) out of range", i, rv, dv));
          ++bad;
          continue;
        }
        int64_t want = finite ? sky::partition_of(rv, dv) : sky::kNoPixel;
        if (hv != want) {
          c.add(mmu::kHealpix, fmt::format("row {}: healpix {} but (ra, dec) = ({}, {}) lies in {}", i, hv, rv, dv, want));
          ++bad;
        } else if (hv != part.healpix) {
          c.add(mmu::kHealpix, fmt::format("row {}: healpix {} stored in folder {}", i, hv, mmu::partition_dirname(part.healpix)));
          ++bad;
        }
      }
    }
    bool image = false, spectrum = false;
    for (auto& [name, d] : c.infos) {
      image |= name.rfind("image_", 0) == 0;
      spectrum |= name.rfind("spectrum_", 0) == 0;
    }
    if (image) check_image(c);
    if (spectrum) check_spectrum(c, f);
  } catch (const InputError& e) {
    c.add("", e.what());
  }
}

}  // namespace

std::vector<Violation> validate_dataset(const std::string& path) {
  std::vector<Violation> out;
  Dataset ds;
  try {
    ds = Dataset::open(path, true);
  } catch (const InputError& e) {
    out.push_back({path, "", e.what()});
    return out;
  }
  if (ds.partitions().empty()) out.push_back({path, "", "no partition files"});
  std::set<std::string> ids;
  for (const auto& p : ds.partitions()) check_file(p, ids, out);
  return out;
}

}  // namespace astrofm
