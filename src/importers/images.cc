#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "astrofm/importers.h"
#include "astrofm/progress.h"
#include "astrofm/columns.h"
#include "raster.h"

namespace astrofm {
namespace fs = std::filesystem;
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

bool is_image_name(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".jpg" || e == ".jpeg" || e == ".png";
}

std::vector<std::string> list_images(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    if (fs::is_directory(in)) {
      for (const auto& e : fs::directory_iterator(in))
        if (e.is_regular_file() && is_image_name(e.path())) files.push_back(e.path().string());
    } else if (fs::exists(in)) {
      files.push_back(in);
    } else {
      fail_input("{}: no such file or folder", in);
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) fail_input("no JPEG or PNG files in {}", fmt::join(inputs, ", "));
  return files;
}

std::string cell_string(const Column& c, int64_t row) {
  if (c.dtype == DType::String) return c.strings[row];
  if (dtype_is_integer(c.dtype)) return std::to_string(c.as_int64(row));
  return fmt::format("{}", c.as_double(row));
}

// Label rows keyed by id; unlabeled objects get NaN / -1 / "".
struct Labels {
  Table table;
  std::map<std::string, int64_t> row_of;
  std::string id_column;

  void load(const ImageOptions& opt) {
    table = read_csv_table(opt.labels_csv);
    id_column = opt.labels_id_column.empty() ? table.columns().front().name : opt.labels_id_column;
    const Column& ids = table.at(id_column);
    for (int64_t r = 0; r < ids.rows; ++r)
      if (!row_of.emplace(cell_string(ids, r), r).second)
        fail_input("{}: id '{}' appears twice in column '{}'", opt.labels_csv, cell_string(ids, r), id_column);
  }
  Table rows_for(const std::vector<std::string>& ids) const {
    std::vector<int64_t> idx;
    for (const auto& id : ids) {
      auto it = row_of.find(id);
      idx.push_back(it == row_of.end() ? -1 : it->second);
    }
    Table out;
    for (const auto& c : table.columns()) {
      if (c.name == id_column || c.name == "ra" || c.name == "dec") continue;
      Column o(c.name, c.dtype, c.shape, static_cast<int64_t>(idx.size()));
      for (size_t i = 0; i < idx.size(); ++i) {
        if (c.dtype == DType::String) o.strings[i] = idx[i] < 0 ? "" : c.strings[idx[i]];
        else if (c.dtype == DType::Float64) o.ptr<double>()[i] = idx[i] < 0 ? NAN : c.ptr<double>()[idx[i]];
        else o.ptr<int64_t>()[i] = idx[i] < 0 ? -1 : c.ptr<int64_t>()[idx[i]];
      }
      out.add(std::move(o));
    }
    return out;
  }
  double position(const std::string& id, const char* col) const {
    const Column* c = table.find(col);
    auto it = row_of.find(id);
    if (!c || it == row_of.end()) return NAN;
    return c->as_double(it->second);
  }
};

// What the first image decides for all: size, bands and their names, PSF and pixel scale.
struct ImageGeometry {
  int size = 0, bands = 0;
  std::vector<std::string> band_names;
  std::vector<float> psf, scale;
};

ImageGeometry geometry_of(const Raster& first, const ImageOptions& opt, const std::string& name) {
  ImageGeometry g;
  if (opt.crop > 0 && opt.crop > std::min(first.width, first.height))
    fail_input("{}: --crop {} is larger than the {}x{} cutout", name, opt.crop, first.width, first.height);
  g.size = opt.size > 0 ? opt.size : opt.crop > 0 ? opt.crop : first.width;
  if (opt.size <= 0 && first.width != first.height)
    fail_input("{}: cutout is {}x{}; pass --size N to crop and resample to a square", name, first.width, first.height);
  g.bands = first.channels;
  g.band_names = opt.bands;
  if (g.band_names.empty()) {
    // SDSS gri colour composites map i, r, g to the R, G, B channels.
    g.band_names = g.bands == 3 ? std::vector<std::string>{"SDSS-I", "SDSS-R", "SDSS-G"} : std::vector<std::string>{"GRAY"};
  }
  if (static_cast<int>(g.band_names.size()) != g.bands)
    fail_usage("--bands names {} bands but the images have {} channels", g.band_names.size(), g.bands);
  g.psf.assign(g.bands, opt.psf_fwhm > 0 ? static_cast<float>(opt.psf_fwhm) : kNaN);
  int side = opt.crop > 0 ? opt.crop : std::min(first.width, first.height);
  double scale_factor = first.width > 0 ? static_cast<double>(side) / g.size : 1.0;
  g.scale.assign(g.bands, opt.pixel_scale > 0 ? static_cast<float>(opt.pixel_scale * scale_factor) : kNaN);
  return g;
}

// An image resampled to the geometry (InputError naming it when it cannot be).
Raster fit_to(Raster r, const ImageGeometry& g, const ImageOptions& opt, const std::string& name, const std::string& first_name) {
  if (r.channels != g.bands) fail_input("{}: {} channels, the first image ({}) has {}", name, r.channels, first_name, g.bands);
  if (opt.size > 0 || opt.crop > 0 || r.width != g.size || r.height != g.size) {
    if (opt.size <= 0 && opt.crop <= 0)
      fail_input("{}: {}x{} pixels, the first image is {}x{}; pass --size N to resample all", name, r.width, r.height, g.size, g.size);
    r = resample_square(r, g.size, opt.crop);
  }
  return r;
}

// MMU rows for decoded images; positions (and label columns) from `labels` when given.
Table image_rows(const std::vector<std::string>& ids, const std::vector<Raster>& rasters, const ImageGeometry& g, const Labels* labels) {
  const int64_t n = static_cast<int64_t>(ids.size());
  ImageColumns img(n, g.bands, g.size, g.size);
  std::vector<double> ra(n, NAN), dec(n, NAN);
  for (int64_t i = 0; i < n; ++i) {
    std::copy(rasters[i].planes.begin(), rasters[i].planes.end(), img.flux(i));
    std::fill(img.inv_var(i), img.inv_var(i) + g.bands * g.size * g.size, kNaN);
    img.set_meta(i, g.band_names, g.psf, g.scale);
    if (labels) ra[i] = labels->position(ids[i], "ra"), dec[i] = labels->position(ids[i], "dec");
  }
  Table batch;
  batch.add(make_string_column(mmu::kObjectId, ids));
  batch.add(make_column<double>(mmu::kRa, ra));
  batch.add(make_column<double>(mmu::kDec, dec));
  img.move_into(batch);
  return batch;
}

}  // namespace

