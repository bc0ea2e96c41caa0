// Python binding of AION as one object (aion.h): the transformer and its
// codecs opened once; dicts of MMU columns in, tokens, embeddings and
// generated modalities out (the pure-Python astrofm.AION wraps it).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>

#include "astrofm/aion.h"
#include "astrofm/mmu.h"

namespace py = pybind11;
using namespace astrofm;

py::dict table_to_dict(const Table& t);      // _core.cc
Table dict_to_table(const py::dict& d);      // _core.cc

namespace {

// Rows without ids or positions get "0".."n-1" and NaN: generation returns them as it got them.
Table with_ids(Table t) {
  const int64_t n = t.rows();
  if (!t.has(mmu::kObjectId)) {
    std::vector<std::string> ids;
    for (int64_t i = 0; i < n; ++i) ids.push_back(std::to_string(i));
    t.add(make_string_column(mmu::kObjectId, ids));
  }
  for (const char* c : {mmu::kRa, mmu::kDec})
    if (!t.has(c)) t.add(make_column(c, std::vector<double>(n, NAN)));
  return t;
}

// `ids`: generation returns object_id, ra, dec, so it gets them (made up where missing).
template <class F>
py::dict through(const py::dict& columns, F&& f, bool ids = true) {
  Table in = ids ? with_ids(dict_to_table(columns)) : dict_to_table(columns), out;
  {
    py::gil_scoped_release nogil;
    out = f(in);
  }
  return table_to_dict(out);
}

}  // namespace

void bind_aion(py::module_& m) {
  py::class_<Aion>(m, "Aion")
      .def(py::init([](const std::string& model, const std::vector<std::string>& codecs, const std::string& dtype) {
             return std::make_unique<Aion>(model, AionOptions{.codecs = codecs, .dtype = dtype});
           }),
           py::arg("model"), py::arg("codecs") = std::vector<std::string>{}, py::arg("dtype") = "float32")
      .def_property_readonly("name", &Aion::name)
      .def_property_readonly("path", &Aion::path)
      .def_property_readonly("token_columns", &Aion::token_columns)
      .def_property_readonly("can_generate", &Aion::can_generate)
      .def(
          "tokenize",
          [](const Aion& a, const py::dict& cols, const std::vector<std::string>& also) {
            return through(cols, [&](const Table& t) { return a.tokenize(t, "request", also); }, false);
          },
          py::arg("columns"), py::arg("also") = std::vector<std::string>{})
      .def(
          "embed",
          [](const Aion& a, const py::dict& cols, bool tokens, const std::vector<std::string>& also) {
            return through(cols, [&](const Table& t) { return a.embed(t, tokens, "request", also); }, false);
          },
          py::arg("columns"), py::arg("tokens") = false, py::arg("also") = std::vector<std::string>{})
      .def(
          "generate",
          [](const Aion& a, const py::dict& cols, const std::string& to, const std::vector<std::string>& from, int64_t steps,
             double temperature, uint64_t seed, const std::vector<std::string>& bands) {
            GenerateRequest r{.from = from, .to = to, .steps = steps, .temperature = temperature, .seed = seed, .bands = bands};
            return through(cols, [&](const Table& t) { return a.generate(t, r); });
          },
          py::arg("columns"), py::arg("to"), py::arg("from_") = std::vector<std::string>{}, py::arg("steps") = 8,
          py::arg("temperature") = 1.0, py::arg("seed") = 1, py::arg("bands") = std::vector<std::string>{});
}
