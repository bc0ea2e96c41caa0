#pragma once
// The probe report: <dir>/index.html with metrics, settings and PNG plots
// (predicted vs true and dz vs z densities, or the confusion matrix; the
// label-efficiency curve when several budgets ran). Written to <dir>.partial
// and renamed, so a report is never half there.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace astrofm {

void write_probe_report(const std::string& dir, const nlohmann::json& result, const std::vector<double>& truth,
                        const std::vector<double>& pred);

}  // namespace astrofm
