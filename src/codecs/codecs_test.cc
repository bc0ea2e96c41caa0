// Codecs: scalar fitting and quantisation bounds, save/load round trips of
// every kind, tokenize/detokenize jobs, mixed band sets, and bad input.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "astrofm/codecs.h"
#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/hash.h"
#include "astrofm/mmu.h"
#include "astrofm/sim.h"
#include "codecs/codec_table.h"
#include "codecs/image_codec.h"
#include "codecs/spectrum_codec.h"
#include "testutil.h"

namespace astrofm::codecs {
namespace fs = std::filesystem;
namespace {

std::string sim(const std::string& dir, const std::string& imaging, int64_t n, bool spectra, uint64_t seed = 3) {
  SimOptions o;
  o.objects = n;
  o.seed = seed;
  o.image_size = 40;
  o.imaging = imaging;
  o.spectra = spectra;
  o.spectrum_step = 4.0;
  o.threads = 2;
  o.config = "sim_" + imaging;
  std::string root = dir + "/" + imaging + (spectra ? "_spec" : "");
  simulate_survey(root, o);
  return root;
}

ImageConfig tiny_image() {
  ImageConfig c = ImageConfig::defaults();
  c.crop = 32, c.hidden_dims = 16, c.n_compressions = 2, c.num_consecutive = 1, c.projection_dims = 17;
  return c;
}

SpectrumConfig tiny_spectrum() {
  SpectrumConfig c;
  c.resolution = 8, c.num_pixels = 896, c.encoder_depths = {1, 1}, c.encoder_dims = {8, 16}, c.decoder_depths = {1, 1};
  c.decoder_dims = {8, 1}, c.latent_channels = 16;
  return c;
}

Table first_rows(const std::string& root, int64_t n) { return read_table(root).slice(0, n); }

TEST(ScalarCodec, FittedCodebookBoundsTheErrorByTheBinWidthAndKeepsMissingApart) {
  test::TempDir tmp;
  std::string data = sim(tmp.path(), "legacy", 600, false);
  ScalarFitOptions o;
  o.data = {data};
  o.columns = {"FLUX_R", "MAG_G:linear", "Z", "TEMPLATE_WEIGHTS:arcsinh"};
  o.bins = 64;
  o.reservoir = 300;
  o.out = tmp.path() + "/scalars.afm";
  fit_scalar_codecs(o);
  CodecSet s = CodecSet::load({o.out});
  EXPECT_EQ(s.modalities(), (std::vector<std::string>{"FLUX_R", "MAG_G", "TEMPLATE_WEIGHTS", "Z"}));
  EXPECT_EQ(s.at("FLUX_R").info().config["transform"], "log");  // AION's choice for fluxes
  EXPECT_EQ(s.at("Z").info().kind, "scalar-grid");
  EXPECT_EQ(s.at("TEMPLATE_WEIGHTS").info().num_tokens, 6);
  Table t = first_rows(data, 200);
  t.at("MAG_G").ptr<double>()[3] = NAN;  // a missing value
  for (const auto& m : s.modalities()) {
    const Codec& c = s.at(m);
    Column tok = c.encode(t, "test");
    ASSERT_EQ(tok.name, "tok_" + m);
    ASSERT_EQ(tok.shape, std::vector<int64_t>{c.info().num_tokens});
    Table back = c.decode(tok, {}, "test");
    const Column& v = t.at(m);
    const Column& r = back.at(m);
    for (int64_t i = 0; i < v.rows * v.row_elems(); ++i) {
      int32_t k = tok.ptr<int32_t>()[i];
      if (!std::isfinite(v.as_double(i))) {
        EXPECT_EQ(k, kMissing);
        EXPECT_TRUE(std::isnan(r.as_double(i)));
        continue;
      }
      ASSERT_GE(k, 0);
      ASSERT_LT(k, c.info().vocab_size);
      if (k > 0 && k < c.info().vocab_size - 1 && c.info().kind == "scalar") {
        // A value in bin k lies between the decoded values of bins k-1 and k.
        Column lo = tok;
        lo.ptr<int32_t>()[i] = k - 1;
        double lower = c.decode(lo, {}, "test").at(m).as_double(i);
        EXPECT_LE(lower, v.as_double(i) * (1 + 1e-6) + 1e-9) << m << " row " << i;
        EXPECT_GE(r.as_double(i), v.as_double(i) * (1 - 1e-6) - 1e-9) << m << " row " << i;
      }
    }
  }
  // Tokens out of the vocabulary are one clear error.
  Column bad = s.at("MAG_G").encode(t, "test");
  bad.ptr<int32_t>()[0] = 64;
  EXPECT_THROW(
      {
        try {
          s.at("MAG_G").decode(bad, {}, "tokens.h5");
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("outside the codec's vocabulary 0..63"), std::string::npos) << e.what();
          throw;
        }
      },
      InputError);
}

TEST(ImageCodec, SavesReloadsTokenizesBothSurveysAndRejectsUnknownBands) {
  test::TempDir tmp;
  torch::manual_seed(1);
  std::string ls = sim(tmp.path(), "legacy", 6, false), hsc = sim(tmp.path(), "hsc", 6, false);
  Table tl = read_table(ls), th = read_table(hsc);
  EXPECT_EQ(th.at(mmu::kImageBand).strings[0], "HSC-G");
  EXPECT_EQ(th.at(mmu::kImageArray).shape[0], 5);
  CodecSet s;
  s.add(make_image_codec(ImageNet(tiny_image())));
  std::string path = tmp.path() + "/image.afm";
  s.save(path);
  CodecSet r = CodecSet::load({path});
  const Codec& a = s.at("image");
  const Codec& b = r.at("image");
  EXPECT_EQ(b.info().num_tokens, 64);
  EXPECT_EQ(b.info().vocab_size, 4375);
  for (const Table* t : {&tl, &th}) {
    Column ta = a.encode(*t, "test"), tb = b.encode(*t, "test");
    ASSERT_EQ(ta.data, tb.data);  // the reloaded codec is the same codec
    for (int32_t v : ta.values<int32_t>()) ASSERT_TRUE(v >= 0 && v < 4375);
    Table ctx;
    ctx.add(t->at(mmu::kImageBand));
    Table dec = b.decode(tb, ctx, "test");
    EXPECT_EQ(dec.at(mmu::kImageArray).shape, (std::vector<int64_t>{t->at(mmu::kImageArray).shape[0], 32, 32}));
    EXPECT_EQ(dec.at(mmu::kImageBand).strings, t->at(mmu::kImageBand).strings);
  }
  // A band the vocabulary lacks.
  Table bad = tl;
  bad.at(mmu::kImageBand).strings[1] = "HSC-NB921";
  try {
    a.encode(bad, "cutouts.h5");
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cutouts.h5: row 0 band 'HSC-NB921' is not in the image codec's band vocabulary"), std::string::npos)
        << e.what();
  }
}

TEST(SpectrumCodec, RoundTripsAnyGridAndRejectsSpectraOffTheGrid) {
  test::TempDir tmp;
  torch::manual_seed(2);
  std::string data = sim(tmp.path(), "legacy", 4, true);
  CodecSet s;
  s.add(make_spectrum_codec(SpectrumNet(tiny_spectrum())));
  std::string path = tmp.path() + "/spectrum.afm";
  s.save(path);
  CodecSet loaded = CodecSet::load({path});
  const Codec& c = loaded.at("spectrum");
  EXPECT_EQ(c.info().num_tokens, 1 + 896 / 8);
  Table t = read_table(data, {mmu::kObjectId, mmu::kSpectrumFlux, mmu::kSpectrumIvar, mmu::kSpectrumLambda, mmu::kSpectrumMask});
  Column tok = c.encode(t, "test");
  EXPECT_EQ(tok.ptr<int32_t>()[0], s.at("spectrum").encode(t, "test").ptr<int32_t>()[0]);
  Table ctx;
  ctx.add(t.at(mmu::kSpectrumLambda));
  Table d = c.decode(tok, ctx, "test");
  EXPECT_EQ(d.at(mmu::kSpectrumFlux).shape, t.at(mmu::kSpectrumFlux).shape);
  // Shifted beyond the grid's red end (3500 + 8 x 895 A).
  Table off = t;
  for (auto& v : off.at(mmu::kSpectrumLambda).values<float>()) v += 20000;
  try {
    c.encode(off, "desi.fits");
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("outside the codec's wavelength grid"), std::string::npos) << e.what();
  }
}

