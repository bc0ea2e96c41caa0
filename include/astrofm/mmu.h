#pragma once
// The Multimodal Universe (MMU) on-disk layout (see docs/formats/mmu-layout.md):
//   <root>/<config>/healpix=N/001-of-001.hdf5
// one HDF5 dataset per column, first axis = objects, partitioned by HEALPix
// NSIDE 16 NESTED on (ra, dec). Reading streams batches across partitions with
// bounded memory; writing is staged and renamed into place on commit.
// Thread-safety: Dataset and ObjectLookup are immutable after construction
// and safe to share once built; readers and writers call HDF5, which Debian
// builds without thread-safety, so all HDF5 work (any reader, writer, lookup
// or open) must happen on one thread at a time.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "astrofm/catalogue.h"
#include "astrofm/table.h"

namespace astrofm {

namespace mmu {
inline constexpr const char* kObjectId = "object_id";
inline constexpr const char* kRa = "ra";
inline constexpr const char* kDec = "dec";
inline constexpr const char* kHealpix = "healpix";
inline constexpr const char* kPartitionFile = "001-of-001.hdf5";
// Image modality.
inline constexpr const char* kImageArray = "image_array";
inline constexpr const char* kImageIvar = "image_ivar";
inline constexpr const char* kImageMask = "image_mask";
inline constexpr const char* kImageBand = "image_band";
inline constexpr const char* kImagePsfFwhm = "image_psf_fwhm";
inline constexpr const char* kImageScale = "image_scale";
// Spectrum modality. Shorter spectra are padded: lambda = -1, mask = true.
inline constexpr const char* kSpectrumFlux = "spectrum_flux";
inline constexpr const char* kSpectrumIvar = "spectrum_ivar";
inline constexpr const char* kSpectrumLambda = "spectrum_lambda";
inline constexpr const char* kSpectrumMask = "spectrum_mask";
inline constexpr const char* kSpectrumLsfSigma = "spectrum_lsf_sigma";

std::string partition_dirname(int64_t healpix);  // "healpix=N"
int64_t partition_of_dirname(const std::string& name);  // "healpix=N" -> N; -1 for another name
}  // namespace mmu

struct PartitionInfo {
  int64_t healpix = 0;  // from the folder name; kNoPixel for healpix=-1
  std::string path;
  int64_t rows = 0;
  int order = 4;  // HEALPix order of `healpix`: 4 (NSIDE 16) in v1, any in HATS
};

// Does partition `p` hold objects of NSIDE-16 pixel `pix16` (kNoPixel: no position)?
bool partition_overlaps(const PartitionInfo& p, int64_t pix16);

struct ColumnSchema {
  std::string name;
  DType dtype = DType::Float64;
  std::vector<int64_t> shape;  // per row
  std::string hdf5_type;       // as stored, e.g. "S24", "float32", "enum"
  std::vector<std::string> filters;
};

enum class DatasetFormat { Hdf5, Hats };

// An opened dataset: one MMU config folder (or a single partition file), or a
// HATS catalogue (hats.h): every reader below takes either.
class Dataset {
 public:
  // Accepts a config folder, a root holding exactly one config, one .hdf5
  // file, or a HATS catalogue or collection folder (by its properties file).
  // lenient: a partition file that cannot be read gets rows = -1 instead of
  // an error (for `validate`, which reports every bad file).
  static Dataset open(const std::string& path, bool lenient = false);
  const std::string& path() const { return path_; }
  const std::string& config() const { return config_; }
  const std::vector<PartitionInfo>& partitions() const { return partitions_; }
  int64_t rows() const;
  // Columns as stored in the first non-empty partition.
  std::vector<ColumnSchema> schema() const;
  bool has_column(const std::string& name) const;
  DatasetFormat format() const { return format_; }
  // HATS: stored column name for an astrofm one (object_id, ra, dec may be
  // called otherwise in the catalogue), else the name itself.
  std::string stored_name(const std::string& name) const;

 private:
  std::string path_, config_;
  std::vector<PartitionInfo> partitions_;
  DatasetFormat format_ = DatasetFormat::Hdf5;
  std::map<std::string, std::string> stored_;  // astrofm name -> catalogue name
  friend class DatasetReader;
  friend Table read_rows(const Dataset&, size_t, int64_t, int64_t, const std::vector<std::string>&);
};

struct ReadOptions {
  std::vector<std::string> columns;  // empty: every column
  int64_t batch_rows = 4096;         // rows per batch (a batch never spans two files)
  std::vector<int64_t> healpix;      // NSIDE-16 pixels; empty: every partition
  // Only the partitions a cone (ra, dec, radius in degrees) may touch, at each
  // partition's own order (HATS catalogues mix orders); rows are not filtered.
  struct Cone {
    double ra = 0, dec = 0, radius = 0;
  };
  std::optional<Cone> cone;
};

// Streams batches of rows across partitions, in partition order.
class DatasetReader {
 public:
  DatasetReader(const Dataset& ds, ReadOptions opt);
  ~DatasetReader();
  bool next(Table& batch);
  // Which partition (and its index in Dataset::partitions()) and row the last batch came from.
  const PartitionInfo& current_partition() const;
  size_t current_partition_index() const;
  int64_t current_row() const { return last_start_; }

