// Torch's intra-op threads at start-up: every CPU this process may run on,
// unless the user chose (OMP_NUM_THREADS or MKL_NUM_THREADS). libtorch 1.13
// sizes its pool from cpuinfo's count of cores, which on some virtual
// machines is 1 of 2 (measured: at::get_num_threads() 1 where OpenMP and
// sched_getaffinity give 2), halving every model's speed.
#pragma once

namespace astrofm {

// Idempotent; call before the first torch work (the CLI's main, the Python
// module's import).
void use_available_cores();

}  // namespace astrofm
