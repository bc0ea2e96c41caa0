#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "astrofm/communicator.h"

namespace astrofm {
namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(float*, size_t) override {}
  void allreduce_sum(int64_t*, size_t) override {}
  void broadcast(void*, size_t, int) override {}
};

int env_int(const char* name, int dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : dflt;
}

}  // namespace

void Communicator::abort(int code) { std::exit(code); }

int Communicator::threads_per_rank() const {
  int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // OpenMPI and Slurm say how many ranks share this host.
  int local = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", env_int("SLURM_NTASKS_PER_NODE", size()));
  return std::max(1, hw / std::max(1, std::min(local, size())));
}

std::shared_ptr<Communicator> single_process_communicator() { return std::make_shared<SingleProcess>(); }

bool launched_by_mpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
}

std::vector<int> partition_owners(const std::vector<int64_t>& rows, int ranks) {
  std::vector<int> owner(rows.size(), 0);
  if (ranks <= 1 || rows.empty()) return owner;
  int64_t total = 0;
  for (auto r : rows) total += r;
  // Partition i goes to the rank whose share [r*total/ranks, (r+1)*total/ranks)
  // holds the partition's midpoint in the cumulative row count.
  int64_t before = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    double mid = static_cast<double>(before) + rows[i] / 2.0;
    int r = total > 0 ? static_cast<int>(mid * ranks / static_cast<double>(total)) : static_cast<int>(i % ranks);
    owner[i] = std::clamp(r, 0, ranks - 1);
    before += rows[i];
  }
  return owner;
}

}  // namespace astrofm
