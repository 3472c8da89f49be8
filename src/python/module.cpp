// The `pushpull` Python module's compiled part, `pushpull._pushpull` (docs/python.md): models, the pushforward
// (density, sample), help texts and the exception mapping; geometry.cpp adds geodesics, exp_map and distances.
// Everything goes through the public C++ API (include/pushpull/), configured by the same SetFromOptions
// declarations as the CLI, so keyword arguments get the CLI's checks, defaults and messages.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common.hpp"
#include "geometry.hpp"
#include "model.hpp"
#include "transport.hpp"
#include "validate.hpp"
#include "pushpull/decoder.hpp"
#include "pushpull/field.hpp"
#include "pushpull/io.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/pushforward.hpp"
#include "pushpull/version.hpp"

namespace pushpull::python {
namespace {

// ---- Models -------------------------------------------------------------------------------------------------

void RequireFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    py::object e = py::module_::import("builtins").attr("FileNotFoundError")(
        2, "model file '" + path + "' does not exist", path);
    PyErr_SetObject(PyExc_FileNotFoundError, e.ptr());
    throw py::error_already_set();
  }
}

class PushforwardRun {
 public:
  PushforwardResult result;
  bool density = true;
  RunSummary summary;
  std::vector<double> save_times;
  py::dict status_arrays;
};

py::object Optional(const py::object& self, const Eigen::VectorXd& v) {
  if (v.size() == 0) return py::none();
  return View(self, v.data(), {v.size()});
}

// Declares the options density() and sample() read: the CLI's (PushforwardOptions::SetFromOptions, without
// -ode_monitor, which only the CLI's step printer reads).
PushforwardOptions FlowOptions(Options& o) {
  PushforwardOptions flow;
  flow.SetFromOptions(o.db, "", /*monitor=*/false);
  o.CheckAllUsed();
  return flow;
}

const Model& RequireVelocity(const Model& m) {
  if (!m.field) {
    throw InputError("model file '" + m.path + "' has no usable velocity field (" + m.velocity_group +
                     "): " + m.velocity_error);
  }
  return m;
}

const Model& RequireDecoder(const Model& m) {
  if (!m.decoder) {
    throw InputError("model file '" + m.path + "' has no usable decoder (/decoder/mean): " + m.decoder_error);
  }
  return m;
}

py::object Density(const Model& model, const py::handle& points, const py::kwargs& kwargs) {
  Options o(kwargs, "pushpull.density");
  const PushforwardOptions flow = FlowOptions(o);
  RequireVelocity(model);
  const int d = model.field->dim();
  auto a = RealArray(points, "points", 2, {-1, -1});
  if (a.shape(1) != d) {
    throw py::value_error("points have " + std::to_string(a.shape(1)) + " columns, but the model " +
                          model.mlp_source + " has dimension " + std::to_string(d));
  }
  auto run = std::make_unique<PushforwardRun>();
  const RowMatrixXd starts = ToRowMatrix(a);
  const VectorField& field = *model.field;
  const double base_time = model.base_time;
  run->result = RunReleased([&] { return ComputeDensity(field, base_time, starts, flow); });
  run->density = true;
  run->save_times = flow.save_times;
  run->summary = run->result.Summary("density", "point");
  run->status_arrays = StatusArrays(run->result.status);
  return py::cast(std::move(run));
}

py::object Sample(const Model& model, std::int64_t n, const py::kwargs& kwargs) {
  Options o(kwargs, "pushpull.sample");
  const PushforwardOptions flow = FlowOptions(o);
  RequireVelocity(model);
  if (n < 1) throw py::value_error("n = " + std::to_string(n) + ": the number of samples must be at least 1");
  auto run = std::make_unique<PushforwardRun>();
  const VectorField& field = *model.field;
  const double base_time = model.base_time;
  const int d = field.dim();
  run->result = RunReleased([&] {
    const RowMatrixXd base = DrawStandardNormal(static_cast<std::size_t>(n), d, flow.seed);
    return PushSamples(field, base_time, base, flow);
  });
  run->density = false;
  run->save_times = flow.save_times;
  run->summary = run->result.Summary("sample", "sample");
  run->status_arrays = StatusArrays(run->result.status);
  return py::cast(std::move(run));
}

