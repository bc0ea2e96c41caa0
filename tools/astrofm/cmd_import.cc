#include <spdlog/spdlog.h>

#include "astrofm/error.h"
#include "astrofm/importers.h"
#include "commands.h"

namespace astrofm::cli {
namespace {

struct TargetFlags {
  ImportTarget t;
  void add(CLI::App* cmd) {
    cmd->add_option("--out", t.out, "output dataset root (written as <out>/<config>/healpix=N/...)")->required();
    cmd->add_option("--config", t.config, "config folder name (default depends on the importer)");
    cmd->add_option("--compression", t.write.compression, "none, gzip or lzf")->capture_default_str();
    cmd->add_flag("--overwrite", t.write.overwrite, "replace an existing output");
    cmd->add_option("--out-format", t.write.format, "hdf5 (MMU v1 layout) or hats (a HATS catalogue LSDB opens)")->capture_default_str();
  }
};

void report(int64_t n, const ImportTarget& t) { spdlog::info("imported {} objects into {}", n, t.out); }

}  // namespace

void add_import_commands(CLI::App& app) {
  auto* imp = app.add_subcommand("import", "Import survey files into the MMU layout");
  imp->require_subcommand(1);

  {
    auto* c = imp->add_subcommand("csv", "A catalogue CSV with a header row (numeric columns, optional id and ra/dec)");
    static std::string file;
    static CsvOptions o;
    static TargetFlags tf;
    c->add_option("FILE", file, "CSV file")->required();
    c->add_option("--id-column", o.id_column, "column holding object ids (default: object_id/objid/id, else generated)");
    c->add_option("--ra", o.ra_column, "ra column in degrees (default: ra/RA)");
    c->add_option("--dec", o.dec_column, "dec column in degrees (default: dec/DEC)");
    tf.add(c);
    c->callback([] { report(import_csv(file, tf.t, o), tf.t); });
  }
  {
    auto* c = imp->add_subcommand("images", "JPEG/PNG cutouts (a folder or files), optional labels CSV joined on file name");
    static std::vector<std::string> inputs;
    static ImageOptions o;
    static TargetFlags tf;
    c->add_option("INPUT", inputs, "folders or image files")->required();
    c->add_option("--labels", o.labels_csv, "labels CSV; its id column matches the file name without extension");
    c->add_option("--labels-id-column", o.labels_id_column, "id column of the labels CSV (default: the first)");
    c->add_option("--bands", o.bands, "band names of the R, G, B channels (default: SDSS-I SDSS-R SDSS-G)")->delimiter(',');
    c->add_option("--size", o.size, "centre-crop to a square and resample to SIZE x SIZE pixels");
    c->add_option("--crop", o.crop, "keep the central CROP x CROP input pixels before resampling (zoom on the central galaxy)");
    c->add_option("--pixel-scale", o.pixel_scale, "arcsec per pixel of the input images (default: unknown)");
    c->add_option("--psf-fwhm", o.psf_fwhm, "PSF FWHM in arcsec (default: unknown)");
    c->add_flag("--skip-unlabeled", o.skip_unlabeled, "drop images without a row in --labels");
    tf.add(c);
    c->callback([] { report(import_images(inputs, tf.t, o), tf.t); });
  }
  {
    auto* c = imp->add_subcommand("fits-cutout", "Multi-band FITS cutouts; ra/dec and pixel scale from the WCS");
    static std::vector<std::string> inputs;
    static FitsCutoutOptions o;
    static TargetFlags tf;
    c->add_option("INPUT", inputs, "FITS files or folders")->required();
    c->add_option("--size", o.size, "centre-crop to SIZE x SIZE pixels");
    c->add_option("--bands", o.bands, "band names (default: from BANDS/BANDn keywords)")->delimiter(',');
    c->add_option("--band-prefix", o.band_prefix, "prefix for one-letter band names")->capture_default_str();
    c->add_option("--psf-fwhm", o.psf_fwhm, "PSF FWHM in arcsec (default: unknown)");
    tf.add(c);
    c->callback([] { report(import_fits_cutouts(inputs, tf.t, o), tf.t); });
  }
  {
    auto* c = imp->add_subcommand("desi", "DESI coadd FITS (b, r, z arms joined) with Redrock redshifts");
    static std::vector<std::string> coadds, redrocks;
    static TargetFlags tf;
    c->add_option("COADD", coadds, "coadd-*.fits files")->required();
    c->add_option("--redrock", redrocks, "redrock-*.fits files, one per coadd (default: found by name)");
    tf.add(c);
    c->callback([] { report(import_desi(coadds, redrocks, tf.t), tf.t); });
  }
  {
    auto* c = imp->add_subcommand("sdss", "SDSS/BOSS spPlate FITS files (log-lambda grid)");
    static std::vector<std::string> files;
    static TargetFlags tf;
    c->add_option("SPPLATE", files, "spPlate-*.fits files")->required();
    tf.add(c);
    c->callback([] { report(import_sdss_spplate(files, tf.t), tf.t); });
  }
}

}  // namespace astrofm::cli
