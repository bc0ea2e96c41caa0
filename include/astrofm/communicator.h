#pragma once
// The seam between the jobs and data-parallel runs: ranks, an all-reduce, a
// broadcast, a barrier. Jobs use a single-process communicator by default;
// under `mpirun` world_communicator() is MPI's (Debian's OpenMPI).
// Training: rank 0 broadcasts the initial parameters, each rank computes the
// loss on its own slice of the global batch, gradients are summed and divided
// by size(), and only rank 0 writes checkpoints and the model.
// Sharded jobs (embed, tokenize): each rank owns HEALPix partitions
// (owner_of_partition) and rank 0 commits the shared output.
// Thread-safety: one communicator per job, called from its main thread.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace astrofm {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In place: every rank ends with the element-wise sum over ranks.
  virtual void allreduce_sum(float* data, size_t n) = 0;
  virtual void allreduce_sum(int64_t* data, size_t n) { (void)data, (void)n; }
  // In place: every rank ends with root's bytes.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() {}
  // Ends every rank of the job (a rank that cannot go on must not leave the
  // others waiting in a collective). One process: std::exit(code).
  [[noreturn]] virtual void abort(int code);
  // The host's cores this rank should use: all of them over the ranks on this host.
  virtual int threads_per_rank() const;
};

// One process: rank 0 of 1; the collectives do nothing.
std::shared_ptr<Communicator> single_process_communicator();

// MPI's world when this process was started by mpirun/srun (and astrofm was
// built with MPI), else single_process_communicator(). Initialises MPI once;
// finalised at exit.
std::shared_ptr<Communicator> world_communicator();
// Whether this astrofm was built with MPI, and whether a launcher started it.
bool mpi_built();
bool launched_by_mpi();

// The rank that owns partition `index` of `rows` (partitions in dataset
// order): contiguous runs balanced by rows, so each rank's share of objects
// is as even as the partitions allow and the assignment depends only on
// (rows, ranks).
std::vector<int> partition_owners(const std::vector<int64_t>& rows, int ranks);

}  // namespace astrofm
