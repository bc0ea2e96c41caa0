#pragma once
// Reports (probe, generate, photoz): the probe report: <dir>/index.html with metrics, settings and figures
// (Vega-Lite, drawn offline by the scripts written beside it; astrofm/vega.h):
// (predicted vs true and dz vs z densities, or the confusion matrix; the
// label-efficiency curve when several budgets ran). Written to <dir>.partial
// and renamed, so a report is never half there.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm {

// `pit`: the PIT values when the probe predicts a distribution (kNN), for the PIT figure.
void write_probe_report(const std::string& dir, const nlohmann::json& result, const std::vector<double>& truth,
                        const std::vector<double>& pred, const std::vector<double>& pit = {});

// `astrofm generate --report` for a one-token target, and `astrofm photoz
// predict --report`: index.html with the point metrics (of the mode, median
// and mean, those present) and probabilistic ones, `point` vs true, and the
// PIT histogram; metrics.json beside it. Same write-then-rename as the probes'.
void write_generate_report(const std::string& dir, const nlohmann::json& metrics, const std::vector<double>& truth,
                           const std::vector<double>& point, const std::vector<double>& pit,
                           const std::string& tool = "astrofm generate");

// The PIT histogram (10 bins, density; flat at 1 when calibrated) as a Vega-Lite figure (astrofm/vega.h).
nlohmann::json pit_histogram(const std::vector<double>& pit);

}  // namespace astrofm
