#include <spdlog/spdlog.h>

#include "astrofm/sim.h"
#include "commands.h"

namespace astrofm::cli {

void add_simulate_command(CLI::App& app) {
  auto* c = app.add_subcommand("simulate", "Write a simulated paired survey (images, spectra, photometry, truth) in the MMU layout");
  static std::string out;
  static SimOptions o;
  static bool no_images = false, no_spectra = false;
  c->add_option("--objects", o.objects, "number of galaxies")->required()->check(CLI::PositiveNumber);
  c->add_option("--seed", o.seed, "random seed (output is identical for a seed)")->capture_default_str();
  c->add_option("--out", out, "output dataset root")->required();
  c->add_option("--config", o.config, "config folder name")->capture_default_str();
  c->add_option("--image-size", o.image_size, "image side in pixels")->capture_default_str();
  c->add_option("--pixel-scale", o.pixel_scale, "arcsec per pixel (default: the imaging survey's, 0.262 Legacy Survey, 0.168 HSC)");
  c->add_option("--imaging", o.imaging, "legacy (DECam g r z, nanomaggies) or hsc (HSC g r i z y, zero point 27)")
      ->check(CLI::IsMember({"legacy", "hsc"}))
      ->capture_default_str();
  c->add_option("--spectrum-step", o.spectrum_step, "spectral pixel in Angstrom over 3600-9824 A")->capture_default_str();
  c->add_option("--r-limit", o.r_mag_limit, "survey magnitude limit, DECam r (AB)")->capture_default_str();
  c->add_option("--z-max", o.z_max, "largest redshift")->capture_default_str();
  c->add_option("--region", o.region, "RA0,RA1,DEC0,DEC1 in degrees")->delimiter(',')->expected(4);
  c->add_option("--position-jitter", o.position_jitter, "astrometric scatter in arcsec, per config name")->capture_default_str();
  c->add_option("--data-dir", o.data_dir, "folder with sed_templates/ and filters/ (default: the shipped sample)");
  c->add_option("--threads", o.threads, "worker threads (default: all cores)");
  c->add_flag("--no-images", no_images, "skip the image modality");
  c->add_flag("--no-spectra", no_spectra, "skip the spectrum modality");
  c->add_option("--compression", o.write.compression, "none, gzip or lzf")->capture_default_str();
  c->add_flag("--overwrite", o.write.overwrite, "replace an existing output");
  c->add_option("--out-format", o.write.format, "hdf5 (MMU v1 layout) or hats (a HATS catalogue LSDB opens)")->capture_default_str();
  c->add_flag("--resume", o.write.resume, "continue an interrupted run of the same command");
  c->add_option("--checkpoint-every", o.checkpoint_every, "objects between checkpoints")->capture_default_str();
  c->callback([] {
    o.images = !no_images;
    o.spectra = !no_spectra;
    int64_t n = simulate_survey(out, o);
    spdlog::info("simulated {} galaxies into {}", n, out);
  });
}

}  // namespace astrofm::cli
