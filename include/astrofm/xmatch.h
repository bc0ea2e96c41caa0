#pragma once
// Positional cross-matching of MMU datasets: for each object of the reference
// catalogue, the nearest object of another catalogue within a radius (the
// semantics of astropy's match_to_catalog_sky plus a separation cut). The
// search index is global, so pairs that straddle a partition border are found.
// Thread-safety: a whole job; it parallelises internally.
#include <cstdint>
#include <string>
#include <vector>

#include "astrofm/mmu.h"

namespace astrofm {

// For each (ra_a, dec_a): the index of the nearest (ra_b, dec_b) within
// radius_deg, or -1. sep_deg (optional) receives the separations.
std::vector<int64_t> match_nearest(const std::vector<double>& ra_a, const std::vector<double>& dec_a,
                                   const std::vector<double>& ra_b, const std::vector<double>& dec_b,
                                   double radius_deg, std::vector<double>* sep_deg = nullptr);

struct XmatchOptions {
  double radius_arcsec = 1.0;
  std::string config = "xmatch";           // output config name
  std::vector<std::string> prefixes;       // per input; default: each input's config name + "_"
  WriteOptions write;
};

struct XmatchResult {
  std::vector<int64_t> input_rows;
  int64_t matched = 0;  // objects of the first input with a match in every other input
};

// Joins the first dataset with each of the others (N-way: every other input is
// matched against the first one's positions; objects must match in all).
// object_id, ra, dec and healpix come from the first input; the others'
// columns are prefixed where names clash; separations go to
// `<prefix>sep_arcsec` per matched input.
XmatchResult xmatch_datasets(const std::vector<std::string>& inputs, const std::string& out,
                             const XmatchOptions& opt);

}  // namespace astrofm
