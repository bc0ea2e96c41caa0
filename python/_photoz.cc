// Python bindings of the photo-z core (photoz.h) and qp files (qp.h):
// _core.PhotoZ (picklable, for RAIL's model files) and _core.write_qp/read_qp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "astrofm/error.h"
#include "astrofm/metrics.h"
#include "astrofm/photoz.h"
#include "astrofm/qp.h"

namespace py = pybind11;
using namespace astrofm;

namespace {

using FloatRows = py::array_t<float, py::array::c_style | py::array::forcecast>;

// [n, cols] float32 rows from any 2-d array (None: empty).
std::vector<float> rows(const py::object& a, int64_t n, int64_t cols, const char* what) {
  if (a.is_none()) return {};
  auto arr = FloatRows::ensure(a);
  if (!arr) fail_input("{}: expected a numeric array", what);
  if (arr.ndim() == 1 && cols == 1 && arr.shape(0) == n) return {arr.data(), arr.data() + n};
  if (arr.ndim() != 2 || arr.shape(0) != n || arr.shape(1) != cols)
    fail_input("{}: expected shape ({}, {}), got {}-d array of {} rows", what, n, cols, arr.ndim(), arr.ndim() ? arr.shape(0) : 0);
  return {arr.data(), arr.data() + n * cols};
}

PhotozInputs inputs(const PhotozEstimator& e, const py::object& mags, const py::object& errors, const py::object& extra) {
  auto m = FloatRows::ensure(mags);
  if (!m || m.ndim() != 2) fail_input("magnitudes: expected a 2-d array [objects, bands]");
  const auto& o = e.options();
  PhotozInputs x;
  x.n = m.shape(0);
  x.mags = rows(mags, x.n, static_cast<int64_t>(o.bands.size()), "magnitudes");
  if (!o.errors.empty() && errors.is_none()) fail_input("this estimator uses magnitude errors ({} columns); none given", o.errors.size());
  if (!o.errors.empty()) x.errors = rows(errors, x.n, static_cast<int64_t>(o.bands.size()), "magnitude errors");
  if (o.extra) {
    if (extra.is_none()) fail_input("this estimator takes {} extra features per object; none given", o.extra);
    x.extra = rows(extra, x.n, o.extra, "extra features");
  }
  return x;
}

py::array_t<double> matrix(std::vector<double> v, int64_t n, int64_t k) {
  py::array_t<double> a({n, k});
  if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(double));
  return a;
}

}  // namespace