 private:
  struct State;
  std::unique_ptr<State> st_;
  int64_t last_start_ = 0;
};

// The whole dataset (or some partitions) in memory as one table, for datasets
// that fit: `astrofm.open_dataset(p).read()` in Python.
Table read_table(const std::string& path, const std::vector<std::string>& columns = {}, const std::vector<int64_t>& healpix = {});
// One MMU partition file held in memory (an upload): every column, as
// read_table reads a one-file dataset. `name` labels messages.
Table read_table_image(std::string_view hdf5_bytes, const std::string& name);

// Rows [start, start + count) of partition `index` of `ds` (all columns when empty).
Table read_rows(const Dataset& ds, size_t index, int64_t start, int64_t count, const std::vector<std::string>& columns = {});

// Random access by object_id: reads every object's id and position once
// into a Catalogue (rows in partition order), whose map finds the file row.
class ObjectLookup {
 public:
  // InputError naming the dataset for a duplicate object_id.
  explicit ObjectLookup(const Dataset& ds);
  bool contains(const std::string& id) const { return cat_.contains(id); }
  // The dataset's objects: ids, ra/dec (NaN without positions), cones.
  const Catalogue& catalogue() const { return cat_; }
  // Rows for `ids` in the given order; throws InputError for an unknown id.
  Table get(const std::vector<std::string>& ids, const std::vector<std::string>& columns = {}) const;

 private:
  Dataset ds_;
  Catalogue cat_;
  std::vector<int64_t> first_row_;  // the catalogue row of each partition's first object
};

struct WriteOptions {
  std::string compression = "gzip";  // none | gzip | lzf (h5py's filter)
  int gzip_level = 4;
  bool overwrite = false;       // replace an existing output on commit
  bool resume = false;          // continue an interrupted write (see DatasetWriter::resume_state)
  size_t string_width = 24;     // minimum fixed width of string columns
  size_t max_open_files = 16;   // partition files kept open at once (each holds HDF5 chunk caches)
  size_t buffer_bytes = 128 << 20;  // rows buffered across partitions before flushing
  // Sharded writes (mpirun): writer `shard` of `shards` writes only the
  // partitions `owns` accepts, into one staging folder shared by all. Writer 0
  // creates (or resumes) it and must be constructed before the others; the
  // others' commit() only records that they are done; writer 0's commit()
  // publishes the output, once every other writer has committed (the
  // caller's barrier). Each writer keeps its own progress file; a resume
  // needs the same number of writers.
  int shard = 0, shards = 1;
  std::function<bool(int64_t healpix)> owns;
  // "hdf5" (the v1 layout under root/config) or "hats" (a HATS catalogue at
  // root, named config; staged as HDF5 and converted on commit).
  std::string format = "hdf5";
  // HATS: the partitions (order, pixel) to write, e.g. the source catalogue's
  // (partitions_of); rows outside them go to NSIDE-16 pixels. Empty: NSIDE-16 pixels.
  std::vector<std::pair<int, int64_t>> hats_partitions;
};

// "hdf5" or "hats"; throws UsageError for anything else.
std::string parse_out_format(const std::string& s);
// A dataset's partitions as (order, pixel), for WriteOptions::hats_partitions.
std::vector<std::pair<int, int64_t>> partitions_of(const Dataset& ds);

// Writes every row of `src` as a HATS catalogue at `root` (a folder that must
// not exist yet; written in place, so stage it), partitioned as `partitions`
// (empty: NSIDE-16 pixels). `properties` are added to hats.properties.
void write_hats(const Dataset& src, const std::string& root, const std::string& name,
                const std::vector<std::pair<int, int64_t>>& partitions, const std::map<std::string, std::string>& properties);
// Copies a dataset (v1 HDF5 or HATS) to `out` in `opt.format`: both ways, lossless.
int64_t convert_dataset(const std::string& src, const std::string& out, const WriteOptions& opt);

// Writes `<root>/<config>/healpix=N/001-of-001.hdf5` for every partition the
// rows fall in. The first batch fixes the schema. Mandatory: object_id
// (string), ra, dec (float64); healpix is computed when absent and checked
// when present. Nothing appears at `root` until commit().
class DatasetWriter {
 public:
  DatasetWriter(const std::string& root, const std::string& config, WriteOptions opt = {});
  ~DatasetWriter();
  void append(const Table& batch);
  int64_t rows() const;
  // Flushes everything and records progress plus `state` (caller's JSON text)
  // so that a later writer with resume=true continues from here.
  void checkpoint(const std::string& state);
  // Caller state from the last checkpoint when resuming, else nullopt.
  std::optional<std::string> resume_state() const;
  // Leave the partial output for --resume instead of deleting it on destruction.
  void keep_partial();
  void set_attribute(const std::string& key, const std::string& value);
  void commit();

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace astrofm
