#pragma once
// A terminal progress bar for long jobs: rate-limited redraws on stderr when it
// is a terminal, a few plain lines otherwise (CI logs), nothing when quiet.
// Thread-safety: a Progress belongs to one thread; set_quiet() is atomic.
#include <chrono>
#include <cstdint>
#include <string>

namespace astrofm {

class Progress {
 public:
  // total <= 0 means unknown; the bar then shows a count and a rate only.
  Progress(std::string label, int64_t total, int64_t start = 0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  // Free text shown after the counters (a loss, a file name).
  void set_note(std::string note);
  void finish();

  // Silences every bar in the process (for --quiet and for tests).
  static void set_quiet(bool quiet);

 private:
  void draw(bool final);

  std::string label_;
  std::string note_;
  int64_t total_;
  int64_t start_;
  int64_t done_;
  bool finished_ = false;
  bool tty_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point t0_, last_draw_;
};

}  // namespace astrofm
