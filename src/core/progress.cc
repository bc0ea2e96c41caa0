#include "astrofm/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include <fmt/format.h>

namespace astrofm {
namespace {
std::atomic<bool> g_quiet{false};

std::string human_seconds(double s) {
  if (s < 0 || s > 1e7) return "?";
  int t = static_cast<int>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}
}  // namespace

void Progress::set_quiet(bool quiet) { g_quiet = quiet; }

Progress::Progress(std::string label, int64_t total, int64_t start)
    : label_(std::move(label)), total_(total), start_(start), done_(start),
      tty_(isatty(fileno(stderr)) != 0),
      t0_(std::chrono::steady_clock::now()), last_draw_(t0_) {}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t n) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  if (tty_ && now - last_draw_ < std::chrono::milliseconds(150)) return;
  draw(false);
}

void Progress::set_note(std::string note) { note_ = std::move(note); }

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  if (g_quiet) return;
  auto now = std::chrono::steady_clock::now();
  last_draw_ = now;
  double elapsed = std::chrono::duration<double>(now - t0_).count();
  double rate = elapsed > 0 ? (done_ - start_) / elapsed : 0.0;
  std::string line;
  if (total_ > 0) {
    double frac = std::min(1.0, static_cast<double>(done_) / total_);
    int decile = static_cast<int>(frac * 10);
    // Without a terminal, print one line per 10% so logs stay short.
    if (!tty_ && !final && (decile == last_decile_ || decile == 10)) return;
    last_decile_ = decile;
    constexpr int kWidth = 28;
    int filled = static_cast<int>(frac * kWidth);
    std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
    double eta = rate > 0 ? (total_ - done_) / rate : -1;
    line = fmt::format("{} [{}] {:3.0f}% {}/{} {:.1f}/s {} {}", label_, bar, frac * 100, done_, total_,
                       rate, final ? "in " + human_seconds(elapsed) : "ETA " + human_seconds(eta), note_);
  } else {
    if (!tty_ && !final) return;
    line = fmt::format("{} {} {:.1f}/s {} {}", label_, done_, rate, human_seconds(elapsed), note_);
  }
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace astrofm
