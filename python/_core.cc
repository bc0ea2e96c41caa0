// astrofm's Python bindings (pybind11): datasets as dicts of numpy arrays, the
// Encoder, probes on arrays, search indexes. astrofm errors become ValueError
// (invalid input, corrupt file, usage), KeyError (not found) or OSError (I/O),
// with astrofm's message. The pure-Python layer (astrofm/__init__.py) adds
// the scikit-learn estimators.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "astrofm/aion_release.h"
#include "astrofm/codecs.h"
#include "astrofm/embed.h"
#include "astrofm/encoder.h"
#include "astrofm/models/aion.h"
#include "astrofm/models/registry.h"
#include "astrofm/bands.h"
#include "astrofm/error.h"
#include "astrofm/features.h"
#include "astrofm/knn.h"
#include "astrofm/mmu.h"
#include "astrofm/probe.h"
#include "astrofm/resources.h"
#include "astrofm/saved_probe.h"
#include "astrofm/torch_threads.h"
#include "astrofm/search.h"

namespace py = pybind11;
using namespace astrofm;

namespace {

// Column -> numpy array (strings: a numpy array of str).
py::object to_numpy(const Column& c) {
  std::vector<py::ssize_t> shape = {c.rows};
  for (auto d : c.shape) shape.push_back(d);
  if (c.dtype == DType::String) {
    py::list l;
    for (const auto& s : c.strings) l.append(py::str(s));
    return py::module_::import("numpy").attr("array")(l).attr("reshape")(py::tuple(py::cast(shape)));
  }
  py::dtype dt;
  switch (c.dtype) {
    case DType::Float32: dt = py::dtype::of<float>(); break;
    case DType::Float64: dt = py::dtype::of<double>(); break;
    case DType::Int8: dt = py::dtype::of<int8_t>(); break;
    case DType::Int16: dt = py::dtype::of<int16_t>(); break;
    case DType::Int32: dt = py::dtype::of<int32_t>(); break;
    case DType::Int64: dt = py::dtype::of<int64_t>(); break;
    case DType::UInt8: dt = py::dtype::of<uint8_t>(); break;
    case DType::UInt16: dt = py::dtype::of<uint16_t>(); break;
    case DType::UInt32: dt = py::dtype::of<uint32_t>(); break;
    case DType::UInt64: dt = py::dtype::of<uint64_t>(); break;
    case DType::Bool: dt = py::dtype::of<bool>(); break;
    default: throw InputError("unsupported column type");
  }
  py::array a(dt, shape);
  if (!c.data.empty()) std::memcpy(a.mutable_data(), c.data.data(), c.data.size());
  return std::move(a);
}

py::dict to_dict(const Table& t) {
  py::dict d;
  for (const auto& c : t.columns()) d[py::str(c.name)] = to_numpy(c);
  return d;
}

Column float_column(const std::string& name, const py::array& in, int64_t min_rank, const char* what) {
  auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(in);
  if (!a) fail_input("{}: expected a numeric array", what);
  if (a.ndim() < min_rank) fail_input("{}: expected {} dimensions, got {}", what, min_rank, a.ndim());
  std::vector<int64_t> shape;
  for (py::ssize_t i = 1; i < a.ndim(); ++i) shape.push_back(a.shape(i));
  Column c(name, DType::Float32, shape, a.shape(0));
  if (!c.data.empty()) std::memcpy(c.data.data(), a.data(), c.data.size());
  return c;
}

Features features(const py::array& in, const char* what) {
  auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(in);
  if (!a || a.ndim() != 2) fail_input("{}: expected a 2-d array [n_samples, n_features]", what);
  Features f;
  f.n = a.shape(0), f.d = a.shape(1);
  f.x.assign(a.data(), a.data() + f.n * f.d);
  return f;
}

std::vector<double> doubles(const py::array& in, const char* what) {
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(in);
  if (!a || a.ndim() != 1) fail_input("{}: expected a 1-d array", what);
  return {a.data(), a.data() + a.shape(0)};
}

// A dict of numpy arrays (first axis = objects) -> Table; strings stay strings.
Table table_from_dict(const py::dict& d) {
  Table t;
  for (auto [k, v] : d) {
    std::string name = py::str(k);
    py::array a = py::module_::import("numpy").attr("asarray")(v);
    char kind = a.dtype().kind();
    if (a.ndim() < 1) fail_input("{}: expected an array with objects on the first axis", name);
    std::vector<int64_t> shape;
    for (py::ssize_t i = 1; i < a.ndim(); ++i) shape.push_back(a.shape(i));
    if (kind == 'U' || kind == 'S' || kind == 'O') {
      std::vector<std::string> strs;
      for (auto x : a.attr("ravel")()) strs.push_back(py::str(x));
      Column c = make_string_column(name, strs, shape);
      t.add(std::move(c));
      continue;
    }
    DType dt = kind == 'b' ? DType::Bool : kind == 'i' || kind == 'u' ? DType::Int64 : a.dtype().itemsize() == 8 ? DType::Float64 : DType::Float32;
    py::array c_arr = dt == DType::Bool   ? py::array(py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(a))
                      : dt == DType::Int64 ? py::array(py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a))
                      : dt == DType::Float64 ? py::array(py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a))
                                             : py::array(py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a));
    Column c(name, dt, shape, a.shape(0));
    if (!c.data.empty()) std::memcpy(c.data.data(), c_arr.data(), c.data.size());
    t.add(std::move(c));
  }
  return t;
}

