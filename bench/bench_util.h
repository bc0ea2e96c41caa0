#pragma once
// Shared by the benchmark binaries.
#include <chrono>

// Mean wall time of f() over `reps` calls, after one warm-up call.
template <class F>
double seconds_per_call(F&& f, int reps) {
  f();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}