void bind_photoz(py::module_& m) {
  py::class_<PhotozEstimator>(m, "PhotoZ")
      .def(py::init([](std::vector<std::string> bands, std::vector<std::string> errors, int64_t extra, double zmin, double zmax,
                       int64_t nzbins, int64_t members, int64_t components, std::vector<int64_t> hidden, int64_t epochs,
                       int64_t batch, int64_t patience, double lr, double weight_decay, double val_fraction,
                       double calibration_fraction, double band_dropout, uint64_t seed, int64_t pretrain_epochs, double error_noise) {
             PhotozOptions o;
             o.bands = std::move(bands), o.errors = std::move(errors), o.extra = extra, o.zmin = zmin, o.zmax = zmax;
             o.nzbins = nzbins, o.members = members, o.components = components, o.hidden = std::move(hidden);
             o.epochs = epochs, o.batch = batch, o.patience = patience, o.lr = lr, o.weight_decay = weight_decay;
             o.val_fraction = val_fraction, o.calibration_fraction = calibration_fraction, o.band_dropout = band_dropout;
             o.seed = seed, o.pretrain_epochs = pretrain_epochs, o.error_noise = error_noise;
             if (o.bands.empty()) fail_usage("PhotoZ: bands must name at least one magnitude column");
             if (!o.errors.empty() && o.errors.size() != o.bands.size())
               fail_usage("PhotoZ: {} error columns for {} bands", o.errors.size(), o.bands.size());
             return PhotozEstimator(o);
           }),
           py::arg("bands"), py::arg("errors") = std::vector<std::string>{}, py::arg("extra") = 0, py::arg("zmin") = 0.0,
           py::arg("zmax") = 3.0, py::arg("nzbins") = 301, py::arg("members") = 5, py::arg("components") = 6,
           py::arg("hidden") = std::vector<int64_t>{128, 128, 128}, py::arg("epochs") = 150, py::arg("batch") = 256,
           py::arg("patience") = 30, py::arg("lr") = 2e-3, py::arg("weight_decay") = 1e-4, py::arg("val_fraction") = 0.125,
           py::arg("calibration_fraction") = 0.1, py::arg("band_dropout") = 0.05, py::arg("seed") = 0,
           py::arg("pretrain_epochs") = 30, py::arg("error_noise") = 0.0)
      .def(
          "fit",
          [](PhotozEstimator& e, const py::object& mags, const py::object& errors, const py::object& z, const py::object& extra,
             py::object progress) {
            auto x = inputs(e, mags, errors, extra);
            auto zz = rows(z, x.n, 1, "redshifts");
            std::vector<double> zd(zz.begin(), zz.end());
            std::function<void(int64_t, int64_t, double)> cb;
            if (!progress.is_none())
              cb = [progress](int64_t member, int64_t epoch, double loss) {
                py::gil_scoped_acquire gil;
                progress(member, epoch, loss);
              };
            py::gil_scoped_release nogil;
            e.fit(x, zd, cb);
          },
          py::arg("mags"), py::arg("errors"), py::arg("z"), py::arg("extra") = py::none(), py::arg("progress") = py::none())
      .def(
          "pdf",
          [](const PhotozEstimator& e, const py::object& mags, const py::object& errors, const py::object& extra) {
            auto x = inputs(e, mags, errors, extra);
            std::vector<double> p;
            {
              py::gil_scoped_release nogil;
              p = e.pdf(x);
            }
            return matrix(std::move(p), x.n, e.options().nzbins);
          },
          py::arg("mags"), py::arg("errors") = py::none(), py::arg("extra") = py::none())
      .def_property_readonly("grid", [](const PhotozEstimator& e) { auto g = e.grid(); return py::array_t<double>(g.size(), g.data()); })
      .def_property_readonly("bands", [](const PhotozEstimator& e) { return e.options().bands; })
      .def_property_readonly("errors", [](const PhotozEstimator& e) { return e.options().errors; })
      .def_property_readonly("extra", [](const PhotozEstimator& e) { return e.options().extra; })
      .def_property_readonly("fitted", &PhotozEstimator::fitted)
      .def_property_readonly("info_json", [](const PhotozEstimator& e) { return e.info().dump(); })
      .def("save", &PhotozEstimator::save, py::arg("path"))
      .def_static("load", &PhotozEstimator::load, py::arg("path"))
      .def("to_bytes", [](const PhotozEstimator& e) { return py::bytes(e.to_bytes()); })
      .def_static("from_bytes", [](const py::bytes& b) { return PhotozEstimator::from_bytes(std::string(b), "(pickled photoz model)"); })
      .def(py::pickle([](const PhotozEstimator& e) { return py::bytes(e.to_bytes()); },
                      [](const py::bytes& b) { return PhotozEstimator::from_bytes(std::string(b), "(pickled photoz model)"); }));

  m.def(
      "write_qp",
      [](const std::string& path, const std::string& kind, const py::object& x, const py::object& y, const py::dict& ancil) {
        QpEnsemble e;
        e.kind = kind;
        auto xa = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(x);
        auto ya = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(y);
        if (!xa || xa.ndim() != 1 || !ya || ya.ndim() != 2) fail_input("write_qp: x must be 1-d and y 2-d");
        e.x.assign(xa.data(), xa.data() + xa.shape(0));
        e.n = ya.shape(0);
        e.y.assign(ya.data(), ya.data() + ya.size());
        for (auto [k, v] : ancil) {
          auto va = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(v);
          if (!va) fail_input("write_qp: ancil {} is not numeric", std::string(py::str(k)));
          e.ancil.emplace_back(py::str(k), std::vector<double>(va.data(), va.data() + va.size()));
        }
        py::gil_scoped_release nogil;
        write_qp(path, e);
      },
      py::arg("path"), py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("ancil") = py::dict());
  m.def(
      "grid_pdf_metrics",
      [](const py::object& grid, const py::object& pdf, const py::object& truth) {
        auto g = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(grid);
        auto p = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(pdf);
        auto t = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(truth);
        if (!g || g.ndim() != 1 || !p || p.ndim() != 2 || !t || t.ndim() != 1) fail_input("grid_pdf_metrics: grid 1-d, pdf 2-d, truth 1-d");
        std::vector<double> gv(g.data(), g.data() + g.size()), pv(p.data(), p.data() + p.size()), tv(t.data(), t.data() + t.size()), pit;
        nlohmann::json j;
        {
          py::gil_scoped_release nogil;
          j = grid_pdf_metrics(gv, pv, tv, &pit);
        }
        return py::make_tuple(j.dump(), py::array_t<double>(pit.size(), pit.data()));
      },
      py::arg("grid"), py::arg("pdf"), py::arg("truth"));
  m.def(
      "grid_point_estimates",
      [](const py::object& grid, const py::object& pdf) {
        auto g = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(grid);
        auto p = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(pdf);
        if (!g || g.ndim() != 1 || !p || p.ndim() != 2 || p.shape(1) != g.shape(0))
          fail_input("grid_point_estimates: grid 1-d and pdf [n, len(grid)]");
        const std::vector<double> gv(g.data(), g.data() + g.size());
        const int64_t n = p.shape(0), K = p.shape(1);
        py::array_t<double> mode(n), median(n), mean(n);
        {
          py::gil_scoped_release nogil;
          for (int64_t i = 0; i < n; ++i) {
            auto s = summarize_grid_pdf(gv, p.data() + i * K);
            mode.mutable_data()[i] = s.mode, median.mutable_data()[i] = s.median, mean.mutable_data()[i] = s.mean;
          }
        }
        py::dict d;
        d["zmode"] = mode, d["zmedian"] = median, d["zmean"] = mean;
        return d;
      },
      py::arg("grid"), py::arg("pdf"));
  m.def("read_qp", [](const std::string& path) {
    auto e = read_qp(path);
    py::dict d, anc;
    d["kind"] = e.kind;
    d["x"] = py::array_t<double>(e.x.size(), e.x.data());
    d["y"] = matrix(std::move(e.y), e.n, e.bins());
    for (auto& [k, v] : e.ancil) anc[py::str(k)] = py::array_t<double>(v.size(), v.data());
    d["ancil"] = anc;
    return d;
  });
}
