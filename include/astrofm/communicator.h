#pragma once
// The seam between the training loop and data-parallel training: ranks, an
// all-reduce and a broadcast. Training uses a single-process communicator by
// default; an MPI implementation plugs in here without touching the loop.
// In the loop: rank 0 broadcasts the initial parameters, each rank computes
// the loss on its own slice of the global batch, gradients are summed and
// divided by size(), and only rank 0 writes checkpoints and the model.
// Thread-safety: one communicator per training run, called from its thread.
#include <cstddef>
#include <memory>

namespace astrofm {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In place: every rank ends with the element-wise sum over ranks.
  virtual void allreduce_sum(float* data, size_t n) = 0;
  // In place: every rank ends with root's bytes.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() {}
};

// One process: rank 0 of 1; the collectives do nothing.
std::shared_ptr<Communicator> single_process_communicator();

}  // namespace astrofm
