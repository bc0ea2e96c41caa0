// The streaming, resumable `simulate` job.
#include <csignal>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "astrofm/progress.h"
#include "astrofm/sim.h"
#include "galaxy.h"

namespace astrofm {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// Restores the previous handlers when the job ends.
struct SignalGuard {
  void (*old_int)(int), (*old_term)(int);
  SignalGuard() : old_int(std::signal(SIGINT, on_signal)), old_term(std::signal(SIGTERM, on_signal)) { g_stop = 0; }
  ~SignalGuard() {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
  }
};

nlohmann::json job_identity(const SimOptions& o) {
  return {{"objects", o.objects}, {"seed", o.seed}, {"image_size", o.image_size}, {"pixel_scale", o.pixel_scale},
          {"spectrum_step", o.spectrum_step}, {"r_mag_limit", o.r_mag_limit}, {"z_max", o.z_max},
          {"region", o.region}, {"images", o.images}, {"spectra", o.spectra}, {"position_jitter", o.position_jitter},
          {"config", o.config}, {"imaging", o.imaging}};
}

}  // namespace

int64_t simulate_survey(const std::string& out, const SimOptions& opt) {
  if (opt.objects <= 0) fail_usage("--objects must be positive, got {}", opt.objects);
  if (!opt.images && !opt.spectra) spdlog::warn("neither images nor spectra: writing the catalogue only");
  sim::Factory factory(opt);  // fails early on missing templates or bad options
  DatasetWriter w(out, opt.config, opt.write);
  nlohmann::json id = job_identity(opt);
  int64_t next = 0;
  if (auto st = w.resume_state()) {
    auto j = nlohmann::json::parse(*st);
    if (j["job"] != id)
      fail_input("{}.partial was written by a different simulate job ({}); rerun without --resume to start over", out, j["job"].dump());
    next = j["next"].get<int64_t>();
    spdlog::info("resuming at object {} of {}", next, opt.objects);
  }
  w.set_attribute("source", "astrofm simulate " + id.dump());
  w.set_attribute("template_names", "CWW_E_ext,CWW_Sbc_ext,CWW_Scd_ext,CWW_Im_ext,KIN_SB2_ext,KIN_SB1_ext");
  SignalGuard guard;
  Progress bar("simulate", opt.objects, next);
  // Chunks sized so both cores stay busy and memory stays small (a 64x64 chunk is ~25 MB).
  const int64_t chunk = opt.images ? 128 : 1024;
  int64_t since_checkpoint = 0;
  while (next < opt.objects) {
    if (g_stop) {
      w.checkpoint(nlohmann::json{{"job", id}, {"next", next}}.dump());
      w.keep_partial();
      bar.finish();
      fail_input("interrupted after {} of {} objects; rerun the same command with --resume to continue", next, opt.objects);
    }
    int64_t n = std::min(chunk, opt.objects - next);
    w.append(sim::simulate_with(factory, next, n));
    next += n;
    since_checkpoint += n;
    bar.advance(n);
    if (since_checkpoint >= opt.checkpoint_every && next < opt.objects) {
      w.checkpoint(nlohmann::json{{"job", id}, {"next", next}}.dump());
      since_checkpoint = 0;
    }
  }
  bar.finish();
  w.commit();
  return opt.objects;
}

}  // namespace astrofm
