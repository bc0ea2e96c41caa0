// HATS catalogue folders: properties, the partition list, the leaves and the
// dataset-level Parquet metadata (docs/formats/hats.md).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include "astrofm/config.h"
#include "astrofm/fsutil.h"
#include "astrofm/hats.h"

namespace astrofm::hats {
namespace fs = std::filesystem;
namespace {

constexpr const char* kProperties[] = {"hats.properties", "properties"};
constexpr const char* kCollection = "collection.properties";

std::string trim(std::string s) {
  auto ws = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && ws(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && ws(s[i])) ++i;
  return s.substr(i);
}

std::optional<fs::path> properties_in(const fs::path& dir) {
  for (const char* n : kProperties)
    if (fs::is_regular_file(dir / n)) return dir / n;
  return std::nullopt;
}

int64_t parse_int(const std::string& s, const std::string& where, const std::string& what) {
  try {
    size_t used = 0;
    int64_t v = std::stoll(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    fail_input("{}: {} '{}' is not an integer", where, what, s);
  }
}

int64_t footer_rows(const std::string& file) {
  try {
    auto reader = parquet::ParquetFileReader::OpenFile(file, /*memory_map=*/true);
    return reader->metadata()->num_rows();
  } catch (const std::exception& e) {
    fail_corrupt("{}: not a readable Parquet file: {}", file, e.what());
  }
}

std::vector<std::pair<int, int64_t>> pixels_from_csv(const fs::path& csv) {
  std::ifstream in(csv);
  std::string header;
  if (!std::getline(in, header)) fail_input("{}: empty", csv.string());
  std::vector<std::string> cols;
  {
    std::stringstream ss(header);
    std::string c;
    while (std::getline(ss, c, ',')) cols.push_back(trim(c));
  }
  auto col = [&](const std::string& name) {
    auto it = std::find(cols.begin(), cols.end(), name);
    if (it == cols.end()) fail_input("{}: no column '{}' in its header '{}'", csv.string(), name, header);
    return static_cast<size_t>(it - cols.begin());
  };
  const size_t io = col("Norder"), ip = col("Npix");
  std::vector<std::pair<int, int64_t>> out;
  std::set<std::pair<int64_t, int64_t>> seen;
  std::string line;
  int lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (trim(line).empty()) continue;
    std::vector<std::string> v;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) v.push_back(trim(c));
    std::string where = fmt::format("{} line {}", csv.string(), lineno);
    if (v.size() <= std::max(io, ip)) fail_input("{}: {} fields, the header has {}", where, v.size(), cols.size());
    int64_t order = parse_int(v[io], where, "Norder"), pix = parse_int(v[ip], where, "Npix");
    check_pixel(order, pix, where);
    if (!seen.insert({order, pix}).second) fail_input("{}: partition Norder={} Npix={} listed twice", where, order, pix);
    out.emplace_back(static_cast<int>(order), pix);
  }
  return out;
}

std::vector<std::pair<int, int64_t>> pixels_from_tree(const fs::path& dataset) {
  std::vector<std::pair<int, int64_t>> out;
  if (!fs::is_directory(dataset)) return out;
  for (const auto& o : fs::directory_iterator(dataset)) {
    auto order = path_key(o.path().filename().string(), "Norder");
    if (!order || !o.is_directory()) continue;
    for (const auto& d : fs::directory_iterator(o.path())) {
      if (!d.is_directory() || !path_key(d.path().filename().string(), "Dir")) continue;
      for (const auto& p : fs::directory_iterator(d.path()))
        if (auto pix = path_key(p.path().filename().string(), "Npix")) {
          check_pixel(*order, *pix, p.path().string());
          out.emplace_back(static_cast<int>(*order), *pix);
        }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

std::optional<int64_t> path_key(const std::string& name, const std::string& key) {
  std::string prefix = key + "=";
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  std::string v = name.substr(prefix.size());
  if (auto dot = v.find('.'); dot != std::string::npos) v = v.substr(0, dot);
  if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
    return std::nullopt;
  return std::stoll(v);
}

void check_pixel(int64_t order, int64_t pixel, const std::string& where) {
  if (order < 0 || order > kSpatialOrder || pixel < 0 || pixel >= 12 * (int64_t{1} << (2 * order)))
    fail_input("{}: no HEALPix pixel Norder={} Npix={}", where, order, pixel);
}

std::string leaf_path(const std::string& root, int order, int64_t pixel) {
  return (fs::path(root) / "dataset" / fmt::format("Norder={}", order) / fmt::format("Dir={}", pixel / 10000 * 10000) /
          fmt::format("Npix={}.parquet", pixel))
      .string();
}

bool overlaps_order4(int order, int64_t pixel, int64_t pix16) {
  if (order <= 4) return (pix16 >> (2 * (4 - order))) == pixel;
  return (pixel >> (2 * (order - 4))) == pix16;
}

std::map<std::string, std::string> read_properties(const std::string& file) {
  std::ifstream in(file);
  if (!in) fail_io("{}: cannot open", file);
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == '!') continue;
    size_t eq = t.find_first_of("=:");
    if (eq == std::string::npos) continue;
    out[trim(t.substr(0, eq))] = trim(t.substr(eq + 1));
  }
  return out;
}

bool is_hats(const std::string& path) {
  fs::path p(path);
  if (fs::is_regular_file(p)) {
    auto name = p.filename().string();
    return name == kCollection || name == kProperties[0] || name == kProperties[1];
  }
  return fs::is_directory(p) && (properties_in(p) || fs::is_regular_file(p / kCollection));
}

Catalog open_catalog_unchecked(const std::string& path_in);

Catalog open_catalog(const std::string& path_in) {
  try {
    return open_catalog_unchecked(path_in);
  } catch (const fs::filesystem_error& e) {
    fail_io("{}: {}", path_in, e.what());
  }
}

Catalog open_catalog_unchecked(const std::string& path_in) {
  fs::path p(path_in);
  if (fs::is_regular_file(p)) p = p.parent_path();
  if (fs::is_regular_file(p / kCollection) && !properties_in(p)) {
    auto props = read_properties((p / kCollection).string());
    auto it = props.find("hats_primary_table_url");
    if (it == props.end() || it->second.empty())
      fail_input("{}: no hats_primary_table_url (the collection's catalogue)", (p / kCollection).string());
    fs::path primary = p / it->second;
    if (!properties_in(primary)) fail_input("{}: hats_primary_table_url '{}' is not a HATS catalogue", (p / kCollection).string(), it->second);
    p = primary;
  }
  auto pf = properties_in(p);
  if (!pf) fail_input("{}: not a HATS catalogue (no hats.properties)", path_in);
  Catalog cat;
  cat.root = p.string();
  cat.properties = read_properties(pf->string());
  auto get = [&](const char* k, const std::string& dflt) {
    auto it = cat.properties.find(k);
    return it == cat.properties.end() || it->second.empty() ? dflt : it->second;
  };
  cat.name = get("obs_collection", p.filename().string());
  cat.ra_column = get("hats_col_ra", "ra");
  cat.dec_column = get("hats_col_dec", "dec");
  const std::string suffix = get("hats_npix_suffix", ".parquet");
  fs::path csv = p / "partition_info.csv";
  auto pixels = fs::is_regular_file(csv) ? pixels_from_csv(csv) : pixels_from_tree(p / "dataset");
  if (pixels.empty()) fail_input("{}: lists no partitions (partition_info.csv and dataset/Norder=*/ are empty)", cat.root);
  for (auto [order, pix] : pixels) {
    Leaf leaf{order, pix, {}, {}, 0};
    fs::path base = fs::path(leaf_path(cat.root, order, pix)).replace_extension();  // .../Npix=P
    fs::path file = base;
    file += ".parquet";
    if (suffix != "/" && fs::is_regular_file(file)) {
      leaf.files.push_back(file.string());
    } else if (fs::is_directory(base)) {
      for (const auto& e : fs::directory_iterator(base))
        if (e.is_regular_file() && e.path().extension() == ".parquet") leaf.files.push_back(e.path().string());
      std::sort(leaf.files.begin(), leaf.files.end());
      if (leaf.files.empty()) fail_input("{}: partition Norder={} Npix={} is an empty folder", base.string(), order, pix);
    } else {
      fail_input("{}: partition Norder={} Npix={} is listed but its file is missing", file.string(), order, pix);
    }
    for (const auto& f : leaf.files) leaf.rows += leaf.file_rows.emplace_back(footer_rows(f));
    cat.leaves.push_back(std::move(leaf));
  }
  std::sort(cat.leaves.begin(), cat.leaves.end(),
            [](const Leaf& a, const Leaf& b) { return a.order != b.order ? a.order < b.order : a.pixel < b.pixel; });
  // Partitions must not overlap: a pixel inside another would count its objects twice.
  std::set<std::pair<int, int64_t>> seen;
  for (const auto& l : cat.leaves) {
    for (int o = 0; o < l.order; ++o)
      if (seen.count({o, l.pixel >> (2 * (l.order - o))}))
        fail_input("{}: partition Norder={} Npix={} lies inside partition Norder={} Npix={}", cat.root, l.order, l.pixel, o,
                   l.pixel >> (2 * (l.order - o)));
    seen.insert({l.order, l.pixel});
  }
  if (auto it = cat.properties.find("hats_nrows"); it != cat.properties.end() && !it->second.empty()) {
    int64_t want = parse_int(it->second, pf->string(), "hats_nrows"), have = 0;
    for (const auto& l : cat.leaves) have += l.rows;
    if (want != have)
      fail_input("{}: hats_nrows={} but the partitions hold {} rows", pf->string(), want, have);
  }
  return cat;
}

void write_catalog_metadata(const std::string& root, const CatalogMeta& meta, const std::vector<Leaf>& leaves) {
  fs::path r(root);
  int64_t rows = 0, bytes = 0, max_rows = 0;
  int max_order = 0;
  std::string csv = "Norder,Npix\n";
  std::shared_ptr<parquet::FileMetaData> all;
  for (const auto& l : leaves) {
    rows += l.rows;
    max_rows = std::max(max_rows, l.rows);
    max_order = std::max(max_order, l.order);
    csv += fmt::format("{},{}\n", l.order, l.pixel);
    for (const auto& f : l.files) {
      bytes += static_cast<int64_t>(fs::file_size(f));
      try {
        auto in = arrow::io::ReadableFile::Open(f);
        if (!in.ok()) fail_io("{}: cannot open: {}", f, in.status().ToString());
        auto md = parquet::ReadMetaData(*in);
        md->set_file_path(fs::relative(f, r / "dataset").generic_string());
        if (!all) all = md;
        else all->AppendRowGroups(*md);
      } catch (const std::exception& e) {
        fail_io("{}: cannot read back its footer: {}", f, e.what());
      }
    }
  }
  fs::create_directories(r / "dataset");
  write_file_atomic(r / "partition_info.csv", csv);
  if (all) {
    // _metadata: every leaf's row groups; _common_metadata: the schema alone.
    auto write_meta = [&](const fs::path& path, const parquet::FileMetaData& md) {
      fs::path tmp = path;
      tmp += ".tmp";
      try {
        auto out = arrow::io::FileOutputStream::Open(tmp.string());
        if (!out.ok()) fail_io("{}: cannot create: {}", tmp.string(), out.status().ToString());
        auto st = parquet::arrow::WriteMetaDataFile(md, out->get());
        if (!st.ok() || !(*out)->Close().ok()) fail_io("{}: cannot write: {}", path.string(), st.ToString());
      } catch (const parquet::ParquetException& e) {
        fail_io("{}: cannot write: {}", path.string(), e.what());
      }
      fs::rename(tmp, path);
    };
    write_meta(r / "dataset" / "_metadata", *all);
    auto common = all->Subset({});
    write_meta(r / "dataset" / "_common_metadata", *common);
  }
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%MUTC", std::gmtime(&t));
  std::string props = "#HATS catalog\n";
  auto add = [&](const std::string& k, std::string v) {
    std::replace(v.begin(), v.end(), '\n', ' ');  // one line per property
    props += k + "=" + v + "\n";
  };
  add("obs_collection", meta.name);
  add("dataproduct_type", "object");
  add("hats_nrows", std::to_string(rows));
  add("hats_col_ra", meta.ra);
  add("hats_col_dec", meta.dec);
  add("hats_col_healpix", kSpatialIndex);
  add("hats_col_healpix_order", std::to_string(kSpatialOrder));
  add("hats_npix_suffix", ".parquet");
  add("hats_max_rows", std::to_string(max_rows));
  add("hats_order", std::to_string(max_order));
  add("hats_builder", std::string("astrofm v") + ASTROFM_VERSION);
  add("hats_creation_date", date);
  add("hats_estsize", std::to_string(bytes / 1024));
  add("hats_release_date", "2025-08-22");
  add("hats_version", "v1.0");
  for (const auto& [k, v] : meta.extra) add(k, v);
  // hats writes both names; older readers look for `properties`.
  write_file_atomic(r / "hats.properties", props);
  write_file_atomic(r / "properties", props);
}

}  // namespace astrofm::hats
