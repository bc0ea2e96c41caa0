#pragma once
// HATS catalogues (Hierarchical Adaptive Tiling Scheme; docs/formats/hats.md),
// the layout of the Multimodal Universe v1.5 and of LSDB:
//   <catalogue>/hats.properties
//   <catalogue>/partition_info.csv
//   <catalogue>/dataset/_metadata, _common_metadata
//   <catalogue>/dataset/Norder=K/Dir=D/Npix=P.parquet   (or a Npix=P/ folder of files)
// Every leaf holds the objects of one HEALPix NESTED pixel P at order K, with
// the `_healpix_29` column (the order-29 pixel of ra/dec) sorted ascending.
// This header is Arrow-free: Parquet is read and written with Arrow C++ (the
// pyarrow wheel's libraries) inside src/hats only.
// Thread-safety: functions are safe to call concurrently on distinct files.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "astrofm/table.h"

namespace astrofm::hats {

inline constexpr const char* kSpatialIndex = "_healpix_29";
inline constexpr int kSpatialOrder = 29;

// One partition: a pixel and its Parquet file(s).
struct Leaf {
  int order = 0;
  int64_t pixel = 0;
  std::vector<std::string> files;  // one Npix=P.parquet, or the files of a Npix=P/ folder
  std::vector<int64_t> file_rows;  // rows of each file
  int64_t rows = 0;
};

struct Catalog {
  std::string root;  // the folder holding hats.properties
  std::string name;  // obs_collection
  std::map<std::string, std::string> properties;
  std::string ra_column = "ra", dec_column = "dec";
  std::vector<Leaf> leaves;  // sorted by (order, pixel)
};

// A file or folder that is a HATS catalogue or collection (by its properties file).
bool is_hats(const std::string& path);
// Opens a catalogue, or a collection's primary catalogue. Row counts come
// from each leaf's Parquet footer. Throws InputError naming the file.
Catalog open_catalog(const std::string& path);
// The properties file as key=value pairs (Java properties as HATS writes them).
std::map<std::string, std::string> read_properties(const std::string& file);

// A catalogue column as astrofm sees it (see docs/formats/hats.md for the
// MMU v1.5 structs, which become v1 names: image.flux -> image_array).
struct ColumnInfo {
  std::string name;
  DType dtype = DType::Float64;
  std::vector<int64_t> shape;  // per row; read off the first row for variable lists
  std::string arrow_type;      // as stored, e.g. "list<item: float>"
};
std::vector<ColumnInfo> leaf_schema(const std::string& file);

// Reads rows [start, start+count) (count < 0: to the end) of one Parquet file,
// only the named columns (empty: all but the spatial index). Lists of equal
// length become shaped columns; nulls in float columns become NaN.
Table read_file(const std::string& file, const std::vector<std::string>& columns = {}, int64_t start = 0,
                int64_t count = -1);
// The _healpix_29 values of rows [start, start+count) (empty when absent).
std::vector<int64_t> read_spatial_index(const std::string& file, int64_t start = 0, int64_t count = -1);

// Streams one Parquet file in batches of about `batch_rows` rows.
class FileReader {
 public:
  FileReader(const std::string& file, const std::vector<std::string>& columns, int64_t batch_rows);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  int64_t rows() const;
  // Replaces `batch` with the next rows; false at the end.
  bool next(Table& batch);

 private:
  struct State;
  State* st_;
};

// The order-29 NESTED pixel of each row (what HATS calls _healpix_29).
std::vector<int64_t> spatial_index(const Table& t, const std::string& ra = "ra", const std::string& dec = "dec");

// Writes one leaf: `t`'s rows sorted by _healpix_29 (added first), image and
// spectrum columns as MMU v1.5 structs. `metadata` goes into the Parquet
// key-value metadata. Writes `file.tmp` then renames.
void write_file(const std::string& file, const Table& t, const std::map<std::string, std::string>& metadata = {});

struct CatalogMeta {
  std::string name;      // obs_collection
  std::string ra = "ra", dec = "dec";
  std::map<std::string, std::string> extra;  // more properties (astrofm_*, provenance)
};
// Writes hats.properties, partition_info.csv and dataset/_common_metadata and
// dataset/_metadata for the leaves already written under `root`/dataset.
void write_catalog_metadata(const std::string& root, const CatalogMeta& meta, const std::vector<Leaf>& leaves);

// Leaf file path for a pixel: dataset/Norder=K/Dir=D/Npix=P.parquet (D = P / 10000 * 10000).
std::string leaf_path(const std::string& root, int order, int64_t pixel);

// "Norder=3" or "Npix=12.parquet" with key "Norder"/"Npix" -> the number; nullopt otherwise.
std::optional<int64_t> path_key(const std::string& name, const std::string& key);
// Throws InputError naming `where` unless (order, pixel) is a HEALPix pixel (order 0..29).
void check_pixel(int64_t order, int64_t pixel, const std::string& where);

// Does a pixel at `order` hold (or lie inside) NSIDE-16 (order 4) pixel `pix16`?
bool overlaps_order4(int order, int64_t pixel, int64_t pix16);

}  // namespace astrofm::hats
