#pragma once
// Importers from survey formats into the MMU layout. Each returns the number
// of objects written; bad input throws InputError naming file, row/column and
// reason, and leaves no output behind.
//
// Objects without a sky position (most JPEG sets, catalogues without ra/dec)
// get ra = dec = NaN and go to the partition folder healpix=-1.
// Thread-safety: each import is a whole job; run one at a time per output (they write HDF5).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "astrofm/csv.h"  // read_csv_table, for callers of the importers
#include "astrofm/mmu.h"

namespace astrofm {

struct ImportTarget {
  std::string out;      // dataset root
  std::string config;   // config folder name; each importer has a default
  WriteOptions write;
};

struct CsvOptions {
  std::string id_column;   // default: object_id/objid/id if present, else generated "<stem>-<row>"
  std::string ra_column;   // default: ra/RA if present
  std::string dec_column;  // default: dec/DEC if present
  char delimiter = ',';
};
int64_t import_csv(const std::string& csv_path, const ImportTarget& target, const CsvOptions& opt = {});

struct ImageOptions {
  std::string labels_csv;              // optional, joined on file stem
  std::string labels_id_column;        // default: the first column
  std::vector<std::string> bands;      // names of the colour channels, R, G, B order
  int size = 0;                        // resample to size x size (area average); 0 = native
  int crop = 0;                        // > 0: keep the central crop x crop input pixels first (galaxy-centred cutouts)
  double pixel_scale = 0.0;            // arcsec/pixel; 0 = unknown (NaN)
  double psf_fwhm = 0.0;               // arcsec; 0 = unknown (NaN)
  bool skip_unlabeled = false;         // with labels: drop images without a label row
};
// JPEG or PNG cutouts in `dir` (or listed files).
int64_t import_images(const std::vector<std::string>& inputs, const ImportTarget& target, const ImageOptions& opt);
// One JPEG or PNG in memory (an upload): the row import_images would write
// for it (object_id from `name`'s stem, no position); labels are not read.
Table decode_image_upload(std::string_view bytes, const std::string& name, const ImageOptions& opt);

struct FitsCutoutOptions {
  int size = 0;  // centre crop to size x size; 0 = native (all files must agree)
  std::vector<std::string> bands;  // default from BANDS / BANDn header keywords
  std::string band_prefix = "DES-";  // Legacy Survey DR9 south uses DECam: DES-G, ...
  double psf_fwhm = 0.0;
};
int64_t import_fits_cutouts(const std::vector<std::string>& files, const ImportTarget& target,
                            const FitsCutoutOptions& opt);
// One FITS cutout in memory (an upload; CFITSIO's memory files): its MMU row.
Table decode_fits_upload(std::string_view bytes, const std::string& name, const FitsCutoutOptions& opt);

// DESI coadd FITS (+ Redrock file, found by name when not given).
int64_t import_desi(const std::vector<std::string>& coadds, const std::vector<std::string>& redrocks,
                    const ImportTarget& target);
// SDSS/BOSS spPlate files (log-lambda grid).
int64_t import_sdss_spplate(const std::vector<std::string>& files, const ImportTarget& target);

}  // namespace astrofm
