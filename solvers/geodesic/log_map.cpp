// The logarithm map: options (-bvp_*), the -bvp_type registry, the driver with its fallback, and the -bvp_monitor
// printer. The solvers themselves are in single_shooting.cpp and multiple_shooting.cpp.
#include "pushpull/log_map.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <limits>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>

#include "bvp_support.hpp"
#include "geodesic_stats.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

using Eigen::VectorXd;

void LogMapOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix) {
  const std::string p(prefix);
  db.SetSection("Logarithm map (geodesic boundary-value problem)" +
                (p.empty() ? std::string() : " (prefix '" + p + "')"));
  db.Enum(prefix, "bvp_type", type, "Boundary-value solver", "LogMapOptions::type", BvpSolvers().Names());
  db.Enum(prefix, "bvp_init", init,
          "Initial guess: discrete = the discrete geodesic of the decoder (the latent polyline of least decoded "
          "energy, -bvp_discrete_*; metrics without a decoder start from the line); line = the straight segment "
          "z0 -> z1; graph = the shortest path on a k-nearest-neighbour graph of -graph_points, edge weights the "
          "metric lengths of the segments",
          "LogMapOptions::init", {"discrete", "line", "graph"});
  db.Int(prefix, "bvp_segments", segments, "Segments of multiple shooting (also used by the fallback)",
         "LogMapOptions::segments", IntBounds::AtLeast(2));
  db.Real(prefix, "bvp_tol", tol,
          "Convergence test: max |g_u(1) - z1| after re-integrating the final initial velocity u with the "
          "verification integrator (-bvp_verify_ode_*)",
          "LogMapOptions::tol", RealBounds::Positive());
  db.Int(prefix, "bvp_max_iterations", max_iterations, "Levenberg-Marquardt iterations of one solve",
         "LogMapOptions::max_iterations", IntBounds::AtLeast(1));
  db.Real(prefix, "bvp_stop_factor", stop_factor,
          "Levenberg-Marquardt stops once the Euclidean norm of the shot residual is below bvp_stop_factor * "
          "bvp_tol (then the verification decides)",
          "LogMapOptions::stop_factor", RealBounds{0.0, 1.0, true, false});
  db.Int(prefix, "bvp_stagnation_iterations", stagnation_iterations,
         "A Levenberg-Marquardt or Newton iteration (shooting, multiple shooting, collocation) whose residual norm is "
         "above -bvp_stagnation_reduction times its value this many iterations before stops unconverged, and the "
         "next solver of the fallback chain takes over: converging iterations fall far faster, and a stagnating one "
         "(a nearly singular shooting Jacobian near a conjugate point, a trust region that keeps shrinking) would "
         "spend its -bvp_max_iterations for nothing; 0 = never",
         "LogMapOptions::stagnation_iterations", IntBounds::AtLeast(0));
  db.Real(prefix, "bvp_stagnation_reduction", stagnation_reduction,
          "See -bvp_stagnation_iterations", "LogMapOptions::stagnation_reduction", RealBounds{0.0, 1.0, false, true});
  db.Bool(prefix, "bvp_fallback", fallback,
          "When the -bvp_type solver fails, retry by multiple shooting from the initial guess (unless it was the "
          "-bvp_type), then by collocation (-bvp_collocation_*) from the best curve so far (a solver's own curve if "
          "it has one, else the initial guess), then (metrics of a decoder) by discrete geodesics extrapolated to "
          "-bvp_extrapolation_length_rtol; when everything fails the result is 'approximate', with the best "
          "curve found and its length",
          "LogMapOptions::fallback");
  db.Real(prefix, "bvp_collocation_tol", collocation.tol,
          "Collocation: mesh refinement until every interval's relative defect |S' - F(S)|_inf / (1 + |F(S)|_inf) "
          "(S the cubic Hermite interpolant of the solution, F the geodesic system, sampled at a quarter and three "
          "quarters of the interval) is at most this; the Newton iteration stops at a residual of bvp_stop_factor "
          "times this",
          "CollocationOptions::tol", RealBounds::Positive());
  db.Int(prefix, "bvp_collocation_intervals", collocation.intervals,
         "Collocation: intervals of the first mesh (uniform in the initial curve's time, which the discrete geodesic "
         "spaces by data-space length)",
         "CollocationOptions::intervals", IntBounds::AtLeast(1));
  db.Int(prefix, "bvp_collocation_max_intervals", collocation.max_intervals,
         "Collocation: mesh refinement stops at this many intervals (the solve then fails with the defect reached)",
         "CollocationOptions::max_intervals", IntBounds::AtLeast(1));
  db.Real(prefix, "bvp_collocation_trust_radius", collocation.trust_radius,
          "Collocation: initial trust-region radius of the Levenberg-Marquardt iteration on the collocation "
          "equations (Ceres damps a step with 1 / radius times the diagonal of J^T J; the collocation Jacobian has "
          "small singular values next to large diagonal entries, so a large radius, nearly Newton, converges "
          "quadratically from a good initial curve where Ceres' 1e4 crawls; rejected steps shrink it)",
          "CollocationOptions::trust_radius", RealBounds::Positive());
  db.Int(prefix, "bvp_collocation_seed_segments", collocation.seed_segments,
         "As the fallback, collocation starts from a discrete geodesic of this many segments (-bvp_discrete_* "
         "otherwise; metrics of a decoder) instead of the best curve so far (a finer start for Newton's method than "
         "-bvp_discrete_segments gives); 0 = the best curve so far",
         "CollocationOptions::seed_segments", IntBounds::AtLeast(0));
  db.Int(prefix, "bvp_extrapolation_segments", extrapolation.segments,
         "Segments of the coarsest discrete geodesic of the extrapolation (-bvp_type discrete; the minimality check "
         "of hard solves and the result when nothing else is verified, for a metric of a decoder)",
         "ExtrapolationOptions::segments", IntBounds::AtLeast(2));
  db.Int(prefix, "bvp_extrapolation_levels", extrapolation.levels,
         "Discrete geodesics on at least this many meshes (-bvp_extrapolation_segments, doubled each time, each "
         "started from the last) give, by Richardson extrapolation of the last this many, the length and initial "
         "velocity with error estimates; < 2 = no extrapolation (no discrete solver; the approximate result is then "
         "the metric length of the initial curve, an upper bound without estimate)",
         "ExtrapolationOptions::levels", IntBounds::AtLeast(0));
  db.Real(prefix, "bvp_extrapolation_length_rtol", extrapolation.length_rtol,
          "The extrapolation has converged when the length's error estimate is at most this times the length; "
          "finer meshes are added until it is (up to -bvp_extrapolation_max_segments)",
          "ExtrapolationOptions::length_rtol", RealBounds::Positive());
  db.Int(prefix, "bvp_extrapolation_max_segments", extrapolation.max_segments,
         "The finest mesh the extrapolation may add to reach -bvp_extrapolation_length_rtol",
         "ExtrapolationOptions::max_segments", IntBounds::AtLeast(2));
  db.Real(prefix, "bvp_extrapolation_energy_rtol", extrapolation.energy_rtol,
          "Energy test of the extrapolation's discrete minimisations (as -bvp_discrete_rtol): tight, since the "
          "extrapolation needs each level's minimum far more accurately than its discretisation error",
          "ExtrapolationOptions::energy_rtol", RealBounds::Positive());
  db.Real(prefix, "bvp_extrapolation_xtol", extrapolation.xtol,
          "Then each minimisation is polished by undamped Gauss-Newton steps until its largest vertex step is at most "
          "this (latent units): the energy test leaves the vertices accurate to about the square root of its rtol, "
          "and the extrapolated initial velocity needs them far more accurate; 0 = no polish",
          "ExtrapolationOptions::xtol", RealBounds::NonNegative());
  db.Int(prefix, "bvp_extrapolation_max_iterations", extrapolation.max_iterations,
         "Levenberg-Marquardt iterations of each of those minimisations (a level that stops here is reported, and "
         "the extrapolation has not converged)",
         "ExtrapolationOptions::max_iterations", IntBounds::AtLeast(1));
  db.Bool(prefix, "bvp_extrapolation_verify", extrapolation.verify,
          "Re-integrate the extrapolated initial velocity (-bvp_verify_ode_*): within -bvp_tol of z1 the result is "
          "success, else extrapolated with the miss as endpoint_error; false = no shot (endpoint_error NaN, status "
          "extrapolated), for distances alone",
          "ExtrapolationOptions::verify");
  db.Bool(prefix, "bvp_extrapolation_newton", extrapolation.newton,
          "Those minimisations take exact-Hessian (Newton) steps whenever the Hessian is positive definite, else "
          "Gauss-Newton steps (as -bvp_discrete_newton): Gauss-Newton alone converges linearly to the tight "
          "-bvp_extrapolation_energy_rtol and -bvp_extrapolation_xtol, on sharply bending geodesics of trained "
          "decoders in hundreds of iterations per mesh (20 times slower)",
          "ExtrapolationOptions::newton");
  db.Int(prefix, "bvp_minimality_check_iterations", minimality_check_iterations,
         "A verified geodesic whose solve took more than this many iterations (or came from a fallback solver) is "
         "also compared with the extrapolated discrete geodesic (-bvp_extrapolation_*; metrics of a decoder) and "
         "reported not_minimal when longer than it by more than -bvp_minimality_rtol and its error estimate; easy "
         "solves (the presolve and a few Newton steps) skip that cost",
         "LogMapOptions::minimality_check_iterations", IntBounds::AtLeast(0));
  db.Real(prefix, "bvp_minimality_rtol", minimality_rtol,
          "Minimality check: a verified geodesic longer than (1 + this) times the metric length of the initial "
          "curve (Gauss-Legendre, plus its quadrature error estimate and the metric length of a -bvp_tol miss at z1), "
          "an upper bound of the distance, is re-solved "
          "by collocation from that curve; if it stays longer its status is not_minimal. Negative = no check",
          "LogMapOptions::minimality_rtol");
  db.Real(prefix, "bvp_presolve_rtol", presolve_rtol,
          "Single and multiple shooting first iterate with shots at this rtol (atol scaled alike) down to a "
          "residual max(bvp_tol, bvp_presolve_rtol); then both refine (-bvp_refine_iterations) and, if that does "
          "not converge, finish with the -bvp_ode_rtol shots; 0 (or a value <= -bvp_ode_rtol) = no presolve",
          "LogMapOptions::presolve_rtol", RealBounds::NonNegative());
  db.Real(prefix, "bvp_presolve_coarse_rtol", presolve_coarse_rtol,
          "Before the presolve, single shooting iterates with shots at this rtol down to a residual of "
          "bvp_presolve_coarse_rtol (the first, long steps from a rough guess need no accurate shots; skipped for "
          "a converged discrete-geodesic guess, which needs no long steps); 0 (or a value <= -bvp_presolve_rtol) = "
          "no coarse level",
          "LogMapOptions::presolve_coarse_rtol", RealBounds::NonNegative());
  db.Real(prefix, "bvp_presolve_coarse_trust_radius", presolve_coarse_trust_radius,
          "Initial trust-region radius of the coarse level's Levenberg-Marquardt: Ceres damps the first step with "
          "1 / radius times the diagonal of J^T J (10: a tenth; the other phases start at Ceres' 1e4, "
          "nearly Gauss-Newton). The first steps from a straight-line guess overshoot often, and a rejected step "
          "costs a shot",
          "LogMapOptions::presolve_coarse_trust_radius", RealBounds::Positive());
  db.Int(prefix, "bvp_presolve_max_steps", presolve_max_steps,
         "Step limit of a presolve shot: a trial velocity whose geodesic runs into a singularity of the metric "
         "fails after this many steps instead of -bvp_ode_max_steps (converged loose shots of smooth metrics take "
         "tens of steps)",
         "LogMapOptions::presolve_max_steps", IntBounds::AtLeast(1));
  db.Int(prefix, "bvp_refine_iterations", refine_iterations,
         "After the presolve, up to this many Newton steps with the presolve's end-point Jacobian (multiple "
         "shooting: composed from its segments), each residual from a shot of the verification integrator over "
         "[0, 1], while the residual falls; they stop below bvp_stop_factor * bvp_tol, else the -bvp_ode_rtol "
         "Levenberg-Marquardt iteration takes over (0 = always the latter)",
         "LogMapOptions::refine_iterations", IntBounds::AtLeast(0));
  db.Int(prefix, "bvp_start_halvings", start_halvings,
         "When the shot of single shooting's initial velocity fails (the geodesic meets a singularity of the metric "
         "before t = 1), the velocity is halved until a shot integrates, at most this many times",
         "LogMapOptions::start_halvings", IntBounds::AtLeast(0));
  db.Bool(prefix, "bvp_jacobian_error_control", shots.jacobian_error_control,
          "Include the end-point sensitivities of the shots in the integrator's error control (more steps, a more "
          "accurate Levenberg-Marquardt Jacobian; the converged geodesic does not depend on it)",
          "GeodesicOptions::jacobian_error_control");
  shots.SetFromOptions(db, p + "bvp_", /*shots=*/true);
  verify.SetFromOptions(db, p + "bvp_verify_");
  discrete.SetFromOptions(db, p + "bvp_discrete_");
  // The constraints between options (each option's own bound is in its declaration above).
  if (collocation.max_intervals < collocation.intervals) {
    throw InputError("option -" + p + "bvp_collocation_max_intervals: " + std::to_string(collocation.max_intervals) +
                     " must be >= -" + p + "bvp_collocation_intervals (" + std::to_string(collocation.intervals) +
                     ")");
  }
}

