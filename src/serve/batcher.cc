#include "batcher.h"

#include "astrofm/error.h"
#include "astrofm/mmu.h"

namespace astrofm::serve {
namespace {

std::string layout_key(const Table& t) {
  std::string k;
  for (const auto& c : t.columns()) {
    k += c.name + ":" + c.describe() + ";";
    if (c.name == mmu::kImageBand && c.rows > 0)  // the band set must agree too
      for (int64_t j = 0; j < c.row_elems(); ++j) k += c.strings[j] + ",";
  }
  return k;
}

}  // namespace

Batcher::Batcher(const Encoder& enc, int64_t max_objects, std::chrono::microseconds wait)
    : enc_(enc), max_objects_(max_objects), wait_(wait), worker_([this] { work(); }) {}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

Table Batcher::embed(const Table& t, std::chrono::steady_clock::time_point deadline) {
  auto job = std::make_shared<Job>();
  for (const auto& name : enc_.input_columns(t.names())) job->in.add(t.at(name));
  if (!job->in.rows()) fail_input("model '{}' reads none of the columns sent ({}); it embeds {}", enc_.name(), fmt::join(t.names(), ", "),
                                  fmt::join(enc_.modalities(), ", "));
  job->key = layout_key(job->in);
  job->deadline = deadline;
  auto fut = job->out.get_future();
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(job);
    ++requests_;
  }
  cv_.notify_all();
  if (fut.wait_until(deadline) != std::future_status::ready) throw TimeoutError("the embedding did not finish before the request's deadline");
  return fut.get();
}

void Batcher::work() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (stop_) {
      for (auto& j : queue_) fail(*j, std::make_exception_ptr(InputError("the server is stopping", ErrorKind::IO)));
      return;
    }
    // Requests whose clients already had their 504 are not computed.
    auto now = std::chrono::steady_clock::now();
    for (auto it = queue_.begin(); it != queue_.end();) {
      if ((*it)->deadline < now) {
        fail(**it, std::make_exception_ptr(TimeoutError("the embedding did not start before the request's deadline")));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    if (queue_.empty()) continue;
    // Wait briefly for more requests of the same layout, then take them all (up to the batch size).
    auto first = queue_.front();
    auto until = std::chrono::steady_clock::now() + wait_;
    auto same_rows = [&] {
      int64_t n = 0;
      for (auto& j : queue_)
        if (j->key == first->key) n += j->in.rows();
      return n;
    };
    while (!stop_ && same_rows() < max_objects_ && cv_.wait_until(l, until) != std::cv_status::timeout) {
    }
    std::vector<std::shared_ptr<Job>> batch;
    int64_t rows = 0;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if ((*it)->key == first->key && (batch.empty() || rows + (*it)->in.rows() <= max_objects_)) {
        rows += (*it)->in.rows();
        batch.push_back(*it);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    ++batches_, objects_ += rows, largest_ = std::max(largest_, rows);
    l.unlock();
    try {
      Table all = batch[0]->in;
      for (size_t i = 1; i < batch.size(); ++i) all.append(batch[i]->in);
      Table out = enc_.embed(all);
      int64_t at = 0;
      for (auto& j : batch) {
        finish(*j, out.slice(at, j->in.rows()));
        at += j->in.rows();
      }
    } catch (...) {
      // Attribute the error: each request of the batch alone.
      auto e = std::current_exception();
      for (auto& j : batch) {
        if (j->done) continue;
        if (batch.size() == 1) {
          fail(*j, e);
          continue;
        }
        try {
          finish(*j, enc_.embed(j->in));
        } catch (...) {
          fail(*j, std::current_exception());
        }
      }
    }
    l.lock();
  }
}

void Batcher::finish(Job& j, Table t) {
  if (j.done) return;
  j.done = true;
  j.out.set_value(std::move(t));
}

void Batcher::fail(Job& j, std::exception_ptr e) {
  if (j.done) return;
  j.done = true;
  j.out.set_exception(e);
}

nlohmann::json Batcher::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return {{"requests", requests_}, {"batches", batches_}, {"objects", objects_}, {"largest_batch", largest_},
          {"mean_batch", batches_ ? static_cast<double>(objects_) / batches_ : 0.0}, {"queued", queue_.size()}};
}

}  // namespace astrofm::serve
