#pragma once
// Internal to astrofm_probes: the libtorch probes behind make_probe.
#include <memory>

#include "astrofm/probe.h"

namespace astrofm::detail {

std::unique_ptr<Probe> make_ridge(const ProbeOptions& o);
std::unique_ptr<Probe> make_logistic(const ProbeOptions& o);
std::unique_ptr<Probe> make_mlp(const ProbeOptions& o);  // mlp and attentive

// Stratified (classification) or shuffled k-fold assignment, deterministic for a seed.
std::vector<int> fold_of(const std::vector<double>& y, bool classification, int folds, uint64_t seed);

}  // namespace astrofm::detail
