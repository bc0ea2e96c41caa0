#include "astrofm/bands.h"

#include <algorithm>
#include <cctype>

#include "astrofm/error.h"

namespace astrofm {
namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

Band make(const char* prefix, const char* survey, const char* filter, double pivot, const char* curve,
          std::vector<std::string> extra = {}) {
  Band b;
  b.survey = survey;
  b.filter = filter;
  std::string f = filter, F = f;
  for (auto& c : F) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  b.name = std::string(prefix) + "-" + F;
  b.pivot_angstrom = pivot;
  b.curve = curve;
  b.aliases = {lower(survey) + "_" + f, lower(survey) + "-" + f, std::string(lower(prefix)) + "_" + f};
  for (auto& e : extra) b.aliases.push_back(e + f), b.aliases.push_back(e + F);
  return b;
}

}  // namespace

const std::vector<Band>& band_table() {
  // Pivot wavelengths computed from the speclite curves in data/sample/filters
  // (test Bands.PivotWavelengthsMatchTheFilterCurves recomputes them).
  static const std::vector<Band> t = {
      make("DES", "DECam", "g", 4820.0, "decam2014-g", {"LS-", "ls_"}),
      make("DES", "DECam", "r", 6423.0, "decam2014-r", {"LS-", "ls_"}),
      make("DES", "DECam", "i", 7807.0, "decam2014-i", {"LS-", "ls_"}),
      make("DES", "DECam", "z", 9158.0, "decam2014-z", {"LS-", "ls_"}),
      make("HSC", "HSC", "g", 4791.2, "hsc2017-g"),
      make("HSC", "HSC", "r", 6214.0, "hsc2017-r"),
      make("HSC", "HSC", "i", 7688.8, "hsc2017-i"),
      make("HSC", "HSC", "z", 8903.1, "hsc2017-z"),
      make("HSC", "HSC", "y", 9771.7, "hsc2017-y"),
      make("SDSS", "SDSS", "u", 3589.3, "sdss2010-u"),
      make("SDSS", "SDSS", "g", 4701.4, "sdss2010-g"),
      make("SDSS", "SDSS", "r", 6177.2, "sdss2010-r"),
      make("SDSS", "SDSS", "i", 7496.5, "sdss2010-i"),
      make("SDSS", "SDSS", "z", 8904.2, "sdss2010-z"),
  };
  return t;
}

const Band* find_band(std::string_view name) {
  std::string l = lower(name);
  for (const auto& b : band_table()) {
    if (lower(b.name) == l) return &b;
    for (const auto& a : b.aliases)
      if (lower(a) == l) return &b;
  }
  return nullptr;
}

const Band& band(std::string_view name, const std::string& where) {
  if (const Band* b = find_band(name)) return *b;
  std::vector<std::string> known;
  for (const auto& b : band_table()) known.push_back(b.name);
  fail_not_found("{}: unknown band '{}' (known: {})", where, name, fmt::join(known, ", "));
}

const std::vector<ImageBandSet>& image_band_sets() {
  static const std::vector<ImageBandSet> sets = {
      {"LegacySurvey", {"DES-G", "DES-R", "DES-Z"}},
      {"LegacySurvey", {"DES-G", "DES-R", "DES-I", "DES-Z"}},
      {"HSC", {"HSC-G", "HSC-R", "HSC-I", "HSC-Z", "HSC-Y"}},
      {"SDSS", {"SDSS-U", "SDSS-G", "SDSS-R", "SDSS-I", "SDSS-Z"}},
  };
  return sets;
}

const std::vector<std::string>& legacy_survey_grz() { return image_band_sets().front().bands; }

std::vector<std::string> survey_bands(const std::string& survey, const std::vector<std::string>& filters) {
  std::vector<std::string> out;
  if (filters.empty()) {
    for (const auto& b : band_table())
      if (b.survey == survey) out.push_back(b.name);
  } else {
    for (const auto& f : filters) {
      const Band* hit = nullptr;
      for (const auto& b : band_table())
        if (b.survey == survey && b.filter == f) hit = &b;
      if (!hit) fail_not_found("survey {} has no band '{}'", survey, f);
      out.push_back(hit->name);
    }
  }
  if (out.empty()) fail_not_found("unknown survey '{}' (DECam, HSC or SDSS)", survey);
  return out;
}

std::vector<int64_t> select_bands(const std::vector<std::string>& have, const std::vector<std::string>& want,
                                  const std::string& where) {
  auto canon = [](const std::string& s) {
    const Band* b = find_band(s);
    return b ? b->name : s;
  };
  std::vector<std::string> h;
  for (const auto& s : have) h.push_back(canon(s));
  std::vector<int64_t> idx;
  for (const auto& w : want) {
    auto it = std::find(h.begin(), h.end(), canon(w));
    if (it == h.end()) fail_input("{}: band '{}' is needed but the image holds {}", where, w, fmt::join(have, ", "));
    idx.push_back(it - h.begin());
  }
  return idx;
}

std::vector<std::string> row_bands(const Column& image_band, int64_t row) {
  int64_t nb = image_band.row_elems();
  return {image_band.strings.begin() + row * nb, image_band.strings.begin() + (row + 1) * nb};
}

std::vector<int64_t> select_bands(const Column& image_band, int64_t row, const std::vector<std::string>& want,
                                  const std::string& where) {
  return select_bands(row_bands(image_band, row), want, fmt::format("{}: row {}", where, row));
}

}  // namespace astrofm
