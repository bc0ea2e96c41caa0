// Filter curves, SED templates and the cosmology behind the simulator.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "astrofm/error.h"
#include "astrofm/sim.h"

namespace astrofm {

Filter Filter::load_ecsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail_input("{}: cannot open filter curve", path);
  Filter f;
  f.name = path.substr(path.find_last_of('/') + 1);
  f.name = f.name.substr(0, f.name.find('.'));
  double to_angstrom = 1.0;
  bool header_done = false;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.rfind("#", 0) == 0) {
      // "# - {name: wavelength, unit: nm, datatype: float64}"
      if (line.find("name: wavelength") != std::string::npos) {
        if (line.find("unit: nm") != std::string::npos) to_angstrom = 10.0;
        else if (line.find("unit: um") != std::string::npos) to_angstrom = 1e4;
      }
      continue;
    }
    if (!header_done) {  // the column-name row
      header_done = true;
      if (line.find("wavelength") != std::string::npos) continue;
    }
    std::istringstream ss(line);
    double w, r;
    if (!(ss >> w >> r)) fail_input("{}: line {}: expected 'wavelength response'", path, lineno);
    if (!f.wave.empty() && w * to_angstrom <= f.wave.back())
      fail_input("{}: line {}: wavelengths must increase", path, lineno);
    f.wave.push_back(w * to_angstrom);
    f.response.push_back(r);
  }
  if (f.wave.size() < 2) fail_input("{}: fewer than two points in the filter curve", path);
  return f;
}

Sed Sed::load_ascii(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail_input("{}: cannot open SED template", path);
  Sed s;
  s.name = path.substr(path.find_last_of('/') + 1);
  s.name = s.name.substr(0, s.name.find('.'));
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto p = line.find_first_not_of(" \t");
    if (p == std::string::npos || line[p] == '#') continue;
    std::istringstream ss(line);
    double w, f;
    if (!(ss >> w >> f)) fail_input("{}: line {}: expected 'wavelength flux'", path, lineno);
    if (!s.wave.empty() && w <= s.wave.back()) fail_input("{}: line {}: wavelengths must increase", path, lineno);
    s.wave.push_back(w);
    s.flux.push_back(f);
  }
  if (s.wave.size() < 2) fail_input("{}: fewer than two points in the template", path);
  return s;
}

double Sed::at(double lambda) const {
  if (lambda < wave.front() || lambda > wave.back()) return 0.0;
  auto it = std::upper_bound(wave.begin(), wave.end(), lambda);
  if (it == wave.end()) return flux.back();
  size_t i = static_cast<size_t>(it - wave.begin());
  double t = (lambda - wave[i - 1]) / (wave[i] - wave[i - 1]);
  return flux[i - 1] + t * (flux[i] - flux[i - 1]);
}

double luminosity_distance_mpc(double z) {
  constexpr double kH0 = 70.0, kOm = 0.3, kC = 299792.458;
  // Simpson's rule on 1/E(z); smooth integrand, 256 intervals are exact to 1e-9.
  constexpr int kN = 256;
  auto inv_e = [](double zz) { return 1.0 / std::sqrt(kOm * std::pow(1 + zz, 3) + (1 - kOm)); };
  double h = z / kN, s = inv_e(0) + inv_e(z);
  for (int i = 1; i < kN; ++i) s += (i % 2 ? 4 : 2) * inv_e(i * h);
  return (1 + z) * kC / kH0 * s * h / 3.0;
}

}  // namespace astrofm
