#include "astrofm/validate.h"

#include <cmath>
#include <functional>
#include <set>

#include "astrofm/hats.h"
#include "astrofm/mmu.h"
#include "astrofm/modality.h"
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

  void want_dtype(const h5::DatasetInfo& d, const std::vector<DType>& ok, const char* expect) {
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

// A modality's columns checked against its rules in the modality table.
// Returns the main column when it has the modality's rank.
const h5::DatasetInfo* check_modality(Checker& c, const Modality& m) {
  std::string why = fmt::format("{} modality", m.name);
  const auto* main = c.want(m.main_column(), why.c_str());
  if (!main) return nullptr;
  c.want_dtype(*main, m.columns[0].dtypes, m.columns[0].expect.c_str());
  c.want_rank(*main, m.main_rank, m.layout.c_str());
  if (main->dims.size() != m.main_rank) return nullptr;
  for (size_t k = 1; k < m.columns.size(); ++k) {
    const auto& rule = m.columns[k];
    const h5::DatasetInfo* d = nullptr;
    if (rule.required) d = c.want(rule.name, why.c_str());
    else if (auto it = c.infos.find(rule.name); it != c.infos.end()) d = &it->second;
    if (!d) continue;
    c.want_dtype(*d, rule.dtypes, rule.expect.c_str());
    if (rule.shape == ShapeRule::SameAsMain) c.same_shape(*d, *main);
    if (rule.shape == ShapeRule::PerBand && d->dims != std::vector<int64_t>{c.rows, main->dims[1]})
      c.add(rule.name, fmt::format("shape [{}] where [N, {}] is expected", fmt::join(d->dims, ","), main->dims[1]));
  }
  return main;
}

// One partition file, HDF5 or Parquet: its columns and their values.
struct Source {
  std::function<Column(const std::string&, int64_t, int64_t)> read;
  Column read_all(const std::string& name, int64_t rows) const { return read(name, 0, rows); }
};

// The spectrum's padding convention, beyond the table's column rules.
void check_spectrum_padding(Checker& c, const Source& f) {
  auto find = [&](const char* n) -> const h5::DatasetInfo* {
    auto it = c.infos.find(n);
    return it == c.infos.end() ? nullptr : &it->second;
  };
  const h5::DatasetInfo *lam = find(mmu::kSpectrumLambda), *mask = find(mmu::kSpectrumMask);
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

void check_file(const Dataset& ds, size_t index, std::set<std::string>& seen_ids, std::vector<Violation>& out) {
  const PartitionInfo& part = ds.partitions()[index];
  const bool hats = ds.format() == DatasetFormat::Hats;
  Checker c{out, part.path, {}, 0};
  h5::File file;
  Source f;
  try {
    if (hats) {
      for (const auto& col : hats::leaf_schema(part.path)) {
        std::string name = col.name;
        for (const char* n : {mmu::kObjectId, mmu::kRa, mmu::kDec})
          if (ds.stored_name(n) == col.name) name = n;
        std::vector<int64_t> dims{part.rows};
        dims.insert(dims.end(), col.shape.begin(), col.shape.end());
        c.infos[name] = {name, name == mmu::kObjectId ? DType::String : col.dtype, dims, false, 0, col.arrow_type, true, {}};
      }
      f.read = [&ds, index](const std::string& name, int64_t start, int64_t n) { return read_rows(ds, index, start, n, {name}).at(name); };
    } else {
      file = h5::File::open(part.path);
      for (const auto& n : file.dataset_names()) c.infos[n] = file.info(n);
      f.read = [&file](const std::string& name, int64_t start, int64_t n) { return file.read(name, start, n); };
    }
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
  // HATS: the pixel comes from _healpix_29 (optional), the v1 healpix column is not needed.
  const auto* hp = hats ? nullptr : c.want(mmu::kHealpix, "mandatory");
  if (ra) c.want_dtype(*ra, {DType::Float64}, "float64 degrees");
  if (dec) c.want_dtype(*dec, {DType::Float64}, "float64 degrees");
  if (hp) c.want_dtype(*hp, {DType::Int64, DType::Int32, DType::UInt32, DType::UInt64, DType::Int16}, "integer");
  bool ok = id && ra && dec && (hp || hats) && c.out.size() == out.size();
  try {
    if (id && id->dtype == DType::String && id->rows() == c.rows) {
      Column ids = f.read_all(mmu::kObjectId, c.rows);
      for (int64_t i = 0; i < ids.rows; ++i)
        if (!seen_ids.insert(ids.strings[i]).second) c.add(mmu::kObjectId, fmt::format("row {}: duplicate object_id '{}'", i, ids.strings[i]));
    }
    if (ok && hats) {
      Column r = f.read_all(mmu::kRa, c.rows), d = f.read_all(mmu::kDec, c.rows);
      auto stored = hats::read_spatial_index(part.path);
      int bad = 0;
      for (int64_t i = 0; i < c.rows && bad < 5; ++i) {
        double rv = r.as_double(i), dv = d.as_double(i);
        if (!std::isfinite(rv) || !std::isfinite(dv) || rv < 0 || rv > 360 || dv < -90 || dv > 90) {
          c.add(mmu::kRa, fmt::format("row {}: (ra, dec) = ({}, {}) is not a sky position", i, rv, dv));
          ++bad;
          continue;
        }
        int64_t h29 = sky::ang2pix(1 << hats::kSpatialOrder, rv, dv, true);
        if (!stored.empty() && stored[i] != h29) {
          c.add(hats::kSpatialIndex, fmt::format("row {}: {} but (ra, dec) = ({}, {}) lies in {}", i, stored[i], rv, dv, h29));
          ++bad;
        } else if (part.healpix != sky::kNoPixel && (h29 >> (2 * (hats::kSpatialOrder - part.order))) != part.healpix) {
          c.add(mmu::kRa, fmt::format("row {}: (ra, dec) = ({}, {}) lies outside its partition Norder={} Npix={}", i, rv, dv, part.order,
                                      part.healpix));
          ++bad;
        }
      }
    } else if (ok) {
      Column r = f.read_all(mmu::kRa, c.rows), d = f.read_all(mmu::kDec, c.rows), h = f.read_all(mmu::kHealpix, c.rows);
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
    for (const auto& m : modality_table()) {
      // A modality is present when any of its columns is.
      bool present = false;
      for (const auto& col : m.columns) present |= c.infos.count(col.name) > 0;
      if (!present) continue;
      if (check_modality(c, m) && m.kind == ModalityKind::Spectrum) check_spectrum_padding(c, f);
    }
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
  for (size_t i = 0; i < ds.partitions().size(); ++i) check_file(ds, i, ids, out);
  return out;
}

}  // namespace astrofm
