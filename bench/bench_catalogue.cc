// The in-memory Catalogue at survey sizes: build time, memory per object
// (the catalogue's own count and the process's resident-set growth), and
// cone look-ups through its HEALPix ranges against testing every object
// (what the service's cone search and the search index's in-memory cone did
// before), with the answers checked equal.
// Usage: astrofm_bench_catalogue [N=1000000] [QUERIES=200]
// Prints one JSON object.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "astrofm/catalogue.h"
#include "astrofm/sky.h"

using namespace astrofm;
using Clock = std::chrono::steady_clock;

static double rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

static double secs(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::stoll(argv[1]) : 1000000;
  const int queries = argc > 2 ? std::stoi(argv[2]) : 200;
  std::uniform_real_distribution<double> u(0, 1);
  // The positions twice: a copy for the scan, drawn before the catalogue's
  // own memory is counted (resident-set growth covers ids, positions, map).
  std::vector<double> ra_copy(n), dec_copy(n);
  std::mt19937_64 rng(1);
  for (int64_t i = 0; i < n; ++i) ra_copy[i] = 360 * u(rng), dec_copy[i] = std::asin(2 * u(rng) - 1) * 180 / M_PI;
  const double before = rss_mb();
  rng.seed(1);
  std::vector<std::string> ids(n);
  std::vector<double> ra(n), dec(n);
  for (int64_t i = 0; i < n; ++i) {
    // Survey-like ids (Legacy Survey: 19 digits, beyond the small-string buffer).
    ids[i] = std::to_string(9000000000000000000ull + static_cast<uint64_t>(i) * 7919ull);
    ra[i] = 360 * u(rng), dec[i] = std::asin(2 * u(rng) - 1) * 180 / M_PI;
  }
  auto t0 = Clock::now();
  Catalogue cat(std::move(ids), std::move(ra), std::move(dec), "bench");
  const double build_s = secs(t0), after = rss_mb();
  // Cones of 1 arcmin to 1 degree: the service's and the index's cone sizes.
  std::vector<double> radii = {1.0 / 60, 0.1, 1.0};
  std::string per_radius;
  for (double rad : radii) {
    double t_cat = 0, t_scan = 0;
    int64_t found = 0;
    for (int q = 0; q < queries; ++q) {
      double qra = 360 * u(rng), qdec = std::asin(2 * u(rng) - 1) * 180 / M_PI;
      auto t1 = Clock::now();
      auto rows = cat.cone(qra, qdec, rad);
      t_cat += secs(t1);
      t1 = Clock::now();
      std::vector<int64_t> scan;
      for (int64_t i = 0; i < n; ++i)
        if (sky::separation_deg(qra, qdec, ra_copy[i], dec_copy[i]) <= rad) scan.push_back(i);
      t_scan += secs(t1);
      if (scan != rows) {
        std::fprintf(stderr, "cone (%g, %g, %g): %zu rows, a scan finds %zu\n", qra, qdec, rad, rows.size(), scan.size());
        return 1;
      }
      found += static_cast<int64_t>(rows.size());
    }
    per_radius += (per_radius.empty() ? "" : ", ") + std::string("{\"radius_deg\": ") + std::to_string(rad) +
                  ", \"mean_objects\": " + std::to_string(static_cast<double>(found) / queries) +
                  ", \"catalogue_ms\": " + std::to_string(1e3 * t_cat / queries) + ", \"scan_ms\": " + std::to_string(1e3 * t_scan / queries) +
                  ", \"speedup\": " + std::to_string(t_scan / std::max(t_cat, 1e-12)) + "}";
  }
  std::printf("{\"objects\": %lld, \"build_s\": %.3f, \"bytes_per_object\": %.1f, \"rss_growth_bytes_per_object\": %.1f, \"cones\": [%s]}\n",
              static_cast<long long>(n), build_s, static_cast<double>(cat.memory_bytes()) / n, (after - before) * 1048576.0 / n,
              per_radius.c_str());
}