// Features [n, d] through a predictor, without the GIL; a 1-d array of predictions.
template <class F>
py::array_t<double> predictions(const py::array& x, F&& predict) {
  Features f = features(x, "X");
  std::vector<double> out;
  {
    py::gil_scoped_release nogil;
    out = predict(f);
  }
  return py::array_t<double>(out.size(), out.data());
}

// Rows (a dict of arrays) through an in-memory core, without the GIL; rows out as a dict.
template <class F>
py::dict through_core(const py::dict& rows, F&& core) {
  Table in = table_from_dict(rows), out;
  {
    py::gil_scoped_release nogil;
    out = core(in);
  }
  return to_dict(out);
}

// Token arrays by modality key (dict order kept) and optional masks (true = absent).
models::AionInputs aion_inputs(const py::dict& tokens, const py::dict& masks) {
  models::AionInputs in;
  for (auto [k, v] : tokens) {
    auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(v);
    if (!a) fail_input("{}: expected an integer token array", std::string(py::str(k)));
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    in.tokens.emplace_back(py::str(k), torch::from_blob(const_cast<int64_t*>(a.data()), shape, torch::kLong).clone());
    torch::Tensor m;
    if (masks.contains(k)) {
      auto mk = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(masks[k]);
      if (!mk || mk.size() != a.size()) fail_input("{}: the mask must have the tokens' shape", std::string(py::str(k)));
      m = torch::from_blob(const_cast<bool*>(mk.data()), shape, torch::kBool).clone();
    }
    in.masks.push_back(m);
  }
  return in;
}

KnnOptions knn_options(int k, const std::string& weights, bool standardize) {
  if (k < 1) fail_input("n_neighbors must be at least 1, got {}", k);
  if (weights != "uniform" && weights != "distance") fail_input("weights must be 'uniform' or 'distance', got '{}'", weights);
  return {.k = k, .weights = weights, .standardize = standardize};
}

class PyDataset {
 public:
  explicit PyDataset(const std::string& path) : ds_(Dataset::open(path)) {}
  int64_t rows() const { return ds_.rows(); }
  std::vector<std::string> columns() const {
    std::vector<std::string> out;
    for (const auto& c : ds_.schema()) out.push_back(c.name);
    return out;
  }
  std::string path() const { return ds_.path(); }
  py::object batches(std::optional<std::vector<std::string>> columns, int64_t batch_rows) const {
    if (batch_rows <= 0) fail_usage("batch_rows must be positive, got {}", batch_rows);
    auto reader = std::make_shared<DatasetReader>(ds_, ReadOptions{.columns = columns.value_or(std::vector<std::string>{}), .batch_rows = batch_rows});
    // A Python generator over the C++ reader.
    py::cpp_function next([reader]() -> py::object {
      Table b;
      bool more;
      {
        py::gil_scoped_release nogil;
        more = reader->next(b);
      }
      if (!more) throw py::stop_iteration();
      return to_dict(b);
    });
    return py::module_::import("astrofm._iter").attr("Batches")(next);
  }
  py::dict read(std::optional<std::vector<std::string>> columns) const {
    Table all;
    DatasetReader r(ds_, {.columns = columns.value_or(std::vector<std::string>{}), .batch_rows = 8192});
    Table b;
    {
      py::gil_scoped_release nogil;
      while (r.next(b)) all.append(b);
    }
    return to_dict(all);
  }

