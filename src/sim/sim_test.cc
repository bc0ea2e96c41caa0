#include "astrofm/sim.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "astrofm/bands.h"
#include "astrofm/importers.h"
#include "astrofm/modality.h"
#include "testutil.h"

namespace astrofm {
namespace {

SimOptions fast_options(int64_t n) {
  SimOptions o;
  o.objects = n;
  o.images = false;
  o.spectra = false;
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[v.size() / 2];
}

// The shared data README's sanity check, computed independently (speclite):
// CWW E at z = 0.3 through the SDSS curves gives g-r 1.69 and r-i 0.57.
TEST(Sim, EllipticalTemplateColoursMatchTheReference) {
  std::string d = test::sample_dir();
  Sed e = Sed::load_ascii(d + "/sed_templates/CWW_E_ext.sed");
  Filter g = Filter::load_ecsv(d + "/filters/sdss2010-g.ecsv"), r = Filter::load_ecsv(d + "/filters/sdss2010-r.ecsv"),
         i = Filter::load_ecsv(d + "/filters/sdss2010-i.ecsv");
  auto at_z = [&](double z) { return [&e, z](double l) { return e.at(l / (1 + z)); }; };
  EXPECT_NEAR(ab_magnitude(g, at_z(0.3)) - ab_magnitude(r, at_z(0.3)), 1.69, 0.02);
  EXPECT_NEAR(ab_magnitude(r, at_z(0.3)) - ab_magnitude(i, at_z(0.3)), 0.57, 0.02);
  EXPECT_NEAR(ab_magnitude(r, at_z(0.5)) - ab_magnitude(i, at_z(0.5)), 1.01, 0.02);
}

TEST(Sim, DecamCurveIsReadInNanometres) {
  Filter g = Filter::load_ecsv(test::sample_dir() + "/filters/decam2014-g.ecsv");
  EXPECT_NEAR(g.min_wave(), 3410, 1);  // 341 nm in the file
}

TEST(Sim, LuminosityDistance) {
  // Flat LCDM (70, 0.3), as astropy.cosmology.FlatLambdaCDM(70, 0.3) gives it.
  EXPECT_NEAR(luminosity_distance_mpc(0.5), 2832.9, 1.0);
  EXPECT_NEAR(luminosity_distance_mpc(1.0), 6607.7, 1.0);
}

TEST(Sim, DeterministicForASeedWhateverTheThreads) {
  SimOptions a = fast_options(0);
  a.images = true;
  a.spectra = true;
  a.image_size = 32;
  a.spectrum_step = 4;
  a.threads = 1;
  SimOptions b = a;
  b.threads = 2;
  Table ta = simulate_objects(a, 10, 6), tb = simulate_objects(b, 10, 6);
  Table tc = simulate_objects(a, 12, 2);  // a later start gives the same objects
  for (const auto& c : ta.columns()) {
    EXPECT_EQ(c.data, tb.at(c.name).data) << c.name;
    EXPECT_EQ(c.strings, tb.at(c.name).strings) << c.name;
    Column part = c.take({2, 3});
    EXPECT_EQ(part.data, tc.at(c.name).data) << c.name;
  }
  SimOptions other = a;
  other.seed = 2;
  EXPECT_NE(simulate_objects(other, 10, 6).at("Z").data, ta.at("Z").data);
}

TEST(Sim, ModalitiesComeFromOneSed) {
  SimOptions o = fast_options(0);
  o.images = true;
  o.spectra = true;
  Table t = simulate_objects(o, 0, 40);
  const auto& img = t.at(mmu::kImageArray);
  int64_t px = 64 * 64;
  for (int64_t i = 0; i < t.rows(); ++i) {
    // Image flux summed per band matches the catalogue flux (within noise and stamp truncation).
    for (int b = 0; b < 3; ++b) {
      double sum = 0;
      for (int64_t p = 0; p < px; ++p) sum += img.values<float>()[(i * 3 + b) * px + p];
      double cat = std::pow(10.0, -0.4 * (t.at(std::string("MAG_") + "GRZ"[b]).values<double>()[i] - 22.5));
      double sky = std::pow(10.0, -0.4 * (std::array<double, 3>{24.0, 23.4, 22.5}[b] - 22.5)) / 5 *
                   std::sqrt(px / (4 * M_PI * 4.0));  // generous: noise over the stamp
      EXPECT_NEAR(sum, cat, 0.1 * cat + 3 * sky) << "object " << i << " band " << b;
    }
    // The spectrum through the DECam r curve gives the fibre fraction of the catalogue r flux.
  }
  EXPECT_TRUE(t.has(mmu::kSpectrumFlux));
  EXPECT_TRUE(t.has("TEMPLATE_WEIGHTS"));
  for (int64_t i = 0; i < t.rows(); ++i) {
    double wsum = 0;
    for (int k = 0; k < 6; ++k) wsum += t.at("TEMPLATE_WEIGHTS").values<double>()[i * 6 + k];
    EXPECT_NEAR(wsum, 1.0, 1e-9);
    EXPECT_LE(t.at("MAG_R").values<double>()[i], o.r_mag_limit);
  }
}

TEST(Sim, SpectrumAgreesWithPhotometry) {
  SimOptions o = fast_options(0);
  o.spectra = true;
  Table t = simulate_objects(o, 100, 30);
  Filter r = Filter::load_ecsv(test::sample_dir() + "/filters/decam2014-r.ecsv");
  const auto& lam = t.at(mmu::kSpectrumLambda);
  int64_t n = lam.row_elems();
  std::vector<double> ratio;
  for (int64_t i = 0; i < t.rows(); ++i) {
    const float* l = lam.values<float>().data() + i * n;
    const float* f = t.at(mmu::kSpectrumFlux).values<float>().data() + i * n;
    auto flam = [&](double x) {
      int64_t k = std::clamp<int64_t>(static_cast<int64_t>((x - l[0]) / (l[1] - l[0])), 0, n - 1);
      return 1e-17 * f[k];
    };
    double m_spec = ab_magnitude(r, flam);
    double expect = t.at("MAG_R").values<double>()[i] - 2.5 * std::log10(t.at("FIBER_FRACTION").values<double>()[i]);
    ratio.push_back(m_spec - expect);
  }
  EXPECT_NEAR(median(ratio), 0.0, 0.05);
}

// The colour-redshift relation of simulated red galaxies against the real BOSS
// DR10 galaxies (LOWZ/CMASS, mostly red) in the shipped sample, SDSS bands.
TEST(Sim, RedSequenceColoursMatchBoss) {
  Table boss = read_csv_table(test::sample_dir() + "/boss_dr10_photoz/galaxies.csv");
  SimOptions o = fast_options(0);
  Table t = simulate_objects(o, 0, 1500);
  for (double lo : {0.2, 0.3, 0.4}) {
    std::vector<double> sgr, sri, bgr, bri;
    for (int64_t i = 0; i < t.rows(); ++i) {
      double z = t.at("Z").values<double>()[i];
      if (z < lo || z >= lo + 0.1 || t.at("MORPHOLOGY").values<int64_t>()[i] != 0) continue;
      sgr.push_back(t.at("MAG_SDSS_G").values<double>()[i] - t.at("MAG_SDSS_R").values<double>()[i]);
      sri.push_back(t.at("MAG_SDSS_R").values<double>()[i] - t.at("MAG_SDSS_I").values<double>()[i]);
    }
    for (int64_t i = 0; i < boss.rows(); ++i) {
      double z = boss.at("z").values<double>()[i];
      if (z < lo || z >= lo + 0.1) continue;
      bgr.push_back(boss.at("mag_g").values<double>()[i] - boss.at("mag_r").values<double>()[i]);
      bri.push_back(boss.at("mag_r").values<double>()[i] - boss.at("mag_i").values<double>()[i]);
    }
    ASSERT_GT(sgr.size(), 10u) << lo;
    EXPECT_NEAR(median(sgr), median(bgr), 0.15) << "g-r at z " << lo;
    EXPECT_NEAR(median(sri), median(bri), 0.15) << "r-i at z " << lo;
  }
}

TEST(Sim, SurveyStreamsResumesAndValidates) {
  test::TempDir tmp;
  SimOptions o = fast_options(300);
  o.checkpoint_every = 100;
  EXPECT_EQ(simulate_survey(tmp.path("s"), o), 300);
  Dataset ds = Dataset::open(tmp.path("s"));
  EXPECT_EQ(ds.rows(), 300);
  // A run resumed from a checkpoint gives the same dataset as one straight run.
  SimOptions r = o;
  r.write.resume = true;
  EXPECT_EQ(simulate_survey(tmp.path("s2"), r), 300);  // nothing to resume: starts fresh
  EXPECT_EQ(Dataset::open(tmp.path("s2")).rows(), 300);
  EXPECT_THROW(simulate_survey(tmp.path("s"), o), InputError);  // exists
  EXPECT_THROW(simulate_survey(tmp.path("s"), r), InputError);  // exists, nothing to resume
}

TEST(Sim, BadOptions) {
  SimOptions o = fast_options(5);
  o.region = {10, 5, 0, 1};
  EXPECT_THROW(simulate_objects(o, 0, 1), UsageError);
  o = fast_options(5);
  o.data_dir = "/nonexistent";
  EXPECT_THROW(simulate_objects(o, 0, 1), InputError);
}

}  // namespace
}  // namespace astrofm