std::string HelpText(const std::string& command) {
  py::kwargs none;
  Options o(none, "pushpull." + command);
  std::string head;
  if (command == "density" || command == "sample") {
    PushforwardOptions flow;
    flow.SetFromOptions(o.db, "", false);
    head = command == "density" ? "pushpull.density(model, points, **options)"
                                : "pushpull.sample(model, n, seed=0, **options)";
  } else if (!DeclareGeometryOptions(command, o.db, &head) && !DeclareTransportOptions(command, o.db, &head) &&
             !DeclareValidateOptions(command, o.db, &head)) {
    throw py::value_error("pushpull.help: unknown command '" + command +
                          "'; one of: density, sample, geodesic, exp_map, distances, transport, sinkhorn, two_sample, "
                          "validate");
  }
  // The CLI's -help text with the options written as keywords ("  -ode_rtol <real>" -> "  ode_rtol <real>").
  std::string text = o.db.Help(), keywords;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.rfind("  -", 0) == 0) line.erase(2, 1);
    keywords += line + "\n";
    start = end + 1;
  }
  return head + "\nOptions are keyword arguments named as the CLI's options without the leading '-' (ode_type=\"bdf\", "
                "ode_rtol=1e-8); None keeps the default.\n" + keywords;
}

}  // namespace

std::shared_ptr<Model> LoadModel(const std::string& path, const std::string& velocity_group) {
  RequireFile(path);
  auto model = std::make_shared<Model>();
  Model& m = *model;
  m.path = path;
  m.velocity_group = velocity_group;
  try {
    Mlp mlp = ReadMlp(path, velocity_group, /*require_base_time=*/true);
    m.base_time = mlp.base_time;
    m.mlp_source = mlp.source;
    m.field = std::shared_ptr<const VectorField>(MakeMlpField(mlp));
  } catch (const InputError& e) {
    m.velocity_error = e.what();
  }
  try {
    m.decoder = ReadDecoder(path, false);
  } catch (const InputError& e) {
    m.decoder_error = e.what();
  }
  if (!m.field && !m.decoder) {
    throw InputError("model file '" + path + "' holds neither a velocity field nor a decoder: " + m.velocity_error +
                     "; " + m.decoder_error);
  }
  return model;
}

std::shared_ptr<const Decoder> Model::Stochastic() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!stochastic_) stochastic_ = ReadDecoder(path, true);
  return stochastic_;
}

