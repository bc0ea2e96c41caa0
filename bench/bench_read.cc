// Streams every row of the given columns of an MMU dataset and reports the
// decoded bytes and wall time as JSON: {"bytes": B, "seconds": S, "rows": N}.
// Usage: astrofm_bench_read DIR [COLUMN ...]
#include <chrono>
#include <cstdio>

#include "astrofm/mmu.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [COLUMN ...]\n", argv[0]);
    return 2;
  }
  try {
    astrofm::ReadOptions opt;
    for (int i = 2; i < argc; ++i) opt.columns.push_back(argv[i]);
    opt.batch_rows = 256;
    auto t0 = std::chrono::steady_clock::now();
    astrofm::Dataset ds = astrofm::Dataset::open(argv[1]);
    astrofm::DatasetReader r(ds, opt);
    astrofm::Table b;
    size_t bytes = 0;
    int64_t rows = 0;
    double checksum = 0;
    while (r.next(b)) {
      rows += b.rows();
      for (const auto& c : b.columns()) {
        bytes += c.data.size();
        if (!c.data.empty()) checksum += c.data[c.data.size() / 2];
      }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"bytes\": %zu, \"seconds\": %.6f, \"rows\": %ld, \"checksum\": %.1f}\n", bytes, s, rows, checksum);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
