#pragma once
// Redshift (or any scalar) PDFs in the file layout of qp, the LSST DESC
// package RAIL keeps PDFs in: one HDF5 file with groups meta (pdf_name,
// pdf_version, the grid), data (the densities, one row per object) and
// ancil (per-object columns: zmode, zmedian, zmean, ids). qp.read() opens
// these files as Ensembles; RAIL's evaluation stages take them unchanged.
// Layout in docs/formats/qp.md. Torch-free.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace astrofm {

struct QpEnsemble {
  // "interp": densities at the grid points x (K of them), linearly
  // interpolated between; "hist": densities in the bins whose edges are x
  // (K + 1 of them).
  std::string kind = "interp";
  std::vector<double> x;
  int64_t n = 0;
  std::vector<double> y;  // [n, K], row-major
  std::vector<std::pair<std::string, std::vector<double>>> ancil;
  std::vector<std::pair<std::string, std::vector<std::string>>> ancil_strings;  // object ids
  int64_t bins() const { return kind == "hist" ? static_cast<int64_t>(x.size()) - 1 : static_cast<int64_t>(x.size()); }
};

// Checks shapes (UsageError), then writes path.tmp and renames it.
void write_qp(const std::string& path, const QpEnsemble& e);
// Streams a large ensemble to a qp file batch by batch (same layout): rows
// are appended to chunked datasets in path.tmp; commit() renames it into
// place. Destroyed without commit(), it removes path.tmp.
class QpWriter {
 public:
  QpWriter(const std::string& path, const std::string& kind, std::vector<double> x, std::vector<std::string> ancil,
           std::vector<std::string> ancil_strings = {});
  ~QpWriter();
  // Rows [n, K] of densities, and per ancil column n values (in the order given above).
  void append(int64_t n, const double* y, const std::vector<const double*>& ancil,
              const std::vector<const std::vector<std::string>*>& ancil_strings = {});
  int64_t rows() const;
  void commit();

 private:
  struct State;
  std::unique_ptr<State> st_;
};

// Reads interp and hist ensembles (InputError naming the file otherwise);
// numeric ancil columns only.
QpEnsemble read_qp(const std::string& path);

// The point estimates RAIL's stages attach (zmode, zmedian, zmean) and the
// 16th and 84th percentiles, from one object's densities on an interp grid
// (trapezoids, as qp integrates them; quantiles linear within a piece).
struct GridPdfSummary {
  double mode = 0, median = 0, mean = 0;
  double p16 = 0, p84 = 0;  // the central 68% interval
};
GridPdfSummary summarize_grid_pdf(const std::vector<double>& grid, const double* density);

}  // namespace astrofm
