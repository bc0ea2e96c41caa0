#pragma once
// One band vocabulary for every survey: survey-qualified names as the
// Multimodal Universe writes them in image_band ("DES-G", "HSC-I", "SDSS-R"),
// their effective (pivot) wavelengths from the filter curves shipped in
// data/sample/filters, and one band-selection function used by every module
// that needs bands in a given order.
// Thread-safety: the table is immutable; every function is safe to call concurrently.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "astrofm/table.h"

namespace astrofm {

struct Band {
  std::string name;     // canonical, survey-qualified: "DES-G"
  std::string survey;   // "DECam", "HSC", "SDSS"
  std::string filter;   // "g"
  double pivot_angstrom = 0;  // sqrt(int R l dl / int R / l dl) of the filter curve
  std::string curve;    // filter curve file stem in filters/ ("decam2014-g")
  std::vector<std::string> aliases;  // also accepted: "decam_g", "LS-G", "hsc_i", ...
};

// DECam g r i z (the Legacy Survey south), HSC g r i z y, SDSS u g r i z.
const std::vector<Band>& band_table();
// A band by canonical name or alias (case-insensitive); nullptr when unknown.
const Band* find_band(std::string_view name);
// Canonical name; InputError (NotFound) naming `where` and listing the known bands when unknown.
const Band& band(std::string_view name, const std::string& where);
// The survey's bands in wavelength order ("DECam" -> DES-G, DES-R, DES-I, DES-Z).
std::vector<std::string> survey_bands(const std::string& survey, const std::vector<std::string>& filters = {});

// The image band sets surveys' cutouts come in, by AION's survey names, in
// one table for the encoders, the display stretch, the service and Python:
// "LegacySurvey" g r z (3 bands) or g r i z (4), "HSC" g r i z y, "SDSS" u g r i z.
struct ImageBandSet {
  std::string survey;
  std::vector<std::string> bands;
};
const std::vector<ImageBandSet>& image_band_sets();
// Legacy Survey g, r, z: what both asinh stretches read (the shipped models'
// preprocessing and the display of cutouts).
const std::vector<std::string>& legacy_survey_grz();

// Indices into `have` of the bands `want`, in want's order (names compared
// canonically, so "decam_g" finds "DES-G"). InputError naming `where`, the
// band missing and what is there.
std::vector<int64_t> select_bands(const std::vector<std::string>& have, const std::vector<std::string>& want,
                                  const std::string& where);
// The same for row `row` of an image_band column [N, bands].
std::vector<int64_t> select_bands(const Column& image_band, int64_t row, const std::vector<std::string>& want,
                                  const std::string& where);
// The band names of row `row` of an image_band column.
std::vector<std::string> row_bands(const Column& image_band, int64_t row);

}  // namespace astrofm