TEST(Tokenize, WritesTokensAndDecodesBackToMmuColumns) {
  test::TempDir tmp;
  torch::manual_seed(3);
  std::string data = sim(tmp.path(), "legacy", 10, true);
  CodecSet s;
  s.add(make_image_codec(ImageNet(tiny_image())));
  s.add(make_spectrum_codec(SpectrumNet(tiny_spectrum())));
  std::string codecs = tmp.path() + "/codecs.afm";
  s.save(codecs);
  ScalarFitOptions f;
  f.data = {data}, f.columns = {"FLUX_G", "Z"}, f.bins = 16, f.reservoir = 50, f.out = tmp.path() + "/scalars.afm";
  fit_scalar_codecs(f);
  TokenizeOptions o;
  o.codecs = {codecs, f.out};
  o.data = {data};
  o.out = tmp.path() + "/tokens";
  o.batch = 4;
  auto r = tokenize(o);
  EXPECT_EQ(r.objects, 10);
  Table t = read_table(o.out);
  ASSERT_TRUE(t.has("tok_image") && t.has("tok_spectrum") && t.has("tok_FLUX_G") && t.has("tok_Z") && t.has("codec_image_band"));
  EXPECT_FALSE(t.has(mmu::kImageBand));  // a tokens dataset holds no image modality
  EXPECT_EQ(t.at("tok_image").dtype, DType::Int32);
  // The same tokens as encoding in memory.
  Table src = read_table(data);
  EXPECT_EQ(t.at("tok_spectrum").data, s.at("spectrum").encode(src, "x").data);
  DetokenizeOptions d;
  d.codecs = o.codecs, d.data = o.out, d.out = tmp.path() + "/decoded";
  detokenize(d);
  Table back = read_table(d.out);
  EXPECT_EQ(back.at(mmu::kImageArray).shape, (std::vector<int64_t>{3, 32, 32}));
  EXPECT_TRUE(back.has(mmu::kSpectrumFlux) && back.has("FLUX_G") && back.has("Z"));
  // A codec file of another modality: nothing to tokenize; tokens without a codec: not found.
  TokenizeOptions wrong = o;
  wrong.codecs = {f.out};
  wrong.modalities = {"image"};
  wrong.out = tmp.path() + "/wrong";
  EXPECT_THROW(tokenize(wrong), InputError);
  DetokenizeOptions nod = d;
  nod.codecs = {f.out}, nod.out = tmp.path() + "/nod";
  try {
    detokenize(nod);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_NE(std::string(e.what()).find("no codec for modality 'image'"), std::string::npos) << e.what();
  }
}

