// pushpull.transport, pushpull.sinkhorn and pushpull.two_sample: exact optimal transport, debiased Sinkhorn
// divergences and the MMD / energy two-sample statistics (optimal_transport.hpp, two_sample.hpp) between point sets,
// configured by their own SetFromOptions declarations (-ot_*, -sinkhorn_*, -mmd_*).
#include "transport.hpp"

#include <string>

#include "pushpull/optimal_transport.hpp"
#include "pushpull/two_sample.hpp"

namespace pushpull::python {
namespace {

class TransportRecord {};  // a result: arrays and values as attributes

// The two point sets (n x d, m x d; same d) of a call.
std::pair<PointMatrix, PointMatrix> PointSets(const py::handle& x, const py::handle& y) {
  const auto xa = RealArray(x, "x", 2, {-1, -1});
  const auto ya = RealArray(y, "y", 2, {-1, xa.shape(1)});
  if (xa.shape(0) < 1 || ya.shape(0) < 1) throw py::value_error("x and y need at least one point each");
  return {ToRowMatrix(xa), ToRowMatrix(ya)};
}

// Weights of n points: uniform when None, else a vector of n reals (the solvers check the sum and the signs).
Eigen::VectorXd Weights(const py::handle& w, Eigen::Index n, const char* what) {
  if (w.is_none()) return Eigen::VectorXd::Constant(n, 1.0 / static_cast<double>(n));
  const auto a = RealArray(w, what, 1, {n});
  return Eigen::Map<const Eigen::VectorXd>(a.data(), n);
}

py::array Vector(const Eigen::VectorXd& v) {
  py::array_t<double> a(v.size());
  std::copy(v.data(), v.data() + v.size(), a.mutable_data());
  return a;
}

template <class Status>
void SetScalarStatus(py::object& r, Status status, const std::string& message, double seconds,
                     const std::string& report) {
  r.attr("status") = static_cast<int>(status);
  r.attr("status_name") = ToString(status);
  r.attr("message") = message;
  r.attr("ok") = Usable(status);
  r.attr("seconds") = seconds;
  r.attr("summary") = py::dict("report"_a = report, "seconds"_a = seconds);
}

py::object Transport(const py::handle& x, const py::handle& y, const py::handle& a, const py::handle& b,
                     const py::kwargs& kwargs) {
  Options o(kwargs, "pushpull.transport");
  ExactTransportOptions options;
  options.SetFromOptions(o.db);
  o.CheckAllUsed();
  const auto [X, Y] = PointSets(x, y);
  const Eigen::VectorXd wa = Weights(a, X.rows(), "a"), wb = Weights(b, Y.rows(), "b");
  const ExactTransportResult r = RunReleased([&] { return SolveExactTransport(X, Y, wa, wb, options); });
  py::object out = py::cast(TransportRecord());
  out.attr("cost") = r.cost;
  out.attr("cost_name") = r.cost_name;
  out.attr("solver") = r.solver;
  out.attr("rows") = py::array_t<std::int64_t>(static_cast<py::ssize_t>(r.rows.size()), r.rows.data());
  out.attr("cols") = py::array_t<std::int64_t>(static_cast<py::ssize_t>(r.cols.size()), r.cols.data());
  out.attr("masses") = py::array_t<double>(static_cast<py::ssize_t>(r.masses.size()), r.masses.data());
  out.attr("u") = Vector(r.u);
  out.attr("v") = Vector(r.v);
  const TransportCertificate& c = r.certificate;
  out.attr("certificate") =
      py::dict("primal"_a = c.primal, "dual"_a = c.dual, "duality_gap"_a = c.duality_gap,
               "max_reduced_cost_violation"_a = c.max_reduced_cost_violation,
               "max_marginal_violation"_a = c.max_marginal_violation, "cost_scale"_a = c.cost_scale);
  out.attr("iterations") = r.iterations;
  SetScalarStatus(out, r.status, r.message, r.seconds,
                  "transport: " + r.cost_name + " = " + FormatReal(r.cost) + " (" + r.solver + ", " +
                      ToString(r.status) + ")");
  return out;
}

py::object Sinkhorn(const py::handle& x, const py::handle& y, const py::handle& a, const py::handle& b,
                    const py::kwargs& kwargs) {
  Options o(kwargs, "pushpull.sinkhorn");
  SinkhornOptions options;
  options.SetFromOptions(o.db);
  o.CheckAllUsed();
  const auto [X, Y] = PointSets(x, y);
  const Eigen::VectorXd wa = Weights(a, X.rows(), "a"), wb = Weights(b, Y.rows(), "b");
  const SinkhornResult r = RunReleased([&] { return SolveSinkhorn(X, Y, wa, wb, options); });
  py::object out = py::cast(TransportRecord());
  out.attr("divergence") = r.divergence;
  out.attr("epsilon") = r.epsilon;
  out.attr("cost_name") = r.cost_name;
  out.attr("transport_cost") = r.xy.transport_cost;
  out.attr("entropic_cost") = r.xy.entropic_cost;
  out.attr("marginal_violation") = r.xy.marginal_violation;
  out.attr("iterations") = r.xy.iterations + r.xx.iterations + r.yy.iterations;
  out.attr("f") = Vector(r.xy.f);
  out.attr("g") = Vector(r.xy.g);
  SetScalarStatus(out, r.status, r.message, r.seconds,
                  "sinkhorn: divergence " + FormatReal(r.divergence) + " (" + r.cost_name + ", epsilon " +
                      FormatReal(r.epsilon) + ", " + ToString(r.status) + ")");
  return out;
}

py::dict Statistic(const TwoSampleStatistic& s) {
  return py::dict("name"_a = s.name, "bandwidth"_a = s.bandwidth, "value"_a = s.value, "variance"_a = s.variance,
                  "standard_error"_a = s.standard_error, "p_value"_a = s.p_value, "exceedances"_a = s.exceedances);
}

py::object TwoSample(const py::handle& x, const py::handle& y, const py::kwargs& kwargs) {
  Options o(kwargs, "pushpull.two_sample");
  TwoSampleOptions options;
  options.SetFromOptions(o.db);
  o.CheckAllUsed();
  const auto [X, Y] = PointSets(x, y);
  const TwoSampleResult r = RunReleased([&] { return CompareSamples(X, Y, options); });
  py::object out = py::cast(TransportRecord());
  py::list mmd;
  for (const TwoSampleStatistic& s : r.mmd) mmd.append(Statistic(s));
  out.attr("mmd") = mmd;
  out.attr("energy") = r.energy.name.empty() ? py::object(py::none()) : py::object(Statistic(r.energy));
  out.attr("median_distance") = r.median_distance;
  out.attr("median_points") = r.median_points;
  out.attr("permutations") = r.permutations;
  std::string report = "two_sample: " + std::to_string(r.mmd.size()) + " MMD bandwidths";
  if (!r.energy.name.empty()) report += ", energy distance " + FormatReal(r.energy.value);
  SetScalarStatus(out, r.status, r.message, r.seconds, report + " (" + ToString(r.status) + ")");
  return out;
}

}  // namespace

bool DeclareTransportOptions(const std::string& command, OptionsDatabase& db, std::string* head) {
  if (command == "transport") {
    ExactTransportOptions o;
    o.SetFromOptions(db);
    *head = "pushpull.transport(x, y, a=None, b=None, **options)";
  } else if (command == "sinkhorn") {
    SinkhornOptions o;
    o.SetFromOptions(db);
    *head = "pushpull.sinkhorn(x, y, a=None, b=None, **options)";
  } else if (command == "two_sample") {
    TwoSampleOptions o;
    o.SetFromOptions(db);
    *head = "pushpull.two_sample(x, y, **options)";
  } else {
    return false;
  }
  return true;
}

void RegisterTransport(py::module_& m) {
  py::class_<TransportRecord>(m, "TransportResult", py::dynamic_attr(),
                              "A transport or two-sample result: values and arrays as attributes, status, summary")
      .def("__repr__", [](py::object self) {
        return "<pushpull.TransportResult " + py::str(self.attr("summary")["report"]).cast<std::string>() + ">";
      });
  m.def("transport", &Transport, "x"_a, "y"_a, "a"_a = py::none(), "b"_a = py::none(),
        "Exact optimal transport between the point sets x (n x d) and y (m x d) with weights a, b (uniform when "
        "None): the optimal cost (W2^2 or W1), the sparse plan (rows, cols, masses), the dual potentials and their "
        "certificate; options as keyword arguments (pushpull.help('transport')).");
  m.def("sinkhorn", &Sinkhorn, "x"_a, "y"_a, "a"_a = py::none(), "b"_a = py::none(),
        "The debiased Sinkhorn divergence between x and y (weights a, b; uniform when None); options as keyword "
        "arguments (pushpull.help('sinkhorn')).");
  m.def("two_sample", &TwoSample, "x"_a, "y"_a,
        "MMD^2 on a Gaussian bandwidth grid and the energy distance between samples x and y, unbiased, with "
        "variances and permutation p-values; options as keyword arguments (pushpull.help('two_sample')).");
}

}  // namespace pushpull::python
