// MPI's world communicator (Debian's OpenMPI), when astrofm is built with MPI.
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "astrofm/communicator.h"
#include "astrofm/error.h"

#ifdef ASTROFM_HAVE_MPI
// The C API only: OpenMPI's mpi.h would pull in its deprecated C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace astrofm {

#ifdef ASTROFM_HAVE_MPI
namespace {

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    std::fprintf(stderr, "astrofm: MPI %s failed: %.*s\n", what, len, msg);
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
    // A failed collective (a peer died) returns instead of hanging, so the
    // rank can report it; mpirun then ends the job.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    std::atexit([] {
      int done = 0;
      MPI_Finalized(&done);
      if (!done) MPI_Finalize();
    });
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* data, size_t n) override { reduce(data, n, MPI_FLOAT); }
  void allreduce_sum(int64_t* data, size_t n) override { reduce(data, n, MPI_INT64_T); }
  void broadcast(void* data, size_t bytes, int root) override {
    auto* p = static_cast<char*>(data);
    for (size_t off = 0; off < bytes; off += kChunk)  // MPI counts are int
      check(MPI_Bcast(p + off, static_cast<int>(std::min(kChunk, bytes - off)), MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "barrier"); }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
  }

 private:
  static constexpr size_t kChunk = size_t{1} << 30;
  void reduce(void* data, size_t n, MPI_Datatype t) {
    int es = 0;
    MPI_Type_size(t, &es);
    auto* p = static_cast<char*>(data);
    for (size_t off = 0; off < n; off += kChunk)
      check(MPI_Allreduce(MPI_IN_PLACE, p + off * es, static_cast<int>(std::min(kChunk, n - off)), t, MPI_SUM, MPI_COMM_WORLD),
            "allreduce");
  }
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool mpi_built() { return true; }

std::shared_ptr<Communicator> world_communicator() {
  static std::mutex mu;
  static std::shared_ptr<Communicator> world;
  std::lock_guard lock(mu);
  if (!world) world = launched_by_mpi() ? std::shared_ptr<Communicator>(std::make_shared<MpiWorld>()) : single_process_communicator();
  return world;
}

#else

bool mpi_built() { return false; }

std::shared_ptr<Communicator> world_communicator() {
  if (launched_by_mpi() && (std::getenv("OMPI_COMM_WORLD_SIZE") && std::atoi(std::getenv("OMPI_COMM_WORLD_SIZE")) > 1))
    fail_usage("this astrofm was built without MPI (apt-get install libopenmpi-dev, then rebuild); it cannot run as one of several ranks");
  return single_process_communicator();
}

#endif

}  // namespace astrofm
