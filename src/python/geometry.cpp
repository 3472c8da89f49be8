// pushpull.geodesic, pushpull.exp_map and pushpull.distances: the library's batch layer (geodesic_batch.hpp) and
// ExpMap (geodesic.hpp) on the pullback metric of a model's decoder or a closed-form geometry named by a string,
// configured by the CLI's declarations (LogMapOptions, GeodesicOptions, TrianglePassOptions) and the CLI's
// closed-form parameters (linear_weights, torus_R, torus_r, height_amplitude, metric_min_rcond).
#include "geometry.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "model.hpp"
#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/decoder.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/geodesic_batch.hpp"
#include "pushpull/geodesic_graph.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"

namespace pushpull::python {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The closed-form parameters and metric_min_rcond, declared by the library as for the CLI.
struct GeometryParameters {
  ClosedFormParameters closed_form;
  double min_rcond = Metric::kDefaultMinRcond;

  void SetFromOptions(OptionsDatabase& db) {
    db.SetSection("Geometry (closed-form parameters; metric_min_rcond for every metric)");
    closed_form.SetFromOptions(db);
    Metric::DeclareMinRcond(db, &min_rcond);
  }
};

struct Geometry {
  std::shared_ptr<Metric> metric;
  std::shared_ptr<const Decoder> decoder;  // null for tensor metrics
  std::string description;
};

std::string ClosedFormNames() {
  std::string s;
  for (const auto& name : ClosedFormGeometries().Names()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

// The metric of `source` (a Model or a closed-form name) for points with d coordinates. Throws InputError.
Geometry MakeGeometry(const py::handle& source, const std::string& metric, const GeometryParameters& p, int d) {
  Geometry g;
  if (py::isinstance<py::str>(source)) {
    const std::string name = source.cast<std::string>();
    if (!ClosedFormGeometries().Has(name)) {
      throw InputError("unknown closed-form metric '" + name + "'; one of: " + ClosedFormNames());
    }
    if (metric != "mean") throw InputError("metric='" + metric + "' applies to a model, not to the metric '" + name + "'");
    const std::unique_ptr<ClosedFormGeometry> c = ClosedFormGeometries().Create(name, p.closed_form, d);
    g.metric = c->metric;
    g.decoder = c->decoder;
    g.description = "closed-form " + name;
  } else if (py::isinstance<Model>(source)) {
    const Model& model = source.cast<const Model&>();
    if (!model.decoder) {
      throw InputError("model file '" + model.path + "' has no usable decoder (/decoder/mean): " + model.decoder_error);
    }
    if (metric != "mean" && metric != "stochastic") {
      throw InputError("metric='" + metric + "': one of mean (pullback of /decoder/mean), stochastic (expected metric "
                       "of /decoder/mean and /decoder/std)");
    }
    const auto stacked = metric == "stochastic" ? model.Stochastic() : model.decoder;
    if (stacked->input_dim() != d) {
      throw InputError("the points have " + std::to_string(d) + " coordinates, but the decoder of " + model.path +
                       " has latent dimension " + std::to_string(stacked->input_dim()));
    }
    g.metric = std::make_shared<PullbackMetric>(stacked);
    g.decoder = model.decoder;  // the curves are decoded by the mean
    g.description = model.path + " (" + metric + " metric)";
  } else {
    throw py::type_error("expected a pushpull.Model or the name of a closed-form metric (" + ClosedFormNames() +
                         "), got " + std::string(py::str(py::type::of(source).attr("__name__"))));
  }
  g.metric->set_min_rcond(p.min_rcond);
  return g;
}

void RequireInDomain(const Metric& metric, const VectorXd& z, const std::string& which) {
  std::string why;
  if (!metric.InDomain(z, &why)) {
    throw InputError(which + " " + FormatPoint(z) + " lies outside the metric's domain: " + why);
  }
}

// The options of one function, declared as the CLI declares them.
struct GeometryCall {
  GeometryParameters closed_form;
  LogMapOptions bvp;
  GeodesicOptions geo;
  TrianglePassOptions triangle;
  GeodesicGraphOptions graph;
  int curve_samples = 0;
  int threads = 0;

  void Declare(OptionsDatabase& db, const std::string& command) {
    closed_form.SetFromOptions(db);
    db.SetSection("Output and parallelism");
    if (command != "distances") {
      db.Int("", "curve_samples", curve_samples,
             "Sample each geodesic at S equally spaced times in [0, 1] (result.curve, and decoded_curve for a "
             "decoder); 0 = no curves",
             "curve_samples", IntBounds::AtLeast(0));
      if (curve_samples == 1) throw InputError("-curve_samples 1: a curve needs 0 (none) or at least 2 samples");
    }
    db.Int("", "threads", threads, "Worker threads; 0 = all cores (results do not depend on it)", "threads", {0, 1024});
    if (command == "exp_map") {
      geo.SetFromOptions(db, "geo_");
    } else {
      bvp.SetFromOptions(db);
      graph.SetFromOptions(db, "graph_");
      if (command == "distances") triangle.SetFromOptions(db, "distances_");
    }
  }
  // bvp_init='graph' needs graph_points (the latent points of the graph), and graph_points needs it (as on the CLI).
  void Check(const py::handle& graph_points) const {
    if (bvp.init == "graph" && graph_points.is_none()) {
      throw InputError("bvp_init='graph' needs graph_points (the latent points of the graph, N x d)");
    }
    if (bvp.init != "graph" && !graph_points.is_none()) {
      throw InputError("graph_points is only used with bvp_init='graph'");
    }
  }
};

// The -bvp_init graph guess: the graph over graph_points (built once, before the workers start), or none.
struct GraphGuess {
  std::unique_ptr<GeodesicGraph> graph;
  GraphGuess(const py::handle& points, const Metric& metric, const GeodesicGraphOptions& options) {
    if (points.is_none()) return;
    const RowMatrixXd z = ToRowMatrix(RealArray(points, "graph_points", 2, {-1, metric.dim()}));
    graph = std::make_unique<GeodesicGraph>(metric, z, options);
  }
  GuessProvider Provider() const {
    if (!graph) return {};
    const GeodesicGraph* g = graph.get();
    return [g](const Metric& metric, const VectorXd& z0, const VectorXd& z1) { return g->ShortestPath(metric, z0, z1); };
  }
};

class Record {};  // a result: NumPy arrays and values as attributes

py::array Matrix(const std::vector<double>& v, std::vector<py::ssize_t> shape) {
  py::array_t<double> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

void SetStatus(py::object& r, const std::vector<PairStatus>& status) {
  const py::dict s = StatusArrays(status);
  for (const auto& [k, v] : s) r.attr(k) = v;
  py::array_t<bool> ok(static_cast<py::ssize_t>(status.size()));
  for (std::size_t i = 0; i < status.size(); ++i) ok.mutable_at(static_cast<py::ssize_t>(i)) = status[i].usable();
  r.attr("ok") = ok;
}

// Samples of a curve (S x d) and their images under the decoder (S x D) into flat buffers.
void StoreCurve(const Geometry& g, const std::vector<VectorXd>& samples, double* curve, double* decoded) {
  for (std::size_t k = 0; k < samples.size(); ++k) {
    const VectorXd& z = samples[k];
    Eigen::Map<VectorXd>(curve + k * static_cast<std::size_t>(z.size()), z.size()) = z;
    if (decoded) {
      const VectorXd x = g.decoder->Value(z);
      Eigen::Map<VectorXd>(decoded + k * static_cast<std::size_t>(x.size()), x.size()) = x;
    }
  }
}

py::object Geodesic(const py::object& source, const py::handle& pairs, const std::string& metric,
                    const py::handle& graph_points, const py::kwargs& kwargs) {
  Options o(kwargs, "pushpull.geodesic");
  GeometryCall call;
  call.Declare(o.db, "geodesic");
  o.CheckAllUsed();
  call.Check(graph_points);
  auto a = RealArray(pairs, "pairs", 3, {-1, 2, -1});
  const auto P = static_cast<std::size_t>(a.shape(0));
  const int d = static_cast<int>(a.shape(2));
  const Geometry g = MakeGeometry(source, metric, call.closed_form, d);
  std::vector<std::pair<VectorXd, VectorXd>> items;
  for (std::size_t p = 0; p < P; ++p) {
    VectorXd z[2];
    for (int end = 0; end < 2; ++end) {
      z[end] = Eigen::Map<const VectorXd>(a.data() + (2 * p + static_cast<std::size_t>(end)) * static_cast<std::size_t>(d), d);
      RequireInDomain(*g.metric, z[end], "pair " + std::to_string(p) + ", end " + std::to_string(end) + ": point");
    }
    items.emplace_back(z[0], z[1]);
  }
  const GraphGuess guess(graph_points, *g.metric, call.graph);
  GeodesicBatchOptions options;
  options.log_map = call.bvp;
  options.threads = call.threads;
  options.curve_samples = call.curve_samples;
  options.guess = guess.Provider();
  const Metric& m = *g.metric;
  const GeodesicBatchResult result = RunReleased([&] { return SolveGeodesics(m, items, options); });

  const std::size_t ud = static_cast<std::size_t>(d), S = static_cast<std::size_t>(call.curve_samples);
  const std::size_t D = g.decoder ? static_cast<std::size_t>(g.decoder->output_dim()) : 0;
  std::vector<double> length(P, kNaN), energy(P, kNaN), error(P, kNaN), length_error(P, kNaN), velocity(P * ud, kNaN);
  std::vector<double> curve(P * S * ud, kNaN), decoded(g.decoder ? P * S * D : 0, kNaN);
  std::vector<std::int64_t> iterations(P, 0);
  py::list solver;
  for (std::size_t p = 0; p < P; ++p) {
    const LogMapResult& r = result.solutions[p];
    error[p] = r.endpoint_error;
    iterations[p] = r.iterations;
    length_error[p] = r.length_error;
    solver.append(r.solver);
    // As the CLI writes them: verified geodesics, approximate (the best curve's) and not_minimal lengths.
    if (r.usable() || r.status == GeodesicStatus::kApproximate || r.status == GeodesicStatus::kNotMinimal) {
      length[p] = r.length;
      energy[p] = r.energy;
      if (r.initial_velocity.size() == d) Eigen::Map<VectorXd>(velocity.data() + p * ud, d) = r.initial_velocity;
    }
    if (S > 0 && !result.curves[p].empty()) {
      StoreCurve(g, result.curves[p], curve.data() + p * S * ud, g.decoder ? decoded.data() + p * S * D : nullptr);
    }
  }
  py::object out = py::cast(Record());
  const auto sP = static_cast<py::ssize_t>(P), sd = static_cast<py::ssize_t>(d), sS = static_cast<py::ssize_t>(S);
  out.attr("length") = Matrix(length, {sP});
  out.attr("energy") = Matrix(energy, {sP});
  out.attr("initial_velocity") = Matrix(velocity, {sP, sd});
  out.attr("endpoint_error") = Matrix(error, {sP});
  out.attr("length_error") = Matrix(length_error, {sP});
  out.attr("iterations") = py::array_t<std::int64_t>(sP, iterations.data());
  out.attr("solver") = solver;
  out.attr("curve") = S > 0 ? py::object(Matrix(curve, {sP, sS, sd})) : py::object(py::none());
  out.attr("decoded_curve") = S > 0 && g.decoder
                                  ? py::object(Matrix(decoded, {sP, sS, static_cast<py::ssize_t>(D)}))
                                  : py::object(py::none());
  SetStatus(out, result.status);
  out.attr("metric") = g.description;
  out.attr("summary") = SummaryDict(result.Summary());
  return out;
}

py::object Distances(const py::object& source, const py::handle& points, const std::string& metric,
                     const py::handle& graph_points, const py::kwargs& kwargs) {
  Options o(kwargs, "pushpull.distances");
  GeometryCall call;
  call.Declare(o.db, "distances");
  o.CheckAllUsed();
  call.Check(graph_points);
  auto a = RealArray(points, "points", 2, {-1, -1});
  const int d = static_cast<int>(a.shape(1));
  const Geometry g = MakeGeometry(source, metric, call.closed_form, d);
  const MatrixXd Z = Eigen::Map<const RowMatrixXd>(a.data(), a.shape(0), d);
  for (Eigen::Index i = 0; i < Z.rows(); ++i) {
    RequireInDomain(*g.metric, Z.row(i).transpose(), "point " + std::to_string(i));
  }
  const GraphGuess guess(graph_points, *g.metric, call.graph);
  GeodesicBatchOptions options;
  options.log_map = call.bvp;
  options.threads = call.threads;
  options.triangle = call.triangle;
  options.guess = guess.Provider();
  const Metric& m = *g.metric;
  auto result = std::make_shared<DistanceMatrixResult>(RunReleased([&] { return ComputeDistanceMatrix(m, Z, options); }));
  const auto N = static_cast<py::ssize_t>(result->points());
  py::object out = py::cast(Record());
  // The matrix itself is not copied: the array views the result, which the capsule keeps alive.
  py::capsule owner(new std::shared_ptr<DistanceMatrixResult>(result),
                    [](void* p) { delete static_cast<std::shared_ptr<DistanceMatrixResult>*>(p); });
  out.attr("distances") = py::array_t<double>({N, N}, result->distances.data(), owner);
  SetStatus(out, result->status);
  for (const char* k : {"status", "status_name", "message", "ok"}) {
    out.attr(k) = out.attr(k).attr("reshape")(N, N);
  }
  py::list repairs, violations;
  for (const TriangleRepair& r : result->repairs) {
    repairs.append(py::dict("i"_a = r.i, "j"_a = r.j, "k"_a = r.k, "round"_a = r.round, "old_length"_a = r.old_length,
                            "via_length"_a = r.via_length, "new_length"_a = r.new_length, "changed"_a = r.changed));
  }
  for (const TriangleViolation& v : result->violations) {
    violations.append(py::dict("i"_a = v.i, "j"_a = v.j, "k"_a = v.k, "direct"_a = v.direct, "via"_a = v.via));
  }
  out.attr("repairs") = repairs;
  out.attr("violations") = violations;
  out.attr("failed_pairs") = result->failed_pairs();
  out.attr("metric") = g.description;
  out.attr("summary") = SummaryDict(result->Summary());
  return out;
}

py::object ExpMapPy(const py::object& source, const py::handle& points, const py::handle& velocities,
                    const std::string& metric, const py::kwargs& kwargs) {
  Options o(kwargs, "pushpull.exp_map");
  GeometryCall call;
  call.Declare(o.db, "exp_map");
  o.CheckAllUsed();
  auto za = RealArray(points, "points", 2, {-1, -1});
  auto ua = RealArray(velocities, "velocities", 2, {za.shape(0), za.shape(1)});
  const int d = static_cast<int>(za.shape(1));
  const auto N = static_cast<std::size_t>(za.shape(0));
  const Geometry g = MakeGeometry(source, metric, call.closed_form, d);
  const RowMatrixXd Z = ToRowMatrix(za), U = ToRowMatrix(ua);
  for (std::size_t i = 0; i < N; ++i) {
    RequireInDomain(*g.metric, Z.row(static_cast<Eigen::Index>(i)).transpose(), "point " + std::to_string(i));
  }
  ExpMapBatchOptions options;
  options.geodesic = call.geo;
  options.threads = call.threads;
  options.curve_samples = call.curve_samples;
  const Metric& m = *g.metric;
  const ExpMapBatchResult result = RunReleased([&] { return SolveExpMaps(m, Z, U, options); });

  const int S = call.curve_samples;
  const std::size_t ud = static_cast<std::size_t>(d), uS = static_cast<std::size_t>(S);
  const std::size_t D = g.decoder ? static_cast<std::size_t>(g.decoder->output_dim()) : 0;
  ExpMapColumns cols(N, d);
  std::vector<double> curve(N * uS * ud, kNaN), decoded(g.decoder ? N * uS * D : 0, kNaN);
  for (std::size_t i = 0; i < N; ++i) {
    cols.Set(i, result.solutions[i]);
    if (S > 0 && !result.curves[i].empty()) {
      StoreCurve(g, result.curves[i], curve.data() + i * uS * ud, g.decoder ? decoded.data() + i * uS * D : nullptr);
    }
  }
  py::object out = py::cast(Record());
  const auto sN = static_cast<py::ssize_t>(N), sd = static_cast<py::ssize_t>(d), sS = static_cast<py::ssize_t>(S);
  out.attr("end_point") = Matrix(cols.end_point, {sN, sd});
  out.attr("end_velocity") = Matrix(cols.end_velocity, {sN, sd});
  out.attr("length") = Matrix(cols.length, {sN});
  out.attr("energy") = Matrix(cols.energy, {sN});
  out.attr("speed_drift") = Matrix(cols.speed_drift, {sN});
  out.attr("curve") = S > 0 ? py::object(Matrix(curve, {sN, sS, sd})) : py::object(py::none());
  out.attr("decoded_curve") = S > 0 && g.decoder
                                  ? py::object(Matrix(decoded, {sN, sS, static_cast<py::ssize_t>(D)}))
                                  : py::object(py::none());
  SetStatus(out, result.status);
  out.attr("metric") = g.description;
  out.attr("summary") = SummaryDict(result.Summary());
  return out;
}

}  // namespace

bool DeclareGeometryOptions(const std::string& command, OptionsDatabase& db, std::string* head) {
  if (command != "geodesic" && command != "exp_map" && command != "distances") return false;
  GeometryCall call;
  call.Declare(db, command);
  if (command == "geodesic") {
    *head = "pushpull.geodesic(model_or_metric, pairs, metric=\"mean\", graph_points=None, **options)";
  }
  if (command == "exp_map") *head = "pushpull.exp_map(model_or_metric, points, velocities, metric=\"mean\", **options)";
  if (command == "distances") {
    *head = "pushpull.distances(model_or_metric, points, metric=\"mean\", graph_points=None, **options)";
  }
  return true;
}

void RegisterGeometry(py::module_& m) {
  py::class_<Record>(m, "Result", py::dynamic_attr(),
                     "A result: NumPy arrays per item (status, status_name, message, ok, ...) and a summary dict")
      .def("__repr__", [](py::object self) {
        return "<pushpull.Result " + py::str(self.attr("summary")["report"]).cast<std::string>() + ">";
      });
  m.def("metric_types", [] {
    py::dict d;
    for (const auto& name : ClosedFormGeometries().Names()) d[name.c_str()] = ClosedFormGeometries().Help(name);
    return d;
  }, "The closed-form metrics by name, with their descriptions");
  m.def("geodesic", &Geodesic, "model_or_metric"_a, "pairs"_a, "metric"_a = "mean", "graph_points"_a = py::none(),
        "Geodesics between the pairs of latent points (P x 2 x d) of a model's decoder (metric 'mean' or "
        "'stochastic') or a closed-form metric named by a string; graph_points (N x d) with bvp_init='graph'; options "
        "as keyword arguments "
        "(pushpull.help('geodesic')).");
  m.def("distances", &Distances, "model_or_metric"_a, "points"_a, "metric"_a = "mean", "graph_points"_a = py::none(),
        "The N x N geodesic distance matrix of points (N x d) with the triangle-inequality pass; options as keyword "
        "arguments (pushpull.help('distances')).");
  m.def("exp_map", &ExpMapPy, "model_or_metric"_a, "points"_a, "velocities"_a, "metric"_a = "mean",
        "Exp_z(u) for each row of points and velocities (N x d); options as keyword arguments "
        "(pushpull.help('exp_map')).");
}

}  // namespace pushpull::python
