// Python bindings of the discovery core (discover.h): few-shot ranking,
// anomaly scores, what to label next and ranking metrics, on numpy arrays.
#include <cstring>
#include <optional>

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "astrofm/discover.h"
#include "astrofm/error.h"
#include "astrofm/search.h"

namespace py = pybind11;
using namespace astrofm;

namespace {

using FloatRows = py::array_t<float, py::array::c_style | py::array::forcecast>;

// A [n, d] float32 matrix from any 2-d array; None: n = 0 with dimension d.
Features features(const py::object& a, const char* what, int64_t d_if_none = 0) {
  if (a.is_none()) return {0, d_if_none, {}};
  auto arr = FloatRows::ensure(a);
  if (!arr || arr.ndim() != 2) fail_input("{}: expected a 2-d numeric array [objects, dimensions]", what);
  return {arr.shape(0), arr.shape(1), std::vector<float>(arr.data(), arr.data() + arr.size())};
}

std::vector<int64_t> int_list(const py::object& a) {
  if (a.is_none()) return {};
  auto arr = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!arr || arr.ndim() != 1) fail_input("expected a 1-d array of row numbers");
  return {arr.data(), arr.data() + arr.size()};
}

py::array_t<double> array(const std::vector<double>& v) { return py::array_t<double>(v.size(), v.data()); }

// Cutouts [n, bands, height, width] through a per-cutout core, without the
// GIL; `shape` gets the input's shape.
template <class F>
Features on_cutouts(const py::object& images, const char* what, std::vector<py::ssize_t>& shape, F&& core) {
  auto arr = FloatRows::ensure(images);
  if (!arr || arr.ndim() != 4) fail_input("{}: expected cutouts [n, bands, height, width]", what);
  shape.assign(arr.shape(), arr.shape() + 4);
  Features f{arr.shape(0), arr.shape(1) * arr.shape(2) * arr.shape(3), std::vector<float>(arr.data(), arr.data() + arr.size())};
  py::gil_scoped_release nogil;
  return core(f, shape[1], shape[2], shape[3]);
}

}  // namespace