TEST(Tokenize, SplitsKeepsFewLabelsAndNamesTokensBySurvey) {
  test::TempDir tmp;
  torch::manual_seed(4);
  std::string data = sim(tmp.path(), "hsc", 40, false, 9);
  CodecSet s;
  s.add(make_image_codec(ImageNet(tiny_image())));
  std::string codecs = tmp.path() + "/codecs.afm";
  s.save(codecs);
  ScalarFitOptions f;
  f.data = {data}, f.columns = {"Z"}, f.bins = 16, f.reservoir = 50, f.out = tmp.path() + "/scalars.afm";
  fit_scalar_codecs(f);
  TokenizeOptions o;
  o.codecs = {codecs, f.out}, o.data = {data}, o.batch = 7;
  o.names = {{"image", "image_hsc"}};
  o.keep = {{"Z", 5}};
  o.split = "train";
  o.out = tmp.path() + "/train";
  auto tr = tokenize(o);
  o.split = "test", o.keep.clear(), o.out = tmp.path() + "/test";
  auto te = tokenize(o);
  // The two splits partition the objects by the probes' object_id hash.
  EXPECT_EQ(tr.objects + te.objects, 40);
  EXPECT_GT(te.objects, 0);
  Table a = read_table(tmp.path() + "/train"), b = read_table(tmp.path() + "/test");
  for (const auto& id : a.at(mmu::kObjectId).strings) EXPECT_FALSE(in_fixed_test_split(id)) << id;
  for (const auto& id : b.at(mmu::kObjectId).strings) EXPECT_TRUE(in_fixed_test_split(id)) << id;
  // Survey-named image tokens, resolved to the image codec.
  ASSERT_TRUE(a.has("tok_image_hsc") && !a.has("tok_image"));
  CodecSet loaded = CodecSet::load(o.codecs);
  ASSERT_NE(loaded.find("image_hsc"), nullptr);
  EXPECT_EQ(loaded.find("image_hsc")->info().modality, "image");
  EXPECT_EQ(loaded.find("FLUX_G"), nullptr);
  // Z kept for exactly 5 training objects, missing for the others; all test objects keep it.
  int64_t kept = 0;
  for (int64_t i = 0; i < a.rows(); ++i) kept += a.at("tok_Z").as_int64(i) != kMissing;
  EXPECT_EQ(kept, 5);
  for (int64_t i = 0; i < b.rows(); ++i) EXPECT_NE(b.at("tok_Z").as_int64(i), kMissing);
  // The same 5 whatever the batching.
  TokenizeOptions again = o;
  again.split = "train", again.keep = {{"Z", 5}}, again.batch = 64, again.out = tmp.path() + "/again";
  tokenize(again);
  EXPECT_EQ(read_table(again.out).at("tok_Z").data, a.at("tok_Z").data);
  // A name that is not the modality's own or a survey's: a usage error, no output.
  TokenizeOptions bad = o;
  bad.names = {{"image", "spectrum"}}, bad.out = tmp.path() + "/bad";
  try {
    tokenize(bad);
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--as image=spectrum: the name must be image or image_<survey>"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(bad.out));
}

TEST(CodecFile, DamagedHeadersAndTensorsAreInputErrors) {
  test::TempDir tmp;
  CodecSet s;
  s.add(make_image_codec(ImageNet(tiny_image())));
  std::string good = tmp.path() + "/image.afm";
  s.save(good);
  auto damaged = [&](const std::string& name, auto edit) {
    ModelFile f = ModelFile::read(good);
    ModelFile copy;
    copy.meta = f.meta;
    for (const auto& t : f.tensors) {
      StoredTensor c = t;
      auto b = t.bytes();
      c.set_bytes(std::vector<uint8_t>(b.begin(), b.end()));
      copy.tensors.push_back(c);
    }
    edit(copy);
    std::string p = tmp.path() + "/" + name + ".afm";
    copy.write(p);
    return p;
  };
  std::vector<std::string> bad = {
      damaged("levels", [](ModelFile& f) { f.meta["parts"]["image"]["config"]["levels"] = "seven"; }),
      damaged("kind", [](ModelFile& f) { f.meta["parts"]["image"]["architecture"] = "hologram"; }),
      damaged("nomodality", [](ModelFile& f) { f.meta["parts"]["image"].erase("modality"); }),
      damaged("crop", [](ModelFile& f) { f.meta["parts"]["image"]["config"]["crop"] = 30; }),
      damaged("shape", [](ModelFile& f) {
        for (auto& t : f.tensors)
          if (t.name == "image.pre_quant_proj.bias") t.shape = {4}, t.set_bytes(std::vector<uint8_t>(16, 0));
      }),
      damaged("band", [](ModelFile& f) { f.meta["parts"]["image"]["config"]["bands"][0]["name"] = "XYZ-Q"; }),
  };
  for (const auto& p : bad) EXPECT_THROW(CodecSet::load({p}), InputError) << p;
  // The same copy, undamaged, loads: the errors above are the edits'.
  EXPECT_NO_THROW(CodecSet::load({damaged("control", [](ModelFile&) {})}));
}

}  // namespace
}  // namespace astrofm::codecs