std::string LogMapOptions::Validate() const {
  LogMapOptions copy = *this;
  return CheckDeclared([&](OptionsDatabase& db) { copy.SetFromOptions(db); });
}

std::string ResolveBvpType(const Metric& metric, const LogMapOptions& options) {
  if (options.type != "auto") return options.type;
  const auto* pullback = dynamic_cast<const PullbackMetric*>(&metric);
  const bool jumps = pullback && pullback->decoder().smoothness() < 2;
  return jumps && options.extrapolation.levels >= 2 ? "discrete" : "multiple_shooting";
}

namespace {

// -bvp_type auto as a registered solver (research code that creates solvers from the registry): the solver
// ResolveBvpType picks for the metric.
class AutoBvp : public BvpSolver {
 public:
  explicit AutoBvp(const LogMapOptions& options) : options_(options) {}
  LogMapResult Solve(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const InitialCurve& guess,
                     BvpMonitor* monitor) override {
    return BvpSolvers().Create(ResolveBvpType(metric, options_), options_)->Solve(metric, z0, z1, guess, monitor);
  }

 private:
  LogMapOptions options_;
};

}  // namespace

BvpSolverRegistry& BvpSolvers() {
  static BvpSolverRegistry* registry = [] {
    auto* r = new BvpSolverRegistry("bvp_type");
    r->Register("shooting",
                "single shooting: Levenberg-Marquardt on the initial velocity, Jacobian from CVODES sensitivities",
                [](const LogMapOptions& o) { return MakeSingleShooting(o); });
    r->Register("multiple_shooting",
                "multiple shooting over -bvp_segments segments: block-sparse Jacobian, sparse Levenberg-Marquardt",
                [](const LogMapOptions& o) { return MakeMultipleShooting(o); });
    r->Register("collocation",
                "collocation (Lobatto IIIA / MIRK4) on a mesh seeded by the initial curve: sparse Newton, defect "
                "control and mesh refinement, verified by re-integration",
                [](const LogMapOptions& o) { return MakeCollocation(o); });
    r->Register("discrete",
                "discrete geodesics on finer and finer meshes with Richardson extrapolation of the length and the "
                "initial velocity (-bvp_extrapolation_*; metrics of a decoder): needs no geodesic equation",
                [](const LogMapOptions& o) { return MakeDiscreteExtrapolation(o); });
    r->Register("auto",
                "discrete for a decoder whose second derivative jumps (elu: the geodesic equation's right-hand side "
                "jumps too), multiple_shooting otherwise",
                [](const LogMapOptions& o) -> std::unique_ptr<BvpSolver> { return std::make_unique<AutoBvp>(o); });
    return r;
  }();
  return *registry;
}

