#include "astrofm/importers.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "astrofm/validate.h"
#include "testutil.h"

namespace astrofm {
namespace {

namespace fs = std::filesystem;

Table read_everything(const std::string& path) {
  Dataset ds = Dataset::open(path);
  DatasetReader r(ds, {.batch_rows = 1 << 20});
  Table all, b;
  while (r.next(b)) all.append(b);
  return all;
}

ImportTarget target(const std::string& out, const std::string& config = "") {
  ImportTarget t;
  t.out = out;
  t.config = config;
  return t;
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& words) {
  try {
    f();
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    for (const auto& w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what() << " lacks " << w;
  }
}

// ---- CSV -------------------------------------------------------------------

TEST(ImportCsv, ShippedBossSample) {
  test::TempDir tmp;
  EXPECT_EQ(import_csv(test::sample_dir() + "/boss_dr10_photoz/galaxies.csv", target(tmp.path("o"))), 2000);
  EXPECT_TRUE(validate_dataset(tmp.path("o")).empty());
  Table t = read_everything(tmp.path("o"));
  EXPECT_EQ(t.rows(), 2000);
  EXPECT_EQ(t.at(mmu::kObjectId).strings[0], "galaxies-0");
  EXPECT_TRUE(std::isnan(t.at(mmu::kRa).values<double>()[0]));  // no sky positions: healpix=-1
  EXPECT_EQ(t.at(mmu::kHealpix).values<int64_t>()[0], -1);
  EXPECT_DOUBLE_EQ(t.at("mag_u").values<double>()[0], 21.812412);
  EXPECT_DOUBLE_EQ(t.at("z").values<double>()[1], 0.378859);
}

TEST(ImportCsv, IdsPositionsQuotingAndExactIntegers) {
  test::TempDir tmp;
  std::ofstream(tmp.path("c.csv")) << "objid,RA,DEC,name,flux\r\n"
                                      "588848901537202306,150.1,2.2,\"NGC, 1\",1.5\r\n"
                                      "588848901532418163,150.2,2.3,\"say \"\"hi\"\"\",nan\r\n"
                                      "588848901532418164,,,none,3\r\n";
  EXPECT_EQ(import_csv(tmp.path("c.csv"), target(tmp.path("o"))), 3);
  Table t = read_everything(tmp.path("o"));
  std::map<std::string, int64_t> row;
  for (int64_t i = 0; i < t.rows(); ++i) row[t.at(mmu::kObjectId).strings[i]] = i;
  int64_t a = row.at("588848901537202306"), b = row.at("588848901532418163"), c = row.at("588848901532418164");
  EXPECT_EQ(t.at("objid").values<int64_t>()[a], 588848901537202306LL);
  EXPECT_EQ(t.at("name").strings[a], "NGC, 1");
  EXPECT_EQ(t.at("name").strings[b], "say \"hi\"");
  EXPECT_TRUE(std::isnan(t.at("flux").values<double>()[b]));
  EXPECT_DOUBLE_EQ(t.at(mmu::kRa).values<double>()[a], 150.1);
  EXPECT_EQ(t.at(mmu::kHealpix).values<int64_t>()[c], -1);
  EXPECT_FALSE(t.has("RA"));
}

TEST(ImportCsv, BadRowsNameFileLineAndColumnAndLeaveNoOutput) {
  test::TempDir tmp;
  std::ofstream(tmp.path("short.csv")) << "a,b\n1,2\n3\n";
  expect_error([&] { import_csv(tmp.path("short.csv"), target(tmp.path("o"))); }, {"short.csv", "line 3", "1 fields"});
  std::ofstream(tmp.path("dec.csv")) << "ra,dec\n10,95\n";
  expect_error([&] { import_csv(tmp.path("dec.csv"), target(tmp.path("o"))); }, {"dec.csv", "line 2", "dec", "95"});
  std::ofstream(tmp.path("empty.csv")) << "";
  expect_error([&] { import_csv(tmp.path("empty.csv"), target(tmp.path("o"))); }, {"empty.csv", "header"});
  std::ofstream(tmp.path("dup.csv")) << "x,x\n1,2\n";
  expect_error([&] { import_csv(tmp.path("dup.csv"), target(tmp.path("o"))); }, {"dup.csv", "'x' appears twice"});
  std::ofstream(tmp.path("strra.csv")) << "ra,dec\nabc,1\n";
  expect_error([&] { import_csv(tmp.path("strra.csv"), target(tmp.path("o"))); }, {"strra.csv", "'ra'", "numbers"});
  EXPECT_FALSE(fs::exists(tmp.path("o")));
  EXPECT_FALSE(fs::exists(tmp.path("o.partial")));
}

// ---- Images ----------------------------------------------------------------

TEST(ImportImages, ShippedGalaxyZooSampleWithLabels) {
  test::TempDir tmp;
  ImageOptions o;
  o.labels_csv = test::sample_dir() + "/galaxyzoo1_sdss/labels.csv";
  o.size = 64;
  int64_t n = import_images({test::sample_dir() + "/galaxyzoo1_sdss/images"}, target(tmp.path("o")), o);
  EXPECT_EQ(n, 418);
  EXPECT_TRUE(validate_dataset(tmp.path("o")).empty());
  Table t = read_everything(tmp.path("o"));
  Table labels = read_csv_table(o.labels_csv);
  std::map<std::string, int64_t> cls;
  for (int64_t i = 0; i < labels.rows(); ++i)
    cls[std::to_string(labels.at("OBJID").values<int64_t>()[i])] = labels.at("CLASS").values<int64_t>()[i];
  for (int64_t i = 0; i < t.rows(); ++i)
    ASSERT_EQ(t.at("CLASS").values<int64_t>()[i], cls.at(t.at(mmu::kObjectId).strings[i]));
  EXPECT_EQ(t.at(mmu::kImageArray).shape, (std::vector<int64_t>{3, 64, 64}));
  EXPECT_EQ(t.at(mmu::kImageBand).strings[0], "SDSS-I");
}

// Independent reference: Pillow decodes the same JPEG; box-averaging to 47 x 47
// from 423 x 423 is an exact 9 x 9 block mean.
TEST(ImportImages, PixelsMatchPillow) {
  ASTROFM_REQUIRE_PYTHON("PIL numpy");
  test::TempDir tmp;
  std::string img;
  for (const auto& e : fs::directory_iterator(test::sample_dir() + "/galaxyzoo1_sdss/images")) {
    img = e.path().string();
    break;
  }
  ImageOptions o;
  o.size = 47;
  import_images({img}, target(tmp.path("o")), o);
  Table t = read_everything(tmp.path("o"));
  std::string out = test::run_python(R"(
import sys, numpy as np
from PIL import Image
a = np.asarray(Image.open(sys.argv[1]).convert("RGB"), dtype=np.float64) / 255.0
b = a.reshape(47, 9, 47, 9, 3).mean(axis=(1, 3))
for c in range(3):
    print(" ".join(f"{v:.7f}" for v in b[:, :, c].ravel()))
)", img);
  std::istringstream ss(out);
  const auto& v = t.at(mmu::kImageArray).values<float>();
  double worst = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    double want;
    ASSERT_TRUE(ss >> want);
    worst = std::max(worst, std::abs(v[i] - want));
  }
  EXPECT_LT(worst, 1e-5);
}

TEST(ImportImages, CorruptAndTruncatedJpegs) {
  test::TempDir tmp;
  fs::create_directories(tmp.path("imgs"));
  std::ofstream(tmp.path("imgs/bad.jpeg")) << "\xFF\xD8\xFFnot really a jpeg";
  expect_error([&] { import_images({tmp.path("imgs")}, target(tmp.path("o")), {}); }, {"bad.jpeg", "JPEG"});
  std::string src;
  for (const auto& e : fs::directory_iterator(test::sample_dir() + "/galaxyzoo1_sdss/images")) src = e.path().string();
  fs::remove(tmp.path("imgs/bad.jpeg"));
  fs::copy_file(src, tmp.path("imgs/cut.jpeg"));
  fs::resize_file(tmp.path("imgs/cut.jpeg"), fs::file_size(src) / 2);
  expect_error([&] { import_images({tmp.path("imgs")}, target(tmp.path("o")), {}); }, {"cut.jpeg", "truncated"});
  std::ofstream(tmp.path("imgs/cut.jpeg")) << "plain text";
  expect_error([&] { import_images({tmp.path("imgs/cut.jpeg")}, target(tmp.path("o")), {}); }, {"cut.jpeg", "neither a JPEG nor a PNG"});
  EXPECT_FALSE(fs::exists(tmp.path("o")));
}

// ---- FITS cutouts ---------------------------------------------------------

TEST(ImportFitsCutout, LegacySurveyCutoutPositionScaleAndPixels) {
  test::TempDir tmp;
  std::string f = test::sample_dir() + "/legacysurvey_cutout_fixture/test_image.fits";
  FitsCutoutOptions o;
  o.size = 144;
  EXPECT_EQ(import_fits_cutouts({f}, target(tmp.path("o")), o), 1);
  EXPECT_TRUE(validate_dataset(tmp.path("o")).empty());
  Table t = read_everything(tmp.path("o"));
  // The 144-pixel crop keeps the reference pixel (128.5, 128.5) at its centre.
  EXPECT_NEAR(t.at(mmu::kRa).values<double>()[0], 357.9087, 1e-6);
  EXPECT_NEAR(t.at(mmu::kDec).values<double>()[0], -54.8817, 1e-6);
  EXPECT_NEAR(t.at(mmu::kImageScale).values<float>()[0], 0.262, 1e-4);
  EXPECT_EQ(t.at(mmu::kImageBand).strings, (std::vector<std::string>{"DES-G", "DES-R", "DES-Z"}));
  if (test::python_has("astropy numpy")) {
    std::string out = test::run_python(R"(
import sys
from astropy.io import fits
d = fits.getdata(sys.argv[1])
c = d[:, 56:200, 56:200]
print(f"{c.sum():.6e} {c[1, 72, 72]:.7e} {c[2, 0, 143]:.7e}")
)", f);
    double sum = 0;
    for (float v : t.at(mmu::kImageArray).values<float>()) sum += v;
    std::istringstream ss(out);
    double s, p1, p2;
    ss >> s >> p1 >> p2;
    EXPECT_NEAR(sum, s, std::abs(s) * 1e-5);
    EXPECT_FLOAT_EQ(t.at(mmu::kImageArray).values<float>()[1 * 144 * 144 + 72 * 144 + 72], p1);
    EXPECT_FLOAT_EQ(t.at(mmu::kImageArray).values<float>()[2 * 144 * 144 + 0 * 144 + 143], p2);
  }
}

TEST(ImportFitsCutout, FileWithoutImageIsAClearError) {
  test::TempDir tmp;
  std::string rr = test::sample_dir() + "/desi_spectra_fixtures/redrock-4-80613-thru20210324.fits";
  expect_error([&] { import_fits_cutouts({rr}, target(tmp.path("o")), {}); }, {"redrock-4-80613", "no 2-D or 3-D image"});
  std::ofstream(tmp.path("junk.fits")) << "SIMPLE  = nonsense";
  expect_error([&] { import_fits_cutouts({tmp.path("junk.fits")}, target(tmp.path("o")), {}); }, {"junk.fits", "FITS"});
}

// ---- Spectra --------------------------------------------------------------

TEST(ImportDesi, CoaddsWithRedrockRedshifts) {
  test::TempDir tmp;
  std::string d = test::sample_dir() + "/desi_spectra_fixtures/";
  int64_t n = import_desi({d + "coadd-4-80613-thru20210324.fits", d + "coadd-special-dark-27247.fits"}, {}, target(tmp.path("o")));
  EXPECT_EQ(n, 2);
  EXPECT_TRUE(validate_dataset(tmp.path("o")).empty());
  Table t = read_everything(tmp.path("o"));
  std::map<std::string, double> z;
  for (int64_t i = 0; i < t.rows(); ++i) z[t.at(mmu::kObjectId).strings[i]] = t.at("Z").values<double>()[i];
  EXPECT_NEAR(z.at("39633345008634465"), 0.36874, 1e-5);
  EXPECT_EQ(t.at(mmu::kSpectrumFlux).shape, std::vector<int64_t>{7781});
  EXPECT_FLOAT_EQ(t.at(mmu::kSpectrumLambda).values<float>()[7780], 9824.0f);
  // Resolution sigma of DESI: ~0.7-1.0 A (R ~ 2000-5500).
  float lsf = t.at(mmu::kSpectrumLsfSigma).values<float>()[3000];
  EXPECT_GT(lsf, 0.4f);
  EXPECT_LT(lsf, 1.5f);
}

// Independent reference: the b/r arm overlap combined by inverse variance with astropy.
TEST(ImportDesi, ArmOverlapMatchesInverseVarianceMean) {
  ASTROFM_REQUIRE_PYTHON("astropy numpy");
  test::TempDir tmp;
  std::string f = test::sample_dir() + "/desi_spectra_fixtures/coadd-4-80613-thru20210324.fits";
  import_desi({f}, {}, target(tmp.path("o")));
  Table t = read_everything(tmp.path("o"));
  std::string out = test::run_python(R"(
import sys, numpy as np
from astropy.io import fits
h = fits.open(sys.argv[1])
grid = np.round((np.arange(7781) * 0.8 + 3600) * 10).astype(int)
num = np.zeros(7781); den = np.zeros(7781)
for a in "BRZ":
    w = h[a + "_WAVELENGTH"].data; f = h[a + "_FLUX"].data[0]; iv = h[a + "_IVAR"].data[0] * (h[a + "_MASK"].data[0] == 0)
    k = np.round((w - 3600) / 0.8).astype(int)
    np.add.at(num, k, iv * f); np.add.at(den, k, iv)
flux = np.where(den > 0, num / np.where(den > 0, den, 1), 0)
for k in (10, 2760, 2800, 4900, 5000, 7700):
    print(k, f"{flux[k]:.7e}", f"{den[k]:.7e}")
)", f);
  std::istringstream ss(out);
  int k;
  double flux, ivar;
  int checked = 0;
  while (ss >> k >> flux >> ivar) {
    EXPECT_NEAR(t.at(mmu::kSpectrumFlux).values<float>()[k], flux, 1e-5 * std::max(1.0, std::abs(flux))) << k;
    EXPECT_NEAR(t.at(mmu::kSpectrumIvar).values<float>()[k], ivar, 1e-5 * std::max(1.0, std::abs(ivar))) << k;
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(ImportDesi, WrongKindOfFile) {
  test::TempDir tmp;
  std::string sp = test::sample_dir() + "/boss_spplate_fixture/spPlate-4055-55359-0020.fits";
  expect_error([&] { import_desi({sp}, {}, target(tmp.path("o"))); }, {"spPlate-4055", "FIBERMAP"});
  EXPECT_FALSE(fs::exists(tmp.path("o")));
}

TEST(ImportSdss, SpPlateLogLambdaGrid) {
  test::TempDir tmp;
  std::string f = test::sample_dir() + "/boss_spplate_fixture/spPlate-4055-55359-0020.fits";
  EXPECT_EQ(import_sdss_spplate({f}, target(tmp.path("o"))), 20);
  EXPECT_TRUE(validate_dataset(tmp.path("o")).empty());
  Table t = read_everything(tmp.path("o"));
  EXPECT_EQ(t.at(mmu::kSpectrumFlux).shape, std::vector<int64_t>{4637});
  EXPECT_NEAR(t.at(mmu::kSpectrumLambda).values<float>()[0], std::pow(10.0, 3.5529), 1e-3);
  EXPECT_NEAR(t.at(mmu::kSpectrumLambda).values<float>()[4636], std::pow(10.0, 3.5529 + 4636e-4), 1e-2);
  EXPECT_FLOAT_EQ(t.at(mmu::kSpectrumFlux).values<float>()[0], 15.354534f);
  EXPECT_EQ(t.at(mmu::kObjectId).strings[0], "4055-55359-0001");
}

TEST(ImportSdss, WrongKindOfFile) {
  test::TempDir tmp;
  std::string f = test::sample_dir() + "/desi_spectra_fixtures/redrock-4-80613-thru20210324.fits";
  expect_error([&] { import_sdss_spplate({f}, target(tmp.path("o"))); }, {"redrock-4-80613", "2-D"});
}

// ---- Every real set in ../shared/data ---------------------------------------

TEST(SharedData, EveryRealSetImports) {
  ASTROFM_REQUIRE_SHARED();
  std::string d = *test::shared_dir();
  test::TempDir tmp;
  EXPECT_EQ(import_csv(d + "/boss_dr10_photoz/galaxies.csv", target(tmp.path("boss"))), 22216);
  ImageOptions io;
  io.labels_csv = d + "/galaxyzoo1_sdss/labels.csv";
  io.size = 64;
  EXPECT_EQ(import_images({d + "/galaxyzoo1_sdss/images"}, target(tmp.path("gz")), io), 5006);
  std::vector<std::string> coadds;
  for (const auto& e : fs::directory_iterator(d + "/desi_spectra_fixtures"))
    if (e.path().filename().string().rfind("coadd-", 0) == 0) coadds.push_back(e.path().string());
  EXPECT_EQ(import_desi(coadds, {}, target(tmp.path("desi"))), static_cast<int64_t>(coadds.size()));
  EXPECT_EQ(import_fits_cutouts({d + "/legacysurvey_cutout_fixture/test_image.fits"}, target(tmp.path("ls")), {}), 1);
  EXPECT_EQ(import_sdss_spplate({d + "/boss_spplate_fixture/spPlate-4055-55359-0020.fits"}, target(tmp.path("sdss"))), 20);
  for (const char* s : {"boss", "gz", "desi", "ls", "sdss"}) EXPECT_TRUE(validate_dataset(tmp.path(s)).empty()) << s;
}

}  // namespace
}  // namespace astrofm