namespace astrofm::codecs {
namespace {

// A codec kind is one file under src/codecs/kinds/: the build lists the
// folder, so every file there is a registered kind with no other edit.
TEST(CodecTable, EveryFileInKindsIsARegisteredKind) {
  auto kinds = codec_table().kinds();
  for (const auto& f : std::filesystem::directory_iterator(std::string(ASTROFM_SOURCE_DIR) + "/src/codecs/kinds")) {
    std::string stem = f.path().stem().string();
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), stem), kinds.end()) << f.path() << " is not a registered codec kind";
  }
  EXPECT_EQ(kinds.size(), 6u);  // catalog, field, image, scalar, scalar-grid, spectrum
}

}  // namespace
}  // namespace astrofm::codecs

namespace astrofm::codecs {
namespace {

// The catalog codec from an AION-layout state dict: positions pass through,
// shapes go to their bins, an entry masked with 9999 (or NaN) is missing in
// all five tokens, offsets keep the keys apart, and decoding gives the
// positions back exactly and the shapes to within a bin.
TEST(CatalogCodec, TokensKeepKeysApartAndMaskedEntriesMissing) {
  torch::manual_seed(3);
  StateDict sd;
  for (const char* k : {"SHAPE_E1", "SHAPE_E2", "SHAPE_R"}) {
    auto res = torch::randn({2000});
    sd[fmt::format("_quantizer.quantizers.{}._reservoir", k)] = res;
    sd[fmt::format("_quantizer.quantizers.{}._index_to_val", k)] = std::get<0>(res.sort()).index_select(0, torch::linspace(0, 1999, 64).to(torch::kLong));
  }
  const CodecSpec* spec = codec_table().for_convert_kind("aion-codec-catalog");
  ASSERT_NE(spec, nullptr);
  auto codec = spec->convert("aion-codec-catalog", sd, {{"length", 3}}, "catalog.pt");
  EXPECT_EQ(codec->info().num_tokens, 15);
  EXPECT_EQ(codec->info().vocab_size, 96 * 2 + 64 * 3);
  Table t;
  t.add(make_column<double>("catalog_X", {10, 95, 9999, 0, 4, 7}, {3}));
  t.add(make_column<double>("catalog_Y", {20, 0, 9999, 1, 5, 8}, {3}));
  t.add(make_column<double>("catalog_SHAPE_E1", {0.1, -2, 9999, 0.3, NAN, 0.5}, {3}));
  t.add(make_column<double>("catalog_SHAPE_E2", {0.0, 2, 9999, 0.3, 0.4, 0.5}, {3}));
  t.add(make_column<double>("catalog_SHAPE_R", {-0.5, 0.2, 9999, 0.3, 0.4, 0.5}, {3}));
  Column tok = codec->encode(t, "test");
  ASSERT_EQ(tok.rows, 2);
  auto v = tok.values<int32_t>();
  EXPECT_EQ(v[0], 10);
  EXPECT_EQ(v[1], 96 + 20);
  EXPECT_GE(v[2], 192);
  EXPECT_LT(v[2], 192 + 64);
  EXPECT_GE(v[4], 192 + 128);
  for (int k = 10; k < 15; ++k) EXPECT_EQ(v[k], kMissing) << k;       // the 9999 entry
  for (int k = 15 + 5; k < 15 + 10; ++k) EXPECT_EQ(v[k], kMissing) << k;  // the NaN shape
  Table back = codec->decode(tok, {}, "test");
  EXPECT_EQ(back.at("catalog_X").values<double>()[1], 95);
  EXPECT_TRUE(std::isnan(back.at("catalog_X").values<double>()[2]));
  EXPECT_NEAR(back.at("catalog_SHAPE_E1").values<double>()[0], 0.1, 0.25);
  // Through a codec file and back: the same tokens.
  CodecSet set;
  set.add(codec);
  test::TempDir tmp;
  set.save(tmp.path("catalog.afm"));
  auto again = CodecSet::load({tmp.path("catalog.afm")});
  Column tok2 = again.at("catalog").encode(t, "test");
  EXPECT_EQ(std::vector<int32_t>(tok2.values<int32_t>().begin(), tok2.values<int32_t>().end()),
            std::vector<int32_t>(v.begin(), v.end()));
  // A position off the cutout's pixels, and a list of another length, are named.
  t.at("catalog_X").ptr<double>()[0] = 96;
  EXPECT_THROW(codec->encode(t, "test"), InputError);
  Table short_list;
  for (const char* k : {"X", "Y", "SHAPE_E1", "SHAPE_E2", "SHAPE_R"}) short_list.add(make_column<double>(std::string("catalog_") + k, {1, 2}, {2}));
  try {
    codec->encode(short_list, "cat.h5");
    ADD_FAILURE() << "a 2-entry list encoded by a 3-entry codec";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cat.h5: column catalog_X has 2 entries per object; the catalog codec takes 3"), std::string::npos) << e.what();
  }
}

// The segmentation-map codec: 144 tokens of 1,000 values from the central
// 96 px (what lies outside the crop changes nothing), a map with nothing
// finite is missing, decoding gives [0, 1] maps, and a codec file gives the
// same tokens back. AION parity: tests/aion/codec_parity.py.
TEST(FieldCodec, CropsToTheCentreAndMarksEmptyMapsMissing) {
  torch::manual_seed(4);
  nlohmann::json cfg = codec_table().at("field").default_config();
  cfg["encoder_output_dim"] = cfg["decoder_input_dim"] = 8, cfg["res_hidden_dims"] = 4;
  auto codec = make_field_codec(cfg);
  EXPECT_EQ(codec->info().num_tokens, 144);
  EXPECT_EQ(codec->info().vocab_size, 1000);
  EXPECT_EQ(codec->info().modality_kind(), ModalityKind::Field);
  std::vector<float> m(3 * 100 * 100, 0.f);
  for (int y = 0; y < 100; ++y)
    for (int x = 0; x < 100; ++x) {
      const bool in = (x - 45) * (x - 45) + (y - 52) * (y - 52) < 300;
      m[y * 100 + x] = in, m[2 * 10000 + y * 100 + x] = in;
      m[10000 + y * 100 + x] = NAN;                      // nothing observed
      if (x < 2 || y >= 98) m[2 * 10000 + y * 100 + x] = 0.7f;  // outside the crop: ignored
    }
  Table t;
  t.add(make_column<float>("segmentation_map", m, {100, 100}));
  Column tok = codec->encode(t, "seg.h5");
  ASSERT_EQ(tok.rows, 3);
  auto v = tok.values<int32_t>();
  for (int k = 0; k < 144; ++k) {
    EXPECT_TRUE(v[k] >= 0 && v[k] < 1000) << k;
    EXPECT_EQ(v[144 + k], kMissing) << k;
    EXPECT_EQ(v[288 + k], v[k]) << k;
  }
  Table back = codec->decode(tok, {}, "seg.h5");
  const Column& d = back.at("segmentation_map");
  ASSERT_EQ(d.shape, (std::vector<int64_t>{96, 96}));
  auto dv = d.values<float>();
  for (int k = 0; k < 96 * 96; ++k) {
    ASSERT_TRUE(dv[k] >= 0 && dv[k] <= 1) << k;
    ASSERT_TRUE(std::isnan(dv[96 * 96 + k])) << k;
  }
  CodecSet set;
  set.add(codec);
  test::TempDir tmp;
  set.save(tmp.path("seg.afm"));
  Column again = CodecSet::load({tmp.path("seg.afm")}).at("segmentation_map").encode(t, "seg.h5");
  EXPECT_EQ(std::vector<int32_t>(again.values<int32_t>().begin(), again.values<int32_t>().end()), std::vector<int32_t>(v.begin(), v.end()));
  Table small;
  small.add(make_column<float>("segmentation_map", std::vector<float>(90 * 90, 0.f), {90, 90}));
  try {
    codec->encode(small, "seg.h5");
    ADD_FAILURE() << "a 90 px map encoded by a 96 px crop";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("seg.h5: column segmentation_map maps are 90x90 px"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace astrofm::codecs