namespace {

// The -bvp_init guess when the caller gives none: the discrete geodesic for a metric of a decoder, else the line.
InitialCurve DefaultGuess(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const LogMapOptions& options) {
  static const int kEventDiscrete = EventLog::Global().Register("DiscreteGeodesic");
  InitialCurve line = InitialCurve::Line(z0, z1);
  if (options.init != "discrete") return line;
  const auto* pullback = dynamic_cast<const PullbackMetric*>(&metric);
  if (!pullback) {
    line.description = "line (the metric has no decoder for a discrete geodesic)";
    return line;
  }
  ScopedEvent event(kEventDiscrete);
  InitialCurve curve = MinimizeDiscreteEnergy(pullback->decoder(), z0, z1, options.discrete).ToInitialCurve();
  const std::string problem = curve.Validate(z0, z1);
  if (problem.empty()) return curve;
  line.description = "line (the discrete geodesic is not usable: " + problem + ")";
  return line;
}

// Turns a failed result into kApproximate: `curve` (its velocity at 0 as the initial velocity), `length` with its
// error estimate, and a message saying what the length is (`what`) after why nothing was verified.
void MakeApproximate(InitialCurve curve, double length, double length_error, const std::string& what,
                     LogMapResult* result) {
  result->message = "no solver was verified (" + result->message + "); the length is " + what;
  result->status = GeodesicStatus::kApproximate;
  result->initial_velocity = curve.velocities.empty() ? curve.VelocityAt(0.0) : curve.velocities.front();
  result->curve = std::move(curve);
  result->length = length;
  result->energy = length * length;
  result->length_error = length_error;
}

}  // namespace

