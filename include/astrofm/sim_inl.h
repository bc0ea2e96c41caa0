#pragma once
// Template implementation for sim.h.
// Thread-safety: pure functions.
#include <cmath>

namespace astrofm {

template <class F>
double ab_magnitude(const Filter& f, F&& f_lambda) {
  // m_AB = -2.5 log10( int f_lambda R lambda dl / int (c / lambda) f_AB R dl ),
  // f_AB = 3631 Jy = 3.631e-20 erg/s/cm^2/Hz, c in A/s. Trapezoid rule on the curve's grid.
  constexpr double kC = 2.99792458e18, kFab = 3.631e-20;
  double num = 0, den = 0;
  for (size_t i = 0; i + 1 < f.wave.size(); ++i) {
    double l0 = f.wave[i], l1 = f.wave[i + 1], dl = l1 - l0;
    double a0 = f_lambda(l0) * f.response[i] * l0, a1 = f_lambda(l1) * f.response[i + 1] * l1;
    double b0 = kC / l0 * kFab * f.response[i], b1 = kC / l1 * kFab * f.response[i + 1];
    num += 0.5 * (a0 + a1) * dl;
    den += 0.5 * (b0 + b1) * dl;
  }
  if (!(num > 0) || !(den > 0)) return INFINITY;
  return -2.5 * std::log10(num / den);
}

}  // namespace astrofm