void bind_discover(py::module_& m) {
  m.def(
      "display_rgb",
      [](const py::object& images, const py::object& bands) {
        auto arr = FloatRows::ensure(images);
        if (!arr || arr.ndim() != 4) fail_input("display_rgb: expected images [n, bands, height, width]");
        const int64_t n = arr.shape(0), c = arr.shape(1), h = arr.shape(2), w = arr.shape(3);
        Column img("image_array", DType::Float32, {c, h, w}, n);
        if (!img.data.empty()) std::memcpy(img.data.data(), arr.data(), img.data.size());
        std::optional<Column> band;
        if (!bands.is_none()) {
          // One list of band names for every row, or one per row.
          auto b = py::module_::import("numpy").attr("asarray")(bands);
          auto flat = b.attr("ravel")().cast<std::vector<std::string>>();
          if (static_cast<int64_t>(flat.size()) == c) {
            std::vector<std::string> all;
            for (int64_t i = 0; i < n; ++i) all.insert(all.end(), flat.begin(), flat.end());
            flat = std::move(all);
          }
          if (static_cast<int64_t>(flat.size()) != n * c)
            fail_input("display_rgb: bands name {} values; expected {} (one per band) or {} (per row)", flat.size(), c, n * c);
          band = make_string_column("image_band", flat, {c});
        }
        py::array_t<float> out({n, h, w, int64_t{3}});
        auto o = out.mutable_unchecked<4>();
        for (int64_t i = 0; i < n; ++i) {
          int64_t hh, ww;
          auto rgb = display_rgb(img, band ? &*band : nullptr, i, hh, ww);
          for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x)
              for (int64_t k = 0; k < 3; ++k) o(i, y, x, k) = rgb[(k * h + y) * w + x];
        }
        return out;
      },
      py::arg("images"), py::arg("bands") = py::none(),
      "The display stretch of the web page and reports: images [n, bands, h, w] (Legacy Survey g, r, z flux by band "
      "name, or 8-bit colour cutouts in [0, 1]) as RGB [n, h, w, 3] in [0, 1], for matplotlib's imshow.");
  m.def(
      "rank_similar",
      [](const py::object& catalogue, const py::object& positives, const py::object& negatives, const py::object& labelled,
         const std::string& method, double C, double negative_weight, double mean_negative_weight, bool standardize, int64_t background, uint64_t seed) {
        auto cat = features(catalogue, "catalogue");
        auto pos = features(positives, "positives", cat.d), neg = features(negatives, "negatives", cat.d);
        auto rows = int_list(labelled);
        SimilarOptions o;
        o.method = method, o.C = C, o.negative_weight = negative_weight, o.mean_negative_weight = mean_negative_weight, o.standardize = standardize, o.background = background, o.seed = seed;
        std::vector<double> s;
        {
          py::gil_scoped_release nogil;
          s = rank_similar(cat, pos, neg, rows, o);
        }
        return array(s);
      },
      py::arg("catalogue"), py::arg("positives"), py::arg("negatives") = py::none(), py::arg("labelled") = py::none(),
      py::arg("method") = "pu", py::arg("C") = SimilarOptions{}.C, py::arg("negative_weight") = SimilarOptions{}.negative_weight,
      py::arg("mean_negative_weight") = SimilarOptions{}.mean_negative_weight,
      py::arg("standardize") = true, py::arg("background") = SimilarOptions{}.background, py::arg("seed") = 0);
  m.def(
      "blend_with_prior",
      [](const std::vector<double>& scores, const std::vector<double>& prior, double weight) { return array(blend_with_prior(scores, prior, weight)); },
      py::arg("scores"), py::arg("prior"), py::arg("weight"));
  m.def(
      "anomaly_scores",
      [](const py::object& x, const std::string& method, int k, bool standardize, const std::string& index, int nprobe) {
        auto f = features(x, "catalogue");
        AnomalyOptions o;
        o.method = method, o.k = k, o.standardize = standardize, o.index.kind = index, o.index.nprobe = nprobe;
        std::vector<double> s;
        {
          py::gil_scoped_release nogil;
          s = anomaly_scores(f, o);
        }
        return array(s);
      },
      py::arg("x"), py::arg("method") = "lof", py::arg("k") = 20, py::arg("standardize") = true, py::arg("index") = "auto",
      py::arg("nprobe") = IndexOptions{}.nprobe);
  m.def(
      "canonical_pixels",
      [](const py::object& images) {
        std::vector<py::ssize_t> shape;
        Features c = on_cutouts(images, "canonical_pixels", shape, canonical_pixels);
        py::array_t<float> out(shape);
        std::copy(c.x.begin(), c.x.end(), out.mutable_data());
        return out;
      },
      py::arg("images"));
  m.def(
      "morphology",
      [](const py::object& images) {
        std::vector<py::ssize_t> shape;
        Features c = on_cutouts(images, "morphology", shape, morphology_features);
        py::array_t<float> out({c.n, c.d});
        std::copy(c.x.begin(), c.x.end(), out.mutable_data());
        return py::make_tuple(out, morphology_names());
      },
      py::arg("images"));
  m.def(
      "next_to_label",
      [](const std::vector<double>& scores, const std::vector<int8_t>& labels, int64_t n, const std::string& acquisition) {
        return next_to_label(scores, labels, n, acquisition);
      },
      py::arg("scores"), py::arg("labels"), py::arg("n"), py::arg("acquisition") = "top");
  m.def(
      "ranking_metrics",
      [](const std::vector<double>& scores, const std::vector<int8_t>& truth) {
        return py::module_::import("json").attr("loads")(ranking_metrics(scores, truth).to_json().dump());
      },
      py::arg("scores"), py::arg("truth"));
}