PYBIND11_MODULE(_pushpull, m) {
  m.doc() = "pushpull: pushforward of measures by flows and pullback geometry of decoders (docs/python.md)";
  // No DisableHdf5ExitCleanup() here (the CLI's main calls it): the module writes no files, and h5py, which shares
  // the process's libhdf5, relies on HDF5's exit handler to close the files a script left open.

  InitInterruptForwarding();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    }
  });

  m.attr("__version__") = Version();
  m.def("version_report", &VersionReport, "Versions of pushpull and its libraries (`pushpull -version`)");

  py::class_<Model, std::shared_ptr<Model>>(m, "Model", "A model file: its velocity field (/velocity) and/or its decoder (/decoder/mean)")
      .def_readonly("path", &Model::path)
      .def_property_readonly("has_velocity", [](const Model& x) { return static_cast<bool>(x.field); })
      .def_property_readonly("has_decoder", [](const Model& x) { return static_cast<bool>(x.decoder); })
      .def_property_readonly("dim",
                             [](const Model& x) -> py::object {
                               if (x.field) return py::int_(x.field->dim());
                               return py::int_(x.decoder->input_dim());
                             },
                             "The velocity field's dimension, else the decoder's latent dimension")
      .def_property_readonly("base_time",
                             [](const Model& x) -> py::object {
                               return x.field ? py::object(py::float_(x.base_time)) : py::object(py::none());
                             })
      .def_property_readonly("latent_dim",
                             [](const Model& x) -> py::object {
                               return x.decoder ? py::object(py::int_(x.decoder->input_dim())) : py::none();
                             })
      .def_property_readonly("data_dim",
                             [](const Model& x) -> py::object {
                               return x.decoder ? py::object(py::int_(x.decoder->output_dim())) : py::none();
                             })
      .def("velocity",
           [](const Model& x, const py::handle& points, double t) {
             RequireVelocity(x);
             const int d = x.field->dim();
             const RowMatrixXd X = ToRowMatrix(RealArray(points, "points", 2, {-1, d}));
             RowMatrixXd V;
             x.field->Evaluate(t, X, V);
             py::array_t<double> out({V.rows(), V.cols()});
             if (V.size()) std::copy(V.data(), V.data() + V.size(), out.mutable_data());
             return out;
           },
           "points"_a, "t"_a, "The velocity field v(x, t) at the rows of points (N x d), as the solvers evaluate it")
      .def("decode",
           [](const Model& x, const py::handle& points, bool std_head) {
             RequireDecoder(x);
             const auto decoder = std_head ? x.Stochastic() : x.decoder;
             const int d = decoder->input_dim();
             const auto a = RealArray(points, "points", 2, {-1, d});
             const auto N = a.shape(0);
             const int D = x.decoder->output_dim();
             py::array_t<double> out({N, static_cast<py::ssize_t>(D)});
             for (py::ssize_t i = 0; i < N; ++i) {
               const Eigen::VectorXd f = decoder->Value(Eigen::Map<const Eigen::VectorXd>(a.data() + i * d, d));
               // the stacked decoder gives (mean, std): the std head is its second half
               std::copy(f.data() + (std_head ? D : 0), f.data() + (std_head ? 2 * D : D), out.mutable_data() + i * D);
             }
             return out;
           },
           "points"_a, "std"_a = false,
           "The decoder /decoder/mean (or with std=True /decoder/std) at the rows of points (N x d)")
      .def_readonly("velocity_error", &Model::velocity_error)
      .def_readonly("decoder_error", &Model::decoder_error)
      .def("__repr__", [](const Model& x) {
        std::string s = "<pushpull.Model '" + x.path + "'";
        if (x.field) s += ", velocity field dim " + std::to_string(x.field->dim()) + " base_time " + FormatReal(x.base_time);
        if (x.decoder) {
          s += ", decoder " + std::to_string(x.decoder->input_dim()) + " -> " + std::to_string(x.decoder->output_dim());
        }
        return s + ">";
      });

  m.def("load_model", &LoadModel, "path"_a, "velocity_group"_a = "/velocity",
        "Reads a model file (HDF5, schema pushpull-mlp v1): the velocity field at `velocity_group` and the decoder "
        "/decoder/mean, whichever are present. ValueError when neither can be read (with the reasons), "
        "FileNotFoundError when the file does not exist.");

  py::class_<PushforwardRun>(m, "PushforwardResult",
                             "Result of density() or sample(): NumPy arrays viewing the result (no copy)")
      .def("__len__", [](const PushforwardRun& r) { return r.result.size(); })
      .def_property_readonly("log_density",
                             [](py::object self) {
                               const auto& r = self.cast<const PushforwardRun&>().result;
                               return View(self, r.log_density.data(), {r.log_density.size()});
                             })
      .def_property_readonly("latent",
                             [](py::object self) -> py::object {
                               const auto& x = self.cast<const PushforwardRun&>();
                               if (!x.density) return py::none();
                               return View(self, x.result.endpoints.data(),
                                           {x.result.endpoints.rows(), x.result.endpoints.cols()});
                             },
                             "density(): z = x(t_b), the points mapped to the base")
      .def_property_readonly("samples",
                             [](py::object self) -> py::object {
                               const auto& x = self.cast<const PushforwardRun&>();
                               if (x.density) return py::none();
                               return View(self, x.result.endpoints.data(),
                                           {x.result.endpoints.rows(), x.result.endpoints.cols()});
                             },
                             "sample(): the samples x")
      .def_property_readonly("points",
                             [](py::object self) -> py::object {
                               const auto& x = self.cast<const PushforwardRun&>();
                               if (!x.density) return py::none();
                               return View(self, x.result.starts.data(),
                                           {x.result.starts.rows(), x.result.starts.cols()});
                             },
                             "density(): the data points (float64 copy of the input)")
      .def_property_readonly("base_samples",
                             [](py::object self) -> py::object {
                               const auto& x = self.cast<const PushforwardRun&>();
                               if (x.density) return py::none();
                               return View(self, x.result.starts.data(),
                                           {x.result.starts.rows(), x.result.starts.cols()});
                             },
                             "sample(): the standard normal draws z pushed forward")
      .def_property_readonly("divergence_integral",
                             [](py::object self) {
                               return Optional(self, self.cast<const PushforwardRun&>().result.divergence_integral);
                             })
      .def_property_readonly("kinetic",
                             [](py::object self) { return Optional(self, self.cast<const PushforwardRun&>().result.kinetic); })
      .def_property_readonly("frobenius", [](py::object self) {
        return Optional(self, self.cast<const PushforwardRun&>().result.frobenius);
      })
      .def_property_readonly("logdet",
                             [](py::object self) { return Optional(self, self.cast<const PushforwardRun&>().result.logdet); })
      .def_property_readonly("logdet_difference", [](py::object self) {
        return Optional(self, self.cast<const PushforwardRun&>().result.logdet_difference);
      })
      .def_property_readonly("nfe",
                             [](py::object self) {
                               const auto& r = self.cast<const PushforwardRun&>().result;
                               return View(self, r.nfe.data(), {static_cast<py::ssize_t>(r.nfe.size())});
                             })
      .def_property_readonly("steps",
                             [](py::object self) {
                               const auto& r = self.cast<const PushforwardRun&>().result;
                               return View(self, r.steps.data(), {static_cast<py::ssize_t>(r.steps.size())});
                             })
      .def_property_readonly("status", [](const PushforwardRun& r) { return r.status_arrays["status"]; },
                             "Per item: the OdeStatus code (0 success)")
      .def_property_readonly("status_name", [](const PushforwardRun& r) { return r.status_arrays["status_name"]; })
      .def_property_readonly("message", [](const PushforwardRun& r) { return r.status_arrays["message"]; },
                             "Per item: empty on success, else what failed and what to change")
      .def_property_readonly("ok", [](const PushforwardRun& r) {
        py::array_t<bool> ok(static_cast<py::ssize_t>(r.result.size()));
        for (std::size_t i = 0; i < r.result.size(); ++i) ok.mutable_at(static_cast<py::ssize_t>(i)) = r.result.status[i].usable();
        return ok;
      }, "Per item: whether the status is usable")
      .def_property_readonly("trajectories",
                             [](py::object self) -> py::object {
                               const auto& x = self.cast<const PushforwardRun&>();
                               if (x.save_times.empty()) return py::none();
                               return View(self, x.result.trajectories.data(),
                                           {static_cast<py::ssize_t>(x.result.size()),
                                            static_cast<py::ssize_t>(x.save_times.size()), x.result.dim});
                             },
                             "N x T x d states at save_times (option save_times), else None")
      .def_readonly("save_times", &PushforwardRun::save_times)
      .def_property_readonly("failed", [](const PushforwardRun& r) { return r.result.failed(); })
      .def_property_readonly("seconds", [](const PushforwardRun& r) { return r.result.seconds; })
      .def_property_readonly("summary", [](const PushforwardRun& r) { return SummaryDict(r.summary); })
      .def("__repr__", [](const PushforwardRun& r) { return "<pushpull.PushforwardResult " + r.summary.BriefReport() + ">"; });

  m.def("density", &Density, "model"_a, "points"_a,
        "Exact log-densities of data points (N x d) under the model's flow; options as keyword arguments "
        "(pushpull.help('density')).");
  m.def("sample", &Sample, "model"_a, "n"_a,
        "n samples of the model's flow with their exact log-densities; seed=S and other options as keyword "
        "arguments (pushpull.help('sample')).");
  m.def("help", &HelpText, "command"_a,
        "The options of a function (density, sample, geodesic, exp_map, distances, transport, sinkhorn, two_sample, "
        "validate) "
        "with their values, defaults, "
        "bounds and help, as the CLI's -help prints them.");

  RegisterGeometry(m);
  RegisterTransport(m);
  RegisterValidate(m);
}

}  // namespace pushpull::python
