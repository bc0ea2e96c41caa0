// Every modality of the table along its whole path: its columns built
// (columns.h, as the importers and the simulator build them), written as an
// MMU dataset and validated, read back unchanged, prepared and embedded by
// the shipped encoders, tokenized and decoded by the shipped codecs.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "astrofm/codecs.h"
#include "codecs/codec_table.h"
#include "astrofm/columns.h"
#include "astrofm/encoder.h"
#include "astrofm/mmu.h"
#include "astrofm/modality.h"
#include "astrofm/validate.h"
#include "testutil.h"

namespace astrofm {
namespace {

Table every_modality(int64_t n) {
  Table t;
  std::vector<std::string> ids;
  std::vector<double> ra, dec;
  std::vector<float> flux_g;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back("rt-" + std::to_string(i));
    ra.push_back(150.0 + 0.01 * i), dec.push_back(2.0 + 0.01 * i), flux_g.push_back(2.0f + 3.0f * i);
  }
  t.add(make_string_column(mmu::kObjectId, ids));
  t.add(make_column(mmu::kRa, ra));
  t.add(make_column(mmu::kDec, dec));
  // Image: a galaxy-like blob in Legacy Survey g, r, z flux with its noise model.
  const int side = 72;
  ImageColumns img(n, 3, side, side);
  for (int64_t i = 0; i < n; ++i) {
    img.set_meta(i, {"DES-G", "DES-R", "DES-Z"}, {1.3f, 1.2f, 1.1f}, {0.262f, 0.262f, 0.262f});
    for (int b = 0; b < 3; ++b)
      for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x) {
          double r2 = (x - side / 2.0) * (x - side / 2.0) + (y - side / 2.0) * (y - side / 2.0);
          size_t k = (static_cast<size_t>(b) * side + y) * side + x;
          img.flux(i)[k] = static_cast<float>((0.5 + b + i) * std::exp(-r2 / (2 * (3.0 + i) * (3.0 + i))) + 0.01 * std::sin(k));
          img.inv_var(i)[k] = 400.f;
          img.masked(i)[k] = 0;
        }
  }
  img.move_into(t);
  // Spectrum: a continuum with an emission line, on a 2 A grid.
  const int64_t len = 3000;
  SpectrumColumns sp(n, len);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < len; ++k) {
      float lam = 3600.f + 2.f * static_cast<float>(k);
      sp.lam(i)[k] = lam;
      sp.f(i)[k] = 5.f + 0.5f * static_cast<float>(i) + 20.f * std::exp(-std::pow((lam - 6563.f * (1.f + 0.1f * i)) / 4.f, 2.f));
      sp.iv(i)[k] = 1.f, sp.m(i)[k] = 0, sp.lsf(i)[k] = 1.f;
    }
  sp.move_into(t);
  // A scalar modality: any numeric catalogue column.
  t.add(make_column("FLUX_G", flux_g));
  // Catalog: three neighbouring detections per object, the last slot empty (9999).
  for (const char* k : {"X", "Y", "SHAPE_E1", "SHAPE_E2", "SHAPE_R"}) {
    std::vector<double> v;
    for (int64_t i = 0; i < n; ++i) v.insert(v.end(), {10.0 + i, 40.0 + (k[0] == 'Y' ? 5 : 0), 9999.0});
    if (k[0] == 'S') std::fill(v.begin(), v.end(), 0.2), v[2] = 9999.0;
    t.add(make_column<double>(std::string("catalog_") + k, v, {3}));
  }
  // Segmentation map: a disc on a 100 px field, its edge outside the codec's 96 px crop.
  std::vector<float> seg;
  for (int64_t i = 0; i < n; ++i)
    for (int y = 0; y < 100; ++y)
      for (int x = 0; x < 100; ++x) seg.push_back((x - 50) * (x - 50) + (y - 50) * (y - 50) < (10 + 3 * i) * (10 + 3 * i) ? 1.f : 0.f);
  t.add(make_column<float>("segmentation_map", seg, {100, 100}));
  return t;
}

