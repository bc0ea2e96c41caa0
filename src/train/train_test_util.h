#pragma once
// What the training tests share: a small simulated survey and config files.
#include <fstream>
#include <string>

#include "astrofm/sim.h"
#include "testutil.h"

namespace astrofm::test {

// 60 simulated objects with 24 px images and 312-pixel spectra; the dataset's path.
inline std::string sim(const TempDir& tmp) {
  SimOptions o;
  o.objects = 60;
  o.image_size = 24;
  o.spectrum_step = 20;  // 312 pixels -> 30 SpecFormer tokens
  o.region = {20, 21, 0, 1};
  simulate_survey(tmp.path("sim"), o);
  return tmp.path("sim");
}

inline std::string write_config(const TempDir& tmp, const std::string& name, const std::string& json) {
  std::ofstream(tmp.path(name)) << json;
  return tmp.path(name);
}

}  // namespace astrofm::test