namespace {

LogMapResult SolveLogMap(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const LogMapOptions& options,
                         const InitialCurve* guess, BvpMonitor* monitor) {
  const int d = metric.dim();
  if (z0.size() != d || z1.size() != d) {
    throw InputError("LogMap: z0 has " + std::to_string(z0.size()) + " and z1 " + std::to_string(z1.size()) +
                     " entries, the metric's dimension is " + std::to_string(d));
  }
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError("LogMap: " + problem);
  if (!guess && options.init == "graph") {
    throw InputError("LogMap: -bvp_init graph needs the graph's guess (GeodesicGraph::ShortestPath) passed as guess");
  }
  if (guess) {
    const std::string bad_guess = guess->Validate(z0, z1);
    if (!bad_guess.empty()) throw InputError("LogMap: " + bad_guess);
  }

  LogMapResult result;
  result.solver = ResolveBvpType(metric, options);
  std::string why;
  if (!metric.InDomain(z0, &why) || !metric.InDomain(z1, &why)) {
    result.status = GeodesicStatus::kOutsideDomain;
    result.message = "end point outside the domain: " + why;
    return result;
  }
  const InitialCurve start = guess ? *guess : DefaultGuess(metric, z0, z1, options);
  const std::string type = ResolveBvpType(metric, options);
  // The discrete geodesics with Richardson extrapolation from the initial curve (metrics of a decoder), computed once
  // and extended as needed: the discrete solver, the minimality check of hard solves and the last fallback.
  const auto* pullback = dynamic_cast<const PullbackMetric*>(&metric);
  ExtrapolatedDiscreteGeodesic extrapolated;
  if (type == "discrete") {
    result = bvp::SolveByExtrapolation(metric, z0, z1, start, options, &extrapolated);
  } else {
    result = BvpSolvers().Create(type, options)->Solve(metric, z0, z1, start, monitor);
  }
  if (result.status == GeodesicStatus::kOutsideDomain) return result;
  const bool can_collocate = metric.HasAccelerationTangent();
  // The fallback chain: multiple shooting (unless it was the -bvp_type solver) from the initial curve (from the
  // discrete solver's finest curve after it), then collocation from the best curve so far.
  // Collocation is the last resort: when it was the -bvp_type solver, nothing follows it.
  if (!result.usable() && options.fallback && can_collocate && type != "collocation") {
    for (const char* next : {"multiple_shooting", "collocation"}) {
      if (type == next || result.usable()) continue;
      const bool colloc = std::string(next) == "collocation";
      const bool own_curve = (colloc || result.solver == "discrete") && result.curve.times.size() >= 2;
      InitialCurve from = own_curve ? result.curve : start;
      if (colloc && options.collocation.seed_segments > 0) {
        LogMapOptions seed = options;
        seed.init = "discrete";
        seed.discrete.segments = options.collocation.seed_segments;
        InitialCurve fine = DefaultGuess(metric, z0, z1, seed);
        if (fine.times.size() > 2) from = std::move(fine);
      }
      LogMapResult retry = BvpSolvers().Create(next, options)->Solve(metric, z0, z1, from, monitor);
      retry.iterations += result.iterations;
      std::string name = next;
      std::replace(name.begin(), name.end(), '_', ' ');
      retry.message = "fallback " + name + (retry.usable() ? " " : " also failed: ") + retry.message + " (" +
                      result.solver + " failed first: " + result.message + ")";
      if (retry.curve.times.size() < 2) retry.curve = result.curve;  // keep the best curve so far
      result = std::move(retry);
    }
  }
  auto extrapolate = [&]() -> const ExtrapolatedDiscreteGeodesic& {
    if (extrapolated.segments.empty()) {
      bvp::ExtendExtrapolation(pullback->decoder(), z0, z1, options, false, start, &extrapolated);
    }
    return extrapolated;
  };
  const auto describe = bvp::DescribeExtrapolation;
  // Minimality: the initial curve's metric length bounds the distance from above.
  double bound_error = 0;
  if (options.minimality_rtol >= 0 || (!result.usable() && options.fallback)) {
    result.curve_length_bound = MetricLength(metric, start, &bound_error);
  }
  // A verified length is accurate to about the metric length of a bvp_tol miss at z1.
  const double miss_length = std::sqrt(metric.Evaluate(z1).norm()) * options.tol;
  auto too_long = [&](const LogMapResult& r) {
    return std::isfinite(result.curve_length_bound) &&
           r.length > (1 + options.minimality_rtol) * result.curve_length_bound + bound_error + miss_length;
  };
  if (result.usable() && options.minimality_rtol >= 0 && too_long(result)) {
    const std::string first = "the " + result.solver + " geodesic's length " + FormatReal(result.length) +
                              " exceeds the metric length " + FormatReal(result.curve_length_bound) + " of the " +
                              start.description + " initial curve";
    LogMapResult retry;
    bool retried = false;
    if (can_collocate && (options.type != "collocation" || result.solver != "collocation")) {
      retry = MakeCollocation(options)->Solve(metric, z0, z1, start, monitor);
      retried = true;
    }
    const int iterations = result.iterations + (retried ? retry.iterations : 0);
    if (retried && retry.usable() && retry.length < result.length) {
      retry.minimality = first + "; collocation from that curve found a geodesic of length " +
                         FormatReal(retry.length);
      result = std::move(retry);
    } else {
      result.minimality = first + (retried ? "; collocation from that curve did not find a shorter geodesic (" +
                                                 retry.message + ")"
                                           : "");
    }
    result.iterations = iterations;
    if (too_long(result)) {
      result.status = GeodesicStatus::kNotMinimal;
      result.message = "not the distance: " + result.minimality + ". " + result.message;
    } else {
      result.message += " (minimality check: " + result.minimality + ")";
    }
  }
  // A geodesic of a hard solve (a fallback solver, or more than -bvp_minimality_check_iterations iterations: on the
  // trained development decoders every converged geodesic that was longer than the distance came from one) is also
  // compared with the extrapolated discrete geodesic, a far tighter bound than the initial curve's length.
  const bool hard = result.solver != type || result.iterations > options.minimality_check_iterations;
  if (result.usable() && options.minimality_rtol >= 0 && hard && result.solver != "discrete" && pullback &&
      options.extrapolation.levels >= 2) {
    const ExtrapolatedDiscreteGeodesic& x = extrapolate();
    const auto excess = [&] { return result.length - (1 + options.minimality_rtol) * x.length.value - miss_length; };
    const auto estimate = [&] { return std::isfinite(x.length.error) ? x.length.error : 0.0; };
    // Longer than the discrete geodesics' limit, but within its error estimate: undecided (another, longer geodesic,
    // or the same one and a coarse estimate). Finer meshes until the estimate decides, up to
    // -bvp_extrapolation_max_segments (a geodesic 0.2% longer than the distance passed the coarse check).
    while (x.converged && std::isfinite(x.length.value) && excess() > 0 && excess() <= estimate()) {
      const std::size_t levels = x.segments.size();
      bvp::ExtendExtrapolation(pullback->decoder(), z0, z1, options, true, start, &extrapolated, excess() / 2);
      if (x.segments.size() == levels) break;
    }
    if (x.converged && std::isfinite(x.length.value) && excess() > estimate()) {
      result.minimality = "the " + result.solver + " geodesic's length " + FormatReal(result.length) +
                          " exceeds the distance by discrete geodesics " + describe(x);
      result.status = GeodesicStatus::kNotMinimal;
      result.message = "not the distance: " + result.minimality + ". " + result.message;
    }
  }
  // Nothing verified (or a geodesic that is not the distance): for a metric of a decoder, the discrete geodesics
  // extrapolated to -bvp_extrapolation_length_rtol (the discrete solver, unless it ran first), a method that needs no
  // integration and converges wherever the energy can be minimised; when they do not converge either, the
  // approximate result from them, or else the best curve found.
  const bool failed = !result.usable() && options.fallback && can_collocate &&
                      result.status != GeodesicStatus::kOutsideDomain && result.status != GeodesicStatus::kNotMinimal;
  if ((failed || result.status == GeodesicStatus::kNotMinimal) && pullback && options.extrapolation.levels >= 2) {
    if (result.status == GeodesicStatus::kNotMinimal) {
      // The geodesic found is not the distance: the discrete geodesics extrapolated to tolerance are (usable when
      // they converge; the not_minimal result otherwise, with their estimate in the message).
      LogMapResult distance = bvp::SolveByExtrapolation(metric, z0, z1, start, options, &extrapolated);
      if (distance.usable()) {
        distance.iterations += result.iterations;
        distance.minimality = result.minimality;
        distance.curve_length_bound = result.curve_length_bound;
        distance.message = "the distance by discrete geodesics, since the " + result.solver +
                           " geodesic is not the distance (" + result.minimality + "): " + distance.message;
        return distance;
      }
      if (result.minimality.find("by discrete geodesics") == std::string::npos) {
        result.message += " The distance by discrete geodesics: " + describe(extrapolated) + ".";
      }
    } else {
      const bool ran_first = result.solver == "discrete" || !extrapolated.segments.empty();
      LogMapResult last = bvp::SolveByExtrapolation(metric, z0, z1, start, options, &extrapolated);
      last.iterations += result.iterations;
      if (last.usable()) {
        last.message = (ran_first ? "" : "fallback discrete: ") + last.message + " (" + result.solver +
                       " failed first: " + result.message + ")";
        return last;
      }
      if (std::isfinite(extrapolated.length.value)) {
        MakeApproximate(extrapolated.finest.ToInitialCurve(), extrapolated.length.value,
                        extrapolated.converged ? extrapolated.length.error : std::numeric_limits<double>::quiet_NaN(),
                        describe(extrapolated), &result);
        if (extrapolated.initial_velocity.size() == z0.size()) result.initial_velocity = extrapolated.initial_velocity;
        return result;
      }
    }
  }
  if (failed && result.status != GeodesicStatus::kApproximate && std::isfinite(result.curve_length_bound)) {
    MakeApproximate(start, result.curve_length_bound, std::numeric_limits<double>::quiet_NaN(),
                    "the metric length of the " + start.description +
                        " initial curve, an upper bound of the distance (quadrature error " +
                        FormatReal(bound_error) + ")",
                    &result);
  }
  return result;
}

}  // namespace