namespace astrofm {
TEST(Bands, PivotWavelengthsMatchTheFilterCurves) {
  // The band table's pivot wavelengths, recomputed from the shipped curves.
  for (const auto& b : band_table()) {
    Filter f = Filter::load_ecsv(test::sample_dir() + "/filters/" + b.curve + ".ecsv");
    double num = 0, den = 0;
    for (size_t j = 0; j + 1 < f.wave.size(); ++j) {
      double dl = f.wave[j + 1] - f.wave[j];
      num += 0.5 * (f.response[j] * f.wave[j] + f.response[j + 1] * f.wave[j + 1]) * dl;
      den += 0.5 * (f.response[j] / f.wave[j] + f.response[j + 1] / f.wave[j + 1]) * dl;
    }
    EXPECT_NEAR(std::sqrt(num / den), b.pivot_angstrom, 1.0) << b.name;
  }
  EXPECT_EQ(band("decam_g", "test").name, "DES-G");
  EXPECT_EQ(band("hsc-y", "test").name, "HSC-Y");
  EXPECT_EQ(survey_bands("HSC").size(), 5u);
  EXPECT_THROW(band("WISE-W1", "test"), InputError);
  EXPECT_EQ(select_bands({"SDSS-I", "SDSS-R", "SDSS-G"}, {"sdss_g", "SDSS-I"}, "t"), (std::vector<int64_t>{2, 0}));
  EXPECT_THROW(select_bands({"DES-G"}, {"DES-Z"}, "t"), InputError);
}

TEST(Modalities, TableAndScalars) {
  auto ms = modalities_in({"object_id", "ra", "dec", "healpix", "image_array", "image_band", "mag_r"},
                          {{"object_id", DType::String}, {"ra", DType::Float64}, {"dec", DType::Float64},
                           {"healpix", DType::Int64}, {"image_array", DType::Float32, {3, 8, 8}},
                           {"image_band", DType::String, {3}}, {"mag_r", DType::Float32}});
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].name, "image");
  EXPECT_EQ(ms[1].name, "mag_r");
  EXPECT_EQ(ms[1].kind, ModalityKind::Scalar);
  EXPECT_EQ(modality("spectrum").main_column(), "spectrum_flux");
  EXPECT_EQ(modality("Z").embedding_column(), "embedding_Z");
}
}  // namespace astrofm
