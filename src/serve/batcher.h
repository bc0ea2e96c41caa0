#pragma once
// Dynamic batching for one encoder: concurrent requests with the same input
// layout (columns, band sets, image size) are embedded in one forward pass,
// up to `max_objects`, after waiting at most `wait` for company. One worker
// thread per encoder does all its compute, so torch's own threads are not
// oversubscribed by the HTTP pool.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "astrofm/encoder.h"
#include "astrofm/table.h"

namespace astrofm::serve {

class Batcher {
 public:
  Batcher(const Encoder& enc, int64_t max_objects, std::chrono::microseconds wait);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;
  // The embedding columns of `t`'s rows; rethrows the encoder's error for
  // this request's rows. Throws TimeoutError past the deadline.
  Table embed(const Table& t, std::chrono::steady_clock::time_point deadline);
  nlohmann::json stats() const;

  struct TimeoutError : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

 private:
  struct Job {
    Table in;
    std::string key;
    std::chrono::steady_clock::time_point deadline;
    std::promise<Table> out;
    bool done = false;
  };
  static void finish(Job& j, Table t);
  static void fail(Job& j, std::exception_ptr e);
  void work();

  const Encoder& enc_;
  int64_t max_objects_;
  std::chrono::microseconds wait_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stop_ = false;
  int64_t batches_ = 0, objects_ = 0, requests_ = 0, largest_ = 0;
  std::thread worker_;
};

}  // namespace astrofm::serve