LogMapResult LogMap(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const LogMapOptions& options,
                    const InitialCurve* guess, BvpMonitor* monitor) {
  static const int kEventLogMap = EventLog::Global().Register("LogMap");
  ScopedEvent event(kEventLogMap);
  const auto start = std::chrono::steady_clock::now();
  bvp::GeodesicStatsScope scope;
  LogMapResult result = SolveLogMap(metric, z0, z1, options, guess, monitor);
  result.stats = scope.stats();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

namespace {

class BvpPrinter : public BvpMonitor {
 public:
  BvpPrinter(std::ostream& out, std::string label) : out_(out), label_(std::move(label)) {}
  void operator()(const BvpIterationEvent& e) override {
    std::ostringstream line;
    line << label_ << (label_.empty() ? "" : ": ") << e.solver << " it " << std::setw(3) << e.iteration
         << std::scientific << std::setprecision(3) << "  cost " << e.cost << "  |grad| " << e.gradient_max_norm
         << "  |step| " << e.step_norm << "  radius " << e.trust_region_radius
         << (e.iteration == 0 ? "" : e.step_successful ? "  accepted" : "  rejected") << "\n";
    out_ << line.str() << std::flush;
  }

 private:
  std::ostream& out_;
  std::string label_;
};

}  // namespace

std::unique_ptr<BvpMonitor> MakeBvpPrinter(std::ostream& out, std::string label) {
  return std::make_unique<BvpPrinter>(out, std::move(label));
}

}  // namespace pushpull