 private:
  Dataset ds_;
};

}  // namespace

// Shared with the other binding files (_tables.h).
py::dict table_to_dict(const Table& t) { return to_dict(t); }
Table dict_to_table(const py::dict& d) { return table_from_dict(d); }

void bind_photoz(py::module_& m);  // _photoz.cc
void bind_discover(py::module_& m);  // _discover.cc
void bind_aion(py::module_& m);  // _aion.cc

PYBIND11_MODULE(_core, m) {
  m.doc() = "astrofm's C++ core";
  use_available_cores();
  static py::exception<Error> base(m, "Error", PyExc_Exception);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      switch (e.kind()) {
        case ErrorKind::NotFound: PyErr_SetString(PyExc_KeyError, e.what()); return;
        case ErrorKind::IO: PyErr_SetString(PyExc_OSError, e.what()); return;
        default: PyErr_SetString(PyExc_ValueError, e.what()); return;
      }
    } catch (const InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  bind_photoz(m);
  bind_discover(m);
  bind_aion(m);
  m.def("set_models_dir", &set_models_dir, "Folder searched first for model files");
  m.def(
      "image_band_sets",
      [] {
        std::vector<std::pair<std::string, std::vector<std::string>>> out;
        for (const auto& s : image_band_sets()) out.emplace_back(s.survey, s.bands);
        return out;
      },
      "The image band sets by survey (bands.h): (survey, bands) pairs, the C++ side's one table");
  m.def("shipped_models", &shipped_models, "Shipped models as (name, path) pairs");

  py::class_<PyDataset>(m, "Dataset")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def_property_readonly("rows", &PyDataset::rows)
      .def_property_readonly("columns", &PyDataset::columns)
      .def_property_readonly("path", &PyDataset::path)
      .def("__len__", &PyDataset::rows)
      .def("batches", &PyDataset::batches, py::arg("columns") = py::none(), py::arg("batch_rows") = 4096,
           "Batches of rows as dicts of numpy arrays")
      .def("read", &PyDataset::read, py::arg("columns") = py::none(), "Every row as one dict of numpy arrays");

  py::class_<codecs::CodecSet>(m, "CodecSet")
      .def(py::init([](const std::vector<std::string>& paths) { return codecs::CodecSet::load(paths); }), py::arg("paths"))
      .def_property_readonly("modalities", &codecs::CodecSet::modalities)
      .def("info_json", [](const codecs::CodecSet& s, const std::string& m) {
        const auto& i = s.at(m).info();
        return nlohmann::json{{"kind", i.kind}, {"modality", i.modality}, {"num_tokens", i.num_tokens}, {"vocab_size", i.vocab_size},
                              {"config", i.config}}.dump();
      })
      .def("encode", [](const codecs::CodecSet& s, const std::string& m, const py::dict& columns) {
        Table t = table_from_dict(columns);
        Column c;
        {
          py::gil_scoped_release nogil;
          c = s.at(m).encode(t, "encode(" + m + ")");
        }
        return to_numpy(c);
      }, py::arg("modality"), py::arg("columns"), "int32 tokens [N, num_tokens] of one modality from a dict of MMU columns")
      .def("preprocess", [](const codecs::CodecSet& s, const std::string& m, const py::dict& columns) {
        return to_numpy(s.at(m).preprocessed(table_from_dict(columns), "preprocess(" + m + ")"));
      }, py::arg("modality"), py::arg("columns"), "the network input after the codec's preprocessing")
      .def("decode", [](const codecs::CodecSet& s, const std::string& m, const py::array& tokens, const py::dict& context) {
        Table ctx = table_from_dict(context);
        py::dict td;
        td[py::str(codecs::token_column(m))] = tokens;
        Table tt = table_from_dict(td);
        Table out;
        {
          py::gil_scoped_release nogil;
          out = s.at(m).decode(tt.at(codecs::token_column(m)), ctx, "decode(" + m + ")");
        }
        return to_dict(out);
      }, py::arg("modality"), py::arg("tokens"), py::arg("context") = py::dict(), "MMU columns of one modality back from its tokens");

  // AION's transformer on token arrays (tests and notebooks): encode and logits.
  m.def("aion_modalities", [] {
    py::list out;
    for (const auto& r : aion::release_modalities()) {
      py::dict d;
      d["aion_class"] = r.aion_class, d["token_key"] = r.token_key, d["codec"] = r.codec_dir, d["codec_class"] = r.codec_class;
      d["column"] = r.column, d["tokens"] = r.tokens, d["vocab"] = r.vocab, d["sequence"] = r.sequence;
      d["kind"] = modality_kind_name(modality(r.codec_dir).kind);  // image, spectrum, scalar, catalog
      out.append(d);
    }
    return out;
  }, "AION-1's released modalities: class name, token key, codec folder, astrofm token column, tokens, vocabulary");
  py::class_<models::LoadedModel>(m, "AionModel")
      .def(py::init([](const std::string& path, const std::string& dtype) {
        auto lm = models::load_model(resolve_model_path(path), torch::kCPU, models::parse_model_dtype(dtype));
        if (lm.architecture != "aion") fail_input("{}: a '{}' model, not an AION model", path, lm.architecture);
        lm.module->eval();
        return lm;
      }), py::arg("path"), py::arg("dtype") = "float32")
      .def_property_readonly("config_json", [](const models::LoadedModel& lm) { return lm.meta["config"].dump(); })
      .def("encode", [](const models::LoadedModel& lm, const py::dict& tokens, const py::dict& masks, int64_t n) {
        auto& net = dynamic_cast<models::AionImpl&>(*lm.module);
        auto in = aion_inputs(tokens, masks);
        torch::NoGradGuard ng;
        auto enc = net.encode(in, n);
        auto c = enc.context.contiguous();
        py::array_t<float> out({c.size(0), c.size(1), c.size(2)});
        std::memcpy(out.mutable_data(), c.data_ptr<float>(), c.numel() * sizeof(float));
        return out;
      }, py::arg("tokens"), py::arg("masks") = py::dict(), py::arg("num_encoder_tokens") = 256)
      .def("logits", [](const models::LoadedModel& lm, const py::dict& tokens, const py::dict& masks, const std::vector<std::string>& targets,
                        int64_t n) {
        auto& net = dynamic_cast<models::AionImpl&>(*lm.module);
        auto in = aion_inputs(tokens, masks);
        torch::NoGradGuard ng;
        auto outs = net.decode(net.encode(in, n), targets);
        py::dict d;
        for (size_t i = 0; i < targets.size(); ++i) {
          auto c = outs[i].contiguous();
          py::array_t<float> a({c.size(0), c.size(1), c.size(2)});
          std::memcpy(a.mutable_data(), c.data_ptr<float>(), c.numel() * sizeof(float));
          d[py::str(targets[i])] = a;
        }
        return d;
      }, py::arg("tokens"), py::arg("masks"), py::arg("targets"), py::arg("num_encoder_tokens"));

  py::class_<Encoder>(m, "Encoder")
      .def(py::init([](const std::string& model, const std::string& device) { return Encoder(model, {.device = device}); }),
           py::arg("model"), py::arg("device") = "cpu")
      .def_property_readonly("name", &Encoder::name)
      .def_property_readonly("path", &Encoder::path)
      .def_property_readonly("architecture", &Encoder::architecture)
      .def_property_readonly("modalities", &Encoder::modalities)
      .def_property_readonly("meta_json", [](const Encoder& e) { return e.meta().dump(); })
      .def(
          "embed_table",
          [](const Encoder& e, py::object images, std::optional<std::vector<std::string>> bands, py::object spectra, bool tokens) {
            Table t;
            if (!images.is_none()) {
              Column img = float_column(mmu::kImageArray, images.cast<py::array>(), 4, "images");
              if (bands) {
                if (static_cast<int64_t>(bands->size()) != img.shape[0])
                  fail_input("bands: {} names for {} image bands", bands->size(), img.shape[0]);
                std::vector<std::string> all;
                for (int64_t i = 0; i < img.rows; ++i) all.insert(all.end(), bands->begin(), bands->end());
                t.add(make_string_column(mmu::kImageBand, all, {img.shape[0]}));
              }
              t.add(std::move(img));
            }
            if (!spectra.is_none()) t.add(float_column(mmu::kSpectrumFlux, spectra.cast<py::array>(), 2, "spectra"));
            Table out;
            {
              py::gil_scoped_release nogil;
              out = e.embed(t, tokens);
            }
            return to_dict(out);
          },
          py::arg("images") = py::none(), py::arg("bands") = py::none(), py::arg("spectra") = py::none(), py::arg("tokens") = false);

  // A probe saved by `astrofm probe --save`: raw feature columns in, predictions out.
  py::class_<SavedProbe>(m, "SavedProbe")
      .def(py::init(&SavedProbe::load), py::arg("path"))
      .def_property_readonly("feature_columns", &SavedProbe::feature_columns)
      .def_property_readonly("classification", &SavedProbe::classification)
      .def_property_readonly("class_names", &SavedProbe::class_names)
      .def_property_readonly("target", &SavedProbe::target)
      .def("predict", [](const SavedProbe& p, const py::array& x) {
        return predictions(x, [&](const Features& f) { return p.predict(f); });
      });

  // `astrofm tokenize`'s in-memory core: rows in, tok_<modality> columns out.
  py::class_<codecs::CatalogueTokenizer>(m, "CatalogueTokenizer")
      .def(py::init([](const std::vector<std::string>& codec_paths, const std::vector<std::string>& have,
                       const std::vector<std::string>& modalities) {
             return codecs::CatalogueTokenizer(codecs::CodecSet::load(codec_paths), have, modalities, {}, "tokenize");
           }),
           py::arg("codecs"), py::arg("have"), py::arg("modalities") = std::vector<std::string>{})
      .def_property_readonly("columns", &codecs::CatalogueTokenizer::columns)
      .def_property_readonly("modalities", &codecs::CatalogueTokenizer::modalities)
      .def("tokenize", [](const codecs::CatalogueTokenizer& t, const py::dict& rows) {
        return through_core(rows, [&](const Table& in) { return t.tokenize(in, "tokenize"); });
      });

  // `astrofm embed`'s in-memory core: rows (a dict of arrays) in, catalogue rows out.
  py::class_<CatalogueEmbedder>(m, "CatalogueEmbedder")
      .def(py::init([](const std::string& model, const std::vector<std::string>& have, const std::string& dtype,
                       const std::vector<std::string>& inputs, bool tokens, const std::string& device) {
             EmbedOptions o;
             o.model = model, o.dtype = dtype, o.inputs = inputs, o.tokens = tokens, o.device = device;
             return CatalogueEmbedder(o, have, model);
           }),
           py::arg("model"), py::arg("have"), py::arg("dtype") = "float32", py::arg("inputs") = std::vector<std::string>{},
           py::arg("tokens") = false, py::arg("device") = "cpu")
      .def_property_readonly("columns", &CatalogueEmbedder::columns)
      .def_property_readonly("model_id", &CatalogueEmbedder::model_id)
      .def("embed", [](const CatalogueEmbedder& e, const py::dict& rows) {
        return through_core(rows, [&](const Table& in) { return e.embed(in); });
      });

  py::class_<KnnRegressor>(m, "KnnRegressor")
      .def(py::init([](int k, const std::string& weights, bool standardize) { return KnnRegressor(knn_options(k, weights, standardize)); }),
           py::arg("k") = 5, py::arg("weights") = "uniform", py::arg("standardize") = false)
      .def("fit", [](KnnRegressor& r, const py::array& x, const py::array& y) { r.fit(features(x, "X"), doubles(y, "y")); })
      .def("predict", [](const KnnRegressor& r, const py::array& x) {
        return predictions(x, [&](const Features& f) { return r.predict(f); });
      });
  py::class_<KnnClassifier>(m, "KnnClassifier")
      .def(py::init([](int k, const std::string& weights, bool standardize) { return KnnClassifier(knn_options(k, weights, standardize)); }),
           py::arg("k") = 5, py::arg("weights") = "uniform", py::arg("standardize") = false)
      .def("fit", [](KnnClassifier& c, const py::array& x, const py::array& y) {
        auto yy = doubles(y, "y");
        std::vector<int64_t> labels(yy.begin(), yy.end());
        c.fit(features(x, "X"), labels);
      })
      .def("predict", [](const KnnClassifier& c, const py::array& x) {
        auto f = features(x, "X");
        std::vector<int64_t> p;
        {
          py::gil_scoped_release nogil;
          p = c.predict(f);
        }
        return py::array_t<int64_t>(p.size(), p.data());
      });

  // Trained probes (ridge, logistic, mlp) on arrays.
  py::class_<Probe, std::unique_ptr<Probe>>(m, "Probe")
      .def(py::init([](const std::string& kind, bool classification, int64_t classes, uint64_t seed, bool balanced, int64_t tokens) {
             ProbeOptions o;
             o.kind = kind, o.classification = classification, o.classes = classes, o.seed = seed, o.balanced = balanced;
             o.tokens = tokens;
             return make_probe(o);
           }),
           py::arg("kind"), py::arg("classification") = false, py::arg("classes") = 0, py::arg("seed") = 0, py::arg("balanced") = false,
           py::arg("tokens") = 0)
      .def("fit", [](Probe& p, const py::array& x, const py::array& y) {
        auto f = features(x, "X");
        auto yy = doubles(y, "y");
        py::gil_scoped_release nogil;
        p.fit(f, yy);
      })
      .def("predict", [](const Probe& p, const py::array& x) {
        return predictions(x, [&](const Features& f) { return p.predict(f); });
      })
      .def("info_json", [](const Probe& p) { return p.info().dump(); });

  py::class_<SearchIndex>(m, "SearchIndex")
      .def(py::init([](const std::string& dir) { return SearchIndex::open(dir); }), py::arg("path"))
      .def_property_readonly("size", &SearchIndex::size)
      .def("__len__", &SearchIndex::size)
      .def_property_readonly("meta_json", [](const SearchIndex& s) { return s.meta().dump(); })
      .def(
          "search",
          [](const SearchIndex& s, py::object vector, std::string id, int k, std::optional<std::array<double, 3>> cone,
             double dedup_arcsec, std::string query_column) {
            SearchRequest r;
            if (!vector.is_none()) {
              auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(vector);
              if (!a || a.ndim() != 1) fail_input("vector: expected a 1-d array");
              r.vector.assign(a.data(), a.data() + a.shape(0));
            }
            r.id = id, r.k = k, r.cone = cone, r.dedup_arcsec = dedup_arcsec, r.query_column = query_column;
            if (r.id.empty() && r.vector.empty()) fail_usage("search needs a vector or an id");
            std::vector<Hit> hits;
            {
              py::gil_scoped_release nogil;
              hits = s.search(r);
            }
            py::dict d;
            std::vector<std::string> ids;
            std::vector<double> ra, dec;
            std::vector<float> score;
            for (const auto& h : hits) ids.push_back(h.object_id), ra.push_back(h.ra), dec.push_back(h.dec), score.push_back(h.score);
            d["object_id"] = py::module_::import("numpy").attr("array")(py::cast(ids), "U");
            d["ra"] = py::array_t<double>(ra.size(), ra.data());
            d["dec"] = py::array_t<double>(dec.size(), dec.data());
            d["score"] = py::array_t<float>(score.size(), score.data());
            return d;
          },
          py::arg("vector") = py::none(), py::arg("id") = "", py::arg("k") = 10, py::arg("cone") = py::none(),
          py::arg("dedup_arcsec") = 0.0, py::arg("query_column") = "");
}