TEST(Modalities, EveryModalityRoundTripsThroughBuildValidatePrepareAndCodec) {
  test::TempDir tmp;
  const int64_t n = 4;
  Table built = every_modality(n);
  {
    DatasetWriter w(tmp.path("ds"), "all");
    w.append(built);
    w.commit();
  }
  auto violations = validate_dataset(tmp.path("ds"));
  EXPECT_TRUE(violations.empty()) << violations.front().column << ": " << violations.front().reason;

  // The dataset holds every modality of the table, with each one's columns as built.
  Dataset ds = Dataset::open(tmp.path("ds"));
  std::vector<std::string> names;
  for (const auto& c : ds.schema()) names.push_back(c.name);
  std::map<std::string, Modality> found;
  for (const auto& m : modalities_in(names, ds.schema())) found.emplace(m.name, m);
  for (const auto& m : modality_table()) ASSERT_TRUE(found.count(m.name)) << m.name;
  ASSERT_TRUE(found.count("FLUX_G"));
  Table back = read_table(tmp.path("ds"));
  ASSERT_EQ(back.rows(), n);
  std::vector<int64_t> order(n);  // rows come back by sky partition: match them by id
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (back.at(mmu::kObjectId).strings[j] == built.at(mmu::kObjectId).strings[i]) order[i] = j;
  back = back.take(order);
  for (const auto& [name, m] : found)
    for (const auto& col : m.column_names()) {
      if (!built.has(col)) continue;  // optional columns the builders leave out
      const Column& a = built.at(col);
      const Column& b = back.at(col);
      ASSERT_TRUE(a.same_layout(b)) << col << ": " << a.describe() << " vs " << b.describe();
      if (a.dtype == DType::String) EXPECT_EQ(a.strings, b.strings) << col;
      else EXPECT_EQ(a.data, b.data) << col;
    }

  // Prepared and embedded by the shipped encoders: the image by the CNN, both by AstroCLIP's towers.
  Table e = Encoder("galaxy-cnn-ssl").embed(back);
  ASSERT_TRUE(e.has(found.at("image").embedding_column()));
  Table e2 = Encoder("clip-sim").embed(back);
  for (const char* m : {"image", "spectrum"}) {
    const Column& c = e2.at(found.at(m).embedding_column());
    ASSERT_EQ(c.rows, n) << m;
    for (float v : c.values<float>()) ASSERT_TRUE(std::isfinite(v)) << m;
  }

  // Tokenized and decoded by the shipped codecs, each back to its own columns.
  // (the catalog codec from an AION-layout state dict: none is shipped).
  auto set = codecs::CodecSet::load({"codec-image", "codec-spectrum", "codecs-scalar"});
  codecs::StateDict sd;
  for (const char* k : {"SHAPE_E1", "SHAPE_E2", "SHAPE_R"}) {
    sd[fmt::format("_quantizer.quantizers.{}._reservoir", k)] = torch::linspace(-1, 1, 100);
    sd[fmt::format("_quantizer.quantizers.{}._index_to_val", k)] = torch::linspace(-1, 1, 16);
  }
  set.add(codecs::codec_table().for_convert_kind("aion-codec-catalog")->convert("aion-codec-catalog", sd, {{"length", 3}}, "catalog.pt"));
  torch::manual_seed(0);
  nlohmann::json field = codecs::codec_table().at("field").default_config();
  field["encoder_output_dim"] = field["decoder_input_dim"] = 8, field["res_hidden_dims"] = 4;
  set.add(codecs::make_field_codec(field));
  for (const std::string m : {"image", "spectrum", "FLUX_G", "catalog", "segmentation_map"}) {
    const auto& codec = set.at(m);
    EXPECT_EQ(codec.info().modality_kind(), found.at(m).kind) << m;
    Column tok = codec.encode(back, m);
    ASSERT_EQ(tok.rows, n) << m;
    EXPECT_EQ(tok.row_elems(), codec.info().num_tokens) << m;
    Table dec = codec.decode(tok, back, m);
    ASSERT_TRUE(dec.has(found.at(m).main_column())) << m;
    EXPECT_EQ(dec.at(found.at(m).main_column()).rows, n) << m;
  }
  // A scalar comes back within its bin: the shipped FLUX_G codec's log bins.
  Table dg = set.at("FLUX_G").decode(set.at("FLUX_G").encode(back, "FLUX_G"), back, "FLUX_G");
  for (int64_t i = 0; i < n; ++i)
    EXPECT_NEAR(std::log(dg.at("FLUX_G").as_double(i)), std::log(back.at("FLUX_G").as_double(i)), 0.05) << i;
  // Catalog positions come back exactly, the empty slot as missing.
  Table dc = set.at("catalog").decode(set.at("catalog").encode(back, "catalog"), back, "catalog");
  EXPECT_EQ(dc.at("catalog_X").values<double>()[3], 11.0);
  EXPECT_TRUE(std::isnan(dc.at("catalog_X").values<double>()[5]));
  // A segmentation map comes back as the codec's central 96 x 96, within [0, 1].
  Table ds2 = set.at("segmentation_map").decode(set.at("segmentation_map").encode(back, "seg"), back, "seg");
  const Column& sm = ds2.at("segmentation_map");
  EXPECT_EQ(sm.shape, (std::vector<int64_t>{96, 96}));
  for (float v : sm.values<float>()) ASSERT_TRUE(v >= 0 && v <= 1) << v;
}

}  // namespace
}  // namespace astrofm