Table decode_image_upload(std::string_view bytes, const std::string& name, const ImageOptions& opt) {
  Raster r = decode_image_bytes(bytes, name);
  ImageGeometry g = geometry_of(r, opt, name);
  std::vector<Raster> rasters;
  rasters.push_back(fit_to(std::move(r), g, opt, name, name));
  return image_rows({fs::path(name).stem().string()}, rasters, g, nullptr);
}

int64_t import_images(const std::vector<std::string>& inputs, const ImportTarget& target, const ImageOptions& opt) {
  auto files = list_images(inputs);
  Labels labels;
  if (!opt.labels_csv.empty()) labels.load(opt);
  if (opt.skip_unlabeled && opt.labels_csv.empty()) fail_usage("--skip-unlabeled needs --labels");
  ImportTarget t = target;
  if (t.config.empty()) t.config = "images";
  DatasetWriter w(t.out, t.config, t.write);
  w.set_attribute("source", "JPEG/PNG cutouts; ivar and PSF unknown (NaN)");
  const ImageGeometry g = geometry_of(decode_image_file(files.front()), opt, files.front());

  constexpr int64_t kBatch = 128;
  Progress bar("import images", static_cast<int64_t>(files.size()));
  int64_t written = 0;
  for (size_t start = 0; start < files.size(); start += kBatch) {
    size_t end = std::min(files.size(), start + kBatch);
    std::vector<std::string> ids;
    std::vector<Raster> rasters;
    for (size_t i = start; i < end; ++i) {
      std::string id = fs::path(files[i]).stem().string();
      bar.advance();
      if (opt.skip_unlabeled && !labels.row_of.count(id)) continue;
      rasters.push_back(fit_to(decode_image_file(files[i]), g, opt, files[i], files.front()));
      ids.push_back(id);
    }
    if (ids.empty()) continue;
    Table batch = image_rows(ids, rasters, g, &labels);
    if (!opt.labels_csv.empty()) {
      Table extra = labels.rows_for(ids);
      for (auto& c : extra.columns()) batch.add(std::move(c));
    }
    w.append(batch);
    written += static_cast<int64_t>(ids.size());
  }
  bar.finish();
  if (written == 0) fail_input("no images left to import (none has a label row)");
  w.commit();
  return written;
}

}  // namespace astrofm
