#include "astrofm/torch_threads.h"

#include <sched.h>

#include <cstdlib>
#include <mutex>

#include <ATen/Parallel.h>

namespace astrofm {

void use_available_cores() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("OMP_NUM_THREADS") || std::getenv("MKL_NUM_THREADS")) return;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    const int cpus = CPU_COUNT(&allowed);
    if (cpus > at::get_num_threads()) at::set_num_threads(cpus);
  });
}

}  // namespace astrofm
