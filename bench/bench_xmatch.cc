// Cross-matches two catalogues of float64 (ra, dec) pairs stored as raw
// little-endian binary and reports {"pairs": P, "seconds": S}.
// Usage: astrofm_bench_xmatch A.bin B.bin RADIUS_ARCSEC
#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include "astrofm/xmatch.h"

static void load(const char* path, std::vector<double>& ra, std::vector<double>& dec) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  size_t n = static_cast<size_t>(in.tellg()) / 16;
  std::vector<double> buf(2 * n);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size() * 8));
  ra.resize(n);
  dec.resize(n);
  for (size_t i = 0; i < n; ++i) {
    ra[i] = buf[2 * i];
    dec[i] = buf[2 * i + 1];
  }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s A.bin B.bin RADIUS_ARCSEC\n", argv[0]);
    return 2;
  }
  std::vector<double> ra_a, dec_a, ra_b, dec_b;
  load(argv[1], ra_a, dec_a);
  load(argv[2], ra_b, dec_b);
  auto t0 = std::chrono::steady_clock::now();
  auto m = astrofm::match_nearest(ra_a, dec_a, ra_b, dec_b, std::atof(argv[3]) / 3600.0);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long pairs = 0;
  for (auto j : m) pairs += j >= 0;
  std::printf("{\"pairs\": %ld, \"seconds\": %.6f}\n", pairs, s);
  return 0;
}
