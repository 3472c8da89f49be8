// The geodesic cases of docs/math.md section 4, registered as `pushpull validate` cases ("GEO-...").
//
// Each case runs the logarithm map (-bvp_type shooting, multiple_shooting and collocation, each without the fallback,
// -bvp_*; collocation with -bvp_collocation_tol max(tol, 1e-8), its answer verified and polished like the others) on
// random pairs of a closed-form geometry at the shot tolerances 1e-6, 1e-8, 1e-10 and the exponential map (-geo_ode_*)
// on random initial velocities, and compares with closed forms. The sphere case adds near-antipodal pairs (single
// shooting, with the fallback, multiple shooting, collocation, and from the graph initial guess). Sweep rows carry
// named metrics (validation.hpp KnownMetrics()):
//   log-map rows: method "single-shooting" / "multiple-shooting" / "collocation" (...), kind "log-map",
//     max/mean_rel_distance_error = |L - d| / d, max/mean_error_endpoint = max |Exp_z0(u)(1) - z1| of the returned u
//     (re-integrated here independently at rtol 1e-12), iterations_per_pair = Levenberg-Marquardt (and polishing
//     Newton) iterations, nfe_per_pair = right-hand-side evaluations of the engine's verifying integration,
//     failed = pairs not converged;
//   exp-map rows: method "exp-map (<ode type>)", kind "exp-map", max/mean_rel_speed_drift =
//     |g'^T M g' (1) - (0)| / (u^T M u), max/mean_error_endpoint against the closed form where there is one,
//     steps_per_geodesic, nfe_per_geodesic.
// Every check states its pass threshold where it is made; a non-finite value never passes.
#include "geodesic_cases.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <sstream>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/geodesic_graph.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/mlp.hpp"

namespace pushpull::validation {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// --- Pass thresholds ------------------------------------------------------------------------------------------
// Distance, drift and end-point errors relative to the tolerance of the solve.
constexpr double kAccuracyFactor = 100.0;
// Near-antipodal sphere pairs at angle pi - gap: from this gap on, the graph guess is required to lead to the short
// arc (closer to the antipode the arcs' basins are within the guess's error).
constexpr double kResolvedGap = 0.01;
// Relative speed drift of an exp-map integration over t in [0, 1] against its rtol. Looser than kAccuracyFactor:
// the drift is the global error of g' (not of a converged end point), which grows relative to rtol as rtol
// tightens (measured: up to ~110 x rtol on the MLP decoder at rtol 1e-10). A wrong acceleration (1 % off) drifts
// by ~1e-2 and still fails at every tolerance.
constexpr double kDriftFactor = 1000.0;
// "Error falls with tolerance": over the four decades 1e-6 -> 1e-10 the largest distance error must fall at least
// tenfold, unless it is already at round-off (straight lines are exact for any tolerance).
constexpr double kFallFactor = 0.1;
constexpr double kRoundOff = 1e-12;
// Two formulas for the same acceleration / metric agree to this relative accuracy (both are exact to round-off).
constexpr double kFormulaAgreement = 1e-11;
// The end point of the returned initial velocity, re-integrated independently: within this many bvp_tol.
constexpr double kEndpointFactor = 2.0;

const std::vector<double> kTolerances = {1e-6, 1e-8, 1e-10};
const char* kBvp = "single-shooting";

std::string Fmt(double v) {
  std::ostringstream s;
  s.precision(3);
  s << v;
  return s.str();
}


// The log map at tolerance `tol` (as -bvp_type type -bvp_ode_rtol tol -bvp_ode_atol tol/100
// -bvp_tol max(1000 tol, 1e-8) -bvp_fallback false: each solver is validated on its own; collocation also
// -bvp_collocation_tol max(tol, 1e-8)).
LogMapOptions Shoot(double tol, const std::string& type = "shooting") {
  LogMapOptions s;
  s.type = type;
  s.fallback = false;
  s.shots.ode.rtol = tol;
  s.shots.ode.atol = tol * 1e-2;
  s.tol = std::max(1e3 * tol, 1e-8);
  // The verification integrator follows, so that the converged distance's error shrinks with the tolerance.
  s.verify.ode.rtol = std::max(1e-2 * tol, 1e-13);
  s.verify.ode.atol = 1e-2 * s.verify.ode.rtol;
  // Collocation's own accuracy is its defect tolerance, not the shots' rtol: it follows the tolerance too. With the
  // default -bvp_collocation_tol (1e-6) at every tolerance the collocation's initial velocity alone often meets the
  // polish's stop norm (bvp_stop_factor * bvp_tol = 1e-9 at tol 1e-10), so the answer at tol 1e-10 was the one at
  // 1e-6 and "error falls with tolerance" failed (full level: torus and Poincare). Not below 1e-8: the defect falls
  // like h^3, and a sphere pair that needs 192 intervals at 1e-7 (tests/test_collocation.cpp) would need about 2000
  // at 1e-10, above the default -bvp_collocation_max_intervals (1024). Only for -bvp_type collocation: the fallback
  // variants keep the default.
  if (type == "collocation") s.collocation.tol = std::max(tol, 1e-8);
  return s;
}

// The BVP solvers every closed-form case runs, with the method names of the report.
struct BvpVariant {
  const char* method;
  const char* type;
};
constexpr BvpVariant kBvpVariants[] = {
    {"single-shooting", "shooting"}, {"multiple-shooting", "multiple_shooting"}, {"collocation", "collocation"}};

GeodesicOptions ExpTol(double tol) {
  GeodesicOptions g;
  g.ode.rtol = tol;
  g.ode.atol = tol * 1e-2;
  return g;
}

std::shared_ptr<const Metric> Wrap(const MetricWrapper& wrap, std::shared_ptr<const Metric> m) {
  return wrap ? wrap(std::move(m)) : m;
}

// How far a geodesic's length may be from the distance of its target because it ends at `shot.end_point` = y and
// not at z1: by the triangle inequality |d(z0, y) - d(z0, z1)| <= d(y, z1) ~ sqrt(e^T M(z1) e), e = y - z1; twice
// that, for the metric's variation over e. Infinite when the shot failed.
double EndPointAllowance(const Metric& metric, const VectorXd& z1, const ExpMapResult& shot) {
  if (!shot.usable()) return std::numeric_limits<double>::infinity();
  const VectorXd e = shot.end_point - z1;
  return 2.0 * std::sqrt(std::max(0.0, e.dot(metric.Evaluate(z1) * e)));
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

VectorXd Uniform(std::mt19937_64& rng, const VectorXd& lo, const VectorXd& hi) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  VectorXd z(lo.size());
  for (Eigen::Index i = 0; i < lo.size(); ++i) z[i] = lo[i] + (hi[i] - lo[i]) * u(rng);
  return z;
}

VectorXd Normal(std::mt19937_64& rng, int n, double scale = 1.0) {
  std::normal_distribution<double> g(0.0, scale);
  return VectorXd::NullaryExpr(n, [&] { return g(rng); });
}

MatrixXd NormalMatrix(std::mt19937_64& rng, int r, int c) {
  std::normal_distribution<double> g(0.0, 1.0);
  return MatrixXd::NullaryExpr(r, c, [&] { return g(rng); });
}

VectorXd V2(double a, double b) {
  VectorXd v(2);
  v << a, b;
  return v;
}

struct Pair {
  VectorXd z0, z1;
  double distance = 0;  // closed form (or reference)
};

struct Start {
  VectorXd z, u;
};

// Log map of every pair at each tolerance: one sweep row and three checks per tolerance, and the "error falls with
// tolerance" check. `what` says what the pairs and the reference distance are.
void ShootingSweep(CaseReport& report, const Metric& metric, const std::vector<Pair>& pairs,
                   const std::string& what) {
  for (const BvpVariant& variant : kBvpVariants) {
    const char* bvp_method = variant.method;
    std::vector<double> errs;
    for (double tol : kTolerances) {
      const LogMapOptions o = Shoot(tol, variant.type);
      const auto t0 = std::chrono::steady_clock::now();
      SweepRow row;
      row.method = bvp_method;
      row.kind = "log-map";
      row.error_metric = "max_rel_distance_error";  // a tolerance sweep (console table, HTML plots)
      row.cost_metric = "nfe_per_pair";
      row.dimension = metric.dim();
      row.tolerance = tol;
      double iters = 0, nfe = 0, sum_x = 0, sum_d = 0, max_x = 0, max_d = 0;
      double unexplained = 0;  // the largest relative distance error beyond the end-point allowance (below)
      int ok = 0;
      std::string first_failure;
      for (const Pair& p : pairs) {
        const LogMapResult l = LogMap(metric, p.z0, p.z1, o);
        iters += l.iterations;
        nfe += static_cast<double>(l.final_shot.stats.rhs_evals);
        if (!l.usable()) {
          ++row.failed;
          if (first_failure.empty()) {
            first_failure = std::string(ToString(l.status)) + " from " + FormatPoint(p.z0) + " to " + FormatPoint(p.z1) +
                            ": " + l.message;
          }
          continue;
        }
        // The end point of the returned initial velocity, re-integrated here independently of the engine's own
        // verification.
        const ExpMapResult check = ExpMap(metric, p.z0, l.initial_velocity, ExpTol(1e-12));
        const double ex = check.usable() ? (check.end_point - p.z1).cwiseAbs().maxCoeff()
                                         : std::numeric_limits<double>::infinity();
        // A solve may leave its end point up to bvp_tol from z1: the distance error beyond what that explains is
        // the solver's own.
        const double allowance = EndPointAllowance(metric, p.z1, check);
        const double ed = std::abs(l.length - p.distance) / p.distance;
        unexplained = std::max(unexplained, std::max(0.0, std::abs(l.length - p.distance) - allowance) / p.distance);
        max_x = std::max(max_x, ex);
        max_d = std::max(max_d, ed);
        sum_x += ex;
        sum_d += ed;
        ++ok;
      }
      const double n = static_cast<double>(pairs.size());
      if (row.failed > 0 || !std::isfinite(max_d)) max_x = max_d = std::numeric_limits<double>::infinity();
      row.Set("max_rel_distance_error", max_d);
      row.Set("mean_rel_distance_error", ok ? sum_d / ok : 0);
      row.Set("max_error_endpoint", max_x);
      row.Set("mean_error_endpoint", ok ? sum_x / ok : 0);
      row.Set("iterations_per_pair", iters / n);
      row.Set("nfe_per_pair", nfe / n);
      row.seconds = Seconds(t0);
      report.sweep.push_back(row);
      const std::string count = std::to_string(pairs.size()) + " " + what;
      report.checks.push_back(MakeCheck("shooting converges", bvp_method, tol, row.failed, "<=", 0,
                                        "pairs not converged out of " + count +
                                            (first_failure.empty() ? "" : "; first: " + first_failure)));
      if (row.failed > 0) unexplained = std::numeric_limits<double>::infinity();
      report.checks.push_back(MakeCheck("distance error", bvp_method, tol, unexplained, "<=", kAccuracyFactor * tol,
                                        "largest relative error (|L - d| - 2 |y - z1|_M(z1)) / d over " + count +
                                            " (y the end point of the returned u: the part of the error its "
                                            "end-point miss does not explain; |L - d| / d itself is at most " +
                                            Fmt(max_d) + "); threshold " + Fmt(kAccuracyFactor) +
                                            " x tol"));
      report.checks.push_back(MakeCheck("end-point error", bvp_method, tol, max_x, "<=",
                                        kEndpointFactor * o.tol,
                                        "largest max |Exp_z0(u)(1) - z1| of the returned u, re-integrated at rtol "
                                        "1e-12, over " + count + "; threshold " + Fmt(kEndpointFactor) +
                                            " x bvp_tol = " + Fmt(kEndpointFactor * o.tol)));
      errs.push_back(max_d);
    }
    const double loose = errs.front(), tight = errs.back();
    report.checks.push_back(MakeCheck(
        "error falls with tolerance", bvp_method, 0, tight, "<=", std::max(kFallFactor * loose, kRoundOff),
        "largest relative distance error at tol " + Fmt(kTolerances.back()) + " (" + Fmt(tight) + ") against tol " +
            Fmt(kTolerances.front()) + " (" + Fmt(loose) + "): must fall by " + Fmt(1 / kFallFactor) +
            "x or be at round-off (" + Fmt(kRoundOff) + ")"));
  }
}

// Exp map from every start at each tolerance: relative speed drift (g'^T M g' is constant on a geodesic) and, when
// `exact` is given, the end point against the closed form (relative to max(1, |exact|)).
void ExpChecks(CaseReport& report, const Metric& metric, const std::vector<Start>& starts, const std::string& what,
               const std::function<VectorXd(const VectorXd&, const VectorXd&)>& exact = {}) {
  for (double tol : kTolerances) {
    const GeodesicOptions g = ExpTol(tol);
    const std::string method = "exp-map (" + g.ode.type + ")";
    const auto t0 = std::chrono::steady_clock::now();
    SweepRow row;
    row.method = method;
    row.kind = "exp-map";
    row.dimension = metric.dim();
    row.tolerance = tol;
    double steps = 0, nfe = 0, sum_x = 0, sum_d = 0, max_x = 0, max_d = 0;
    int ok = 0;
    std::string first_failure;
    for (const Start& s : starts) {
      const ExpMapResult r = ExpMap(metric, s.z, s.u, g);
      steps += static_cast<double>(r.stats.steps);
      nfe += static_cast<double>(r.stats.rhs_evals);
      if (!r.usable()) {
        ++row.failed;
        if (first_failure.empty()) first_failure = std::string(ToString(r.status)) + ": " + r.message;
        continue;
      }
      const double drift = r.speed_drift / r.initial_speed2;
      double ex = 0;
      if (exact) {
        const VectorXd e = exact(s.z, s.u);
        ex = (r.end_point - e).cwiseAbs().maxCoeff() / std::max(1.0, e.cwiseAbs().maxCoeff());
      }
      max_d = std::max(max_d, drift);
      max_x = std::max(max_x, ex);
      sum_d += drift;
      sum_x += ex;
      ++ok;
    }
    const double n = static_cast<double>(starts.size());
    if (row.failed > 0) max_x = max_d = std::numeric_limits<double>::infinity();
    row.Set("max_rel_speed_drift", max_d);
    row.Set("mean_rel_speed_drift", ok ? sum_d / ok : 0);
    if (exact) {
      row.Set("max_error_endpoint", max_x);
      row.Set("mean_error_endpoint", ok ? sum_x / ok : 0);
    }
    row.Set("steps_per_geodesic", steps / n);
    row.Set("nfe_per_geodesic", nfe / n);
    row.seconds = Seconds(t0);
    report.sweep.push_back(row);
    const std::string count = std::to_string(starts.size()) + " " + what +
                              (first_failure.empty() ? "" : "; first failure: " + first_failure);
    report.checks.push_back(MakeCheck("speed g'^T M g' constant (" + what + ")", method, tol, max_d,
                                      "<=", kDriftFactor * tol,
                                      "largest relative drift |g'^T M g' (1) - (0)| / (u^T M u) over " + count +
                                          "; threshold " + Fmt(kDriftFactor) + " x tol"));
    if (exact) {
      report.checks.push_back(MakeCheck("exp-map end point = closed form (" + what + ")", method, tol,
                                        max_x, "<=", kAccuracyFactor * tol,
                                        "largest max-norm end-point error relative to max(1, |exact|) over " + count +
                                            "; threshold " + Fmt(kAccuracyFactor) + " x tol"));
    }
  }
}

// Largest relative difference max|a - b| / max(1, max|b|) of two formulas over random (z, u).
template <class F>
double WorstAgreement(int n, F&& pair_of) {
  double worst = 0;
  for (int k = 0; k < n; ++k) {
    const auto [a, b] = pair_of(k);
    if (a.size() != b.size() || !a.allFinite()) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, (a - b).cwiseAbs().maxCoeff() / std::max(1.0, b.cwiseAbs().maxCoeff()));
  }
  return worst;
}

VectorXd Acc(const Metric& m, const VectorXd& z, const VectorXd& u) {
  VectorXd a;
  if (!m.Acceleration(z, u, &a, nullptr)) return VectorXd::Constant(z.size(), std::nan(""));
  return a;
}

// Length of the straight segment z0 -> z1 under the metric (composite Simpson, 2000 intervals).
double StraightLength(const Metric& metric, const VectorXd& z0, const VectorXd& z1) {
  const int n = 2000;
  const VectorXd dz = z1 - z0;
  double s = 0;
  for (int k = 0; k <= n; ++k) {
    const double w = (k == 0 || k == n) ? 1 : (k % 2 ? 4 : 2);
    s += w * std::sqrt(dz.dot(metric.Evaluate(z0 + (static_cast<double>(k) / n) * dz) * dz));
  }
  return s / (3.0 * n);
}

struct Spec {
  std::string name, description;
  std::function<void(CaseReport&, const Settings&, const MetricWrapper&)> run;
};

int Count(const Settings& s) { return s.level == "full" ? 12 : 4; }

// --- The cases -------------------------------------------------------------------------------------------------

void RunLinear(CaseReport& report, const Settings& settings, const MetricWrapper& wrap) {
  std::mt19937_64 rng(settings.seed + 101);
  const MatrixXd W = NormalMatrix(rng, 3, 2);
  const VectorXd c = Normal(rng, 3);
  const auto metric = Wrap(wrap, std::make_shared<PullbackMetric>(MakeLinearDecoder(W, c)));
  std::vector<Pair> pairs;
  std::vector<Start> starts;
  for (int k = 0; k < Count(settings); ++k) {
    Pair p{Normal(rng, 2), Normal(rng, 2), 0};
    p.distance = LinearDistance(W, p.z0, p.z1);
    pairs.push_back(p);
    starts.push_back({Normal(rng, 2), Normal(rng, 2)});
  }
  ShootingSweep(report, *metric, pairs, "random pairs, d = ||W (z1 - z0)||");
  ExpChecks(report, *metric, starts, "straight lines z + t u",
            [](const VectorXd& z, const VectorXd& u) { return VectorXd(z + u); });
}

// Stereographic coordinates of a point p of the unit sphere in R^3 (inverse of the decoder).
VectorXd FromSphere(const Eigen::Vector3d& p) { return p.head(2) / (1 - p[2]); }

void RunSphere(CaseReport& report, const Settings& settings, const MetricWrapper& wrap) {
  std::mt19937_64 rng(settings.seed + 202);
  const auto decoder = MakeStereographicSphereDecoder(2);
  const auto metric = Wrap(wrap, std::make_shared<PullbackMetric>(decoder));
  const int n = Count(settings);
  std::vector<Pair> pairs;
  const VectorXd lo = V2(-1.5, -1.5), hi = V2(1.5, 1.5);
  while (static_cast<int>(pairs.size()) < n) {
    Pair p{Uniform(rng, lo, hi), Uniform(rng, lo, hi), 0};
    p.distance = SphereDistance(p.z0, p.z1);
    if (p.distance > 0.1 && p.distance < 0.75 * std::numbers::pi) pairs.push_back(p);  // not near-antipodal
  }
  ShootingSweep(report, *metric, pairs, "random pairs (distance < 0.75 pi), d = arccos <f(z0), f(z1)>");

  // Exp map: great circles, f(Exp_z(u)) = cos|v| f(z) + sin|v| v / |v| with v = J(z) u.
  auto exact = [decoder](const VectorXd& z, const VectorXd& u) {
    const Eigen::Vector3d p = decoder->Value(z);
    const Eigen::Vector3d v = decoder->Jacobian(z) * u;
    const double s = v.norm();
    const Eigen::Vector3d q = std::cos(s) * p + std::sin(s) * v / s;
    return FromSphere(q);
  };
  std::vector<Start> starts;
  while (static_cast<int>(starts.size()) < n) {
    Start s{Uniform(rng, V2(-1, -1), V2(1, 1)), Normal(rng, 2, 0.5)};
    if (exact(s.z, s.u).norm() < 3.0) starts.push_back(s);  // stay away from the north pole (infinity)
  }
  ExpChecks(report, *metric, starts, "great circles", exact);

  // Near-antipodal pairs: the geodesic is nearly non-unique and single shooting from u = z1 - z0 may fail. Each pair
  // must either converge to the closed-form distance or report a failure with a reason.
  const std::vector<double> gaps = settings.level == "full" ? std::vector<double>{0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3}
                                                            : std::vector<double>{0.3, 0.1, 0.01, 1e-3};
  const std::vector<double> tols =
      settings.level == "full" ? kTolerances : std::vector<double>{kTolerances[1]};
  std::vector<Pair> hard;
  std::normal_distribution<double> g(0.0, 1.0);
  for (double gap : gaps) {
    for (;;) {
      Eigen::Vector3d p(g(rng), g(rng), g(rng));
      p.normalize();
      Eigen::Vector3d w = Eigen::Vector3d(g(rng), g(rng), g(rng));
      w = (w - w.dot(p) * p).normalized();
      const Eigen::Vector3d q = -std::cos(gap) * p + std::sin(gap) * w;  // angle pi - gap from p
      if (p[2] > 0.5 || q[2] > 0.5) continue;                            // keep both off the north pole
      Pair h{FromSphere(p), FromSphere(q), 0};
      h.distance = SphereDistance(h.z0, h.z1);
      hard.push_back(h);
      break;
    }
  }
  // The graph initial guess: a k-nearest-neighbour graph of points spread over the sphere (Fibonacci lattice,
  // below z = 0.6 so that the stereographic coordinates stay moderate).
  RowMatrixXd cloud(0, 2);
  {
    std::vector<VectorXd> kept;
    const int m = settings.level == "full" ? 1200 : 500;
    for (int k = 0; k < m; ++k) {
      const double zc = 1 - 2 * (k + 0.5) / m, rc = std::sqrt(1 - zc * zc);
      const double phi = k * std::numbers::pi * (3 - std::sqrt(5.0));
      if (zc < 0.6) kept.push_back(FromSphere(Eigen::Vector3d(rc * std::cos(phi), rc * std::sin(phi), zc)));
    }
    cloud.resize(static_cast<Eigen::Index>(kept.size()), 2);
    for (std::size_t k = 0; k < kept.size(); ++k) cloud.row(static_cast<Eigen::Index>(k)) = kept[k].transpose();
  }
  GeodesicGraphOptions graph_options;
  graph_options.neighbors = 12;
  const GeodesicGraph graph(*metric, cloud, graph_options);

  // The guess: the straight line, the graph's shortest path, or the discrete geodesic (LogMap's default).
  enum class Guess { kLine, kGraph, kDiscrete };
  struct HardVariant {
    std::string method, type;
    bool fallback;
    Guess guess;
  };
  const HardVariant variants[] = {
      {"single-shooting, near-antipodal", "shooting", false, Guess::kLine},
      {"shooting + fallback, near-antipodal", "shooting", true, Guess::kLine},
      {"multiple-shooting, near-antipodal", "multiple_shooting", false, Guess::kLine},
      {"collocation, near-antipodal", "collocation", false, Guess::kLine},
      {"graph + shooting + fallback, near-antipodal", "shooting", true, Guess::kGraph},
      {"discrete + shooting + fallback, near-antipodal", "shooting", true, Guess::kDiscrete}};
  for (const HardVariant& variant : variants) {
    const std::string& method = variant.method;
    for (double tol : tols) {
      LogMapOptions o = Shoot(tol, variant.type);
      o.fallback = variant.fallback;
      const auto t0 = std::chrono::steady_clock::now();
      SweepRow row;
      row.method = method;
      row.kind = "log-map";
      row.error_metric = "max_rel_distance_error";  // a tolerance sweep (console table, HTML plots)
      row.cost_metric = "nfe_per_pair";
      row.dimension = 2;
      row.tolerance = tol;
      double max_err = 0, max_endpoint = 0;
      int converged_right = 0, long_arc = 0, long_arc_resolved = 0, wrong = 0, silent = 0;
      // Pairs whose gap the graph guess resolves (the first `resolved` of `hard`): closer to the antipode the two
      // arcs' basins are within the guess's own error, and a long arc there is recorded only. The discrete-geodesic
      // variant has no such check: from it single shooting usually finds the short arc (tests/test_log_map.cpp), but
      // when it fails near the antipode, the multiple-shooting fallback can land on the long arc, a true geodesic
      // (recorded in the detail).
      std::size_t resolved = 0;
      while (resolved < gaps.size() && gaps[resolved] >= kResolvedGap) ++resolved;
      double iters = 0, nfe = 0, sum = 0;
      std::string outcomes, first_failure;
      for (std::size_t k = 0; k < hard.size(); ++k) {
        const Pair& h = hard[k];
        InitialCurve guess = InitialCurve::Line(h.z0, h.z1);
        if (variant.guess == Guess::kGraph) guess = graph.ShortestPath(*metric, h.z0, h.z1);
        const LogMapResult l =
            LogMap(*metric, h.z0, h.z1, o, variant.guess == Guess::kDiscrete ? nullptr : &guess);
        iters += l.iterations;
        nfe += static_cast<double>(l.final_shot.stats.rhs_evals);
        outcomes += (k ? "; " : "") + std::string("gap ") + Fmt(gaps[k]) + ": ";
        if (l.usable()) {
          // Distance error against the closed form, recorded in the sweep row whatever the outcome.
          const double err = std::abs(l.length - h.distance) / h.distance;
          const double other = 2 * std::numbers::pi - h.distance;  // the long arc of the same great circle
          max_err = std::max(max_err, err);
          max_endpoint = std::max(max_endpoint, l.endpoint_error);
          sum += err;
          // Near the antipode the end point hardly constrains the direction of u, and a solve that meets -bvp_tol
          // (1e3 tol here) may be as far off as its end-point miss allows (its verification shot's end point).
          const double slack = EndPointAllowance(*metric, h.z1, l.final_shot);
          const bool is_d = std::abs(l.length - h.distance) <= kAccuracyFactor * tol * h.distance + slack;
          const bool is_long = std::abs(l.length - other) <= kAccuracyFactor * tol * other + slack;
          if (is_d) {
            ++converged_right;
            outcomes += "converged to d, rel error " + Fmt(err);
          } else if (is_long) {
            ++long_arc;
            if (k < resolved) ++long_arc_resolved;
            outcomes += "NON-MINIMAL: success on the long arc, L = " + Fmt(l.length) + " = 2 pi - d, d = " +
                        Fmt(h.distance);
          } else {
            ++wrong;
            outcomes += "WRONG: success with L = " + Fmt(l.length) + ", d = " + Fmt(h.distance);
          }
        } else {
          ++row.failed;
          if (l.message.empty()) ++silent;
          if (first_failure.empty()) first_failure = std::string(ToString(l.status)) + ": " + l.message;
          outcomes += std::string("reported ") + ToString(l.status);
        }
      }
      const double n_hard = static_cast<double>(hard.size());
      const int successes = converged_right + long_arc + wrong;
      row.Set("max_rel_distance_error", max_err);
      row.Set("mean_rel_distance_error", successes ? sum / successes : 0);
      row.Set("max_error_endpoint", max_endpoint);  // the solver's own verified miss here
      row.Set("iterations_per_pair", iters / n_hard);
      row.Set("nfe_per_pair", nfe / n_hard);
      row.seconds = Seconds(t0);
      report.sweep.push_back(row);
      // Single shooting finds *a* geodesic: near the cut locus it may land on the long arc of the great circle
      // (a true geodesic joining the pair, but not the shortest one). That is recorded (detail, and the sweep row's
      // distance error), while any success that is not a geodesic joining the pair at all fails the check.
      report.checks.push_back(MakeCheck(
          "near-antipodal: every success is a geodesic joining the pair (L = d or 2 pi - d)", method, tol, wrong,
          "<=", 0,
          std::to_string(converged_right) + " of " + std::to_string(hard.size()) + " pairs at angle pi - gap converged "
              "to the closed-form distance d, " + std::to_string(long_arc) + " to the non-minimal long arc 2 pi - d, " +
              std::to_string(wrong) + " to neither, " + std::to_string(row.failed) + " reported failure (" + outcomes +
              ")"));
      report.checks.push_back(MakeCheck("near-antipodal: failures carry a status and a reason", method, tol,
                                        silent, "<=", 0,
                                        std::to_string(row.failed) + " failures" +
                                            (first_failure.empty() ? "" : "; first: " + first_failure)));
      if (variant.guess == Guess::kGraph) {
        // A shortest path on the graph starts on the short side of the great circle: the solve must not end on
        // the long arc.
        report.checks.push_back(MakeCheck(
            "near-antipodal, graph guess: no success on the non-minimal long arc", method, tol, long_arc_resolved,
            "<=", 0,
            std::to_string(long_arc_resolved) + " of the " + std::to_string(resolved) + " pairs with gap >= " +
                Fmt(kResolvedGap) + " ended on the long arc (" + std::to_string(long_arc) + " of all " +
                std::to_string(hard.size()) + "); graph of " + std::to_string(graph.num_vertices()) +
                " sphere points, k = " + std::to_string(graph_options.neighbors) + " (" + outcomes + ")"));
      }
    }
  }
}

// Fisher-Rao (a = 1, b = 2) and Poincare (a = b = 1): M = diag(a, b) / y^2. Vertical lines are geodesics with
// y(t) = y0 exp(t v / y0) for the initial velocity (0, v).
void RunHalfPlane(CaseReport& report, const Settings& settings, const MetricWrapper& wrap, bool fisher_rao) {
  std::mt19937_64 rng(settings.seed + (fisher_rao ? 303 : 404));
  const auto metric = Wrap(wrap, std::make_shared<TensorMetric>(fisher_rao ? MakeFisherRaoNormalField()
                                                                           : MakePoincareHalfPlaneField()));
  const int n = Count(settings);
  const VectorXd lo = V2(-1.5, 0.3), hi = V2(1.5, 2.0);
  std::vector<Pair> pairs;
  std::vector<Start> starts, vertical;
  std::uniform_real_distribution<double> speed(-2.0, 2.0);
  for (int k = 0; k < n; ++k) {
    Pair p{Uniform(rng, lo, hi), Uniform(rng, lo, hi), 0};
    p.distance = fisher_rao ? FisherRaoNormalDistance(p.z0, p.z1) : PoincareDistance(p.z0, p.z1);
    pairs.push_back(p);
    const VectorXd z = Uniform(rng, lo, hi);
    starts.push_back({z, Normal(rng, 2, 0.5 * z[1])});
    const VectorXd zv = Uniform(rng, lo, hi);
    vertical.push_back({zv, V2(0.0, speed(rng) * zv[1])});
  }
  ShootingSweep(report, *metric, pairs,
                fisher_rao ? "random pairs, closed-form Fisher-Rao distance of N(mu, sigma)"
                           : "random pairs, d = arccosh(1 + |z1 - z0|^2 / (2 y0 y1))");
  ExpChecks(report, *metric, starts, "random initial velocities");
  ExpChecks(report, *metric, vertical, "vertical geodesics y0 exp(t v / y0)",
            [](const VectorXd& z, const VectorXd& u) { return V2(z[0], z[1] * std::exp(u[1] / z[1])); });
  if (!fisher_rao) return;

  // Points outside the domain (sigma <= 0) are refused with a clear error naming the point.
  struct Bad {
    VectorXd z0, z1;
    bool exp;  // Exp map from z0 (else Log map z0 -> z1)
  };
  for (const Bad& b : {Bad{V2(0.5, -0.25), V2(0, 0), true}, Bad{V2(0.0, 1.0), V2(0.3, -2.0), false},
                       Bad{V2(0.0, 1.0), V2(0.5, 0.0), false}}) {
    GeodesicStatus status;
    std::string message;
    const VectorXd& point = b.exp ? b.z0 : b.z1;
    if (b.exp) {
      const ExpMapResult r = ExpMap(*metric, b.z0, V2(1.0, 0.0), ExpTol(1e-8));
      status = r.status;
      message = r.message;
    } else {
      const LogMapResult l = LogMap(*metric, b.z0, b.z1, Shoot(1e-8));
      status = l.status;
      message = l.message;
    }
    const bool named = message.find(FormatPoint(point)) != std::string::npos;
    const bool refused = status == GeodesicStatus::kOutsideDomain;
    report.checks.push_back(MakeCheck(
        "point outside the domain refused, naming it", b.exp ? "exp-map" : kBvp, 0, refused && named ? 1 : 0, ">=", 1,
        std::string(b.exp ? "Exp map from " : "Log map to ") + FormatPoint(point) + ": status " + ToString(status) +
            (refused ? "" : " (expected outside_domain)") + (named ? "" : " (message does not name the point)") +
            "; message: " + message));
  }
}

void RunTorus(CaseReport& report, const Settings& settings, const MetricWrapper& wrap) {
  std::mt19937_64 rng(settings.seed + 505);
  const double R = 2.0, r = 0.7;
  const auto metric = Wrap(wrap, std::make_shared<PullbackMetric>(MakeTorusDecoder(R, r)));
  const int n = Count(settings);
  const double pi = std::numbers::pi;
  std::uniform_real_distribution<double> angle(-pi, pi), dth(-2.5, 2.5);
  std::vector<Pair> pairs;
  std::vector<Start> starts;
  for (int k = 0; k < n; ++k) {
    const double th = angle(rng), ph = angle(rng);
    Pair p{V2(th, ph), V2(th + dth(rng), ph), 0};
    p.distance = TorusMeridianDistance(r, p.z0, p.z1);
    pairs.push_back(p);
    starts.push_back({V2(angle(rng), angle(rng)), Normal(rng, 2, 0.8)});
  }
  ShootingSweep(report, *metric, pairs, "pairs on one meridian, d = r |th1 - th0|");
  ExpChecks(report, *metric, starts, "random initial velocities");
  // Clairaut: (R + r cos th)^2 ph' is constant on every geodesic.
  auto clairaut = [&](const VectorXd& z, const VectorXd& u) {
    const double rho = R + r * std::cos(z[0]);
    return rho * rho * u[1];
  };
  for (double tol : kTolerances) {
    double worst = 0;
    int failed = 0;
    for (const Start& s : starts) {
      const ExpMapResult g = ExpMap(*metric, s.z, s.u, ExpTol(tol));
      if (!g.usable()) {
        ++failed;
        continue;
      }
      const double c0 = clairaut(s.z, s.u);
      worst = std::max(worst, std::abs(clairaut(g.end_point, g.end_velocity) - c0) / std::max(1.0, std::abs(c0)));
    }
    if (failed) worst = std::numeric_limits<double>::infinity();
    report.checks.push_back(MakeCheck("Clairaut invariant (R + r cos th)^2 ph' constant", "exp-map (adams)", tol,
                                      worst, "<=", kAccuracyFactor * tol,
                                      "largest change relative to max(1, |c0|) over " + std::to_string(starts.size()) +
                                          " random geodesics (R = 2, r = 0.7); threshold " + Fmt(kAccuracyFactor) +
                                          " x tol"));
  }
}

void RunHeightField(CaseReport& report, const Settings& settings, const MetricWrapper& wrap) {
  std::mt19937_64 rng(settings.seed + 606);
  const double A = 0.8;
  const auto bump = MakeGaussianBumpDecoder(A);
  const auto pull = Wrap(wrap, std::make_shared<PullbackMetric>(bump));
  const auto tensor = Wrap(wrap, std::make_shared<TensorMetric>(PullbackTensorField(bump)));
  const int n_points = settings.level == "full" ? 200 : 50;
  std::vector<Start> points;
  for (int k = 0; k < n_points; ++k) points.push_back({Uniform(rng, V2(-2.5, -2.5), V2(2.5, 2.5)), Normal(rng, 2)});
  const double exact_pull = WorstAgreement(n_points, [&](int k) {
    return std::pair{Acc(*pull, points[k].z, points[k].u), GaussianBumpAcceleration(A, points[k].z, points[k].u)};
  });
  const double exact_tensor = WorstAgreement(n_points, [&](int k) {
    return std::pair{Acc(*tensor, points[k].z, points[k].u), GaussianBumpAcceleration(A, points[k].z, points[k].u)};
  });
  const double pull_tensor = WorstAgreement(n_points, [&](int k) {
    return std::pair{Acc(*pull, points[k].z, points[k].u), Acc(*tensor, points[k].z, points[k].u)};
  });
  const std::string where = " over " + std::to_string(n_points) + " random (z, u), h = 0.8 exp(-|z|^2 / 2); "
                            "max-norm difference relative to max(1, |reference|)";
  report.checks.push_back(MakeCheck("pullback acceleration = exact height-field equation", "-", 0, exact_pull, "<=",
                                    kFormulaAgreement,
                                    "-M^{-1} J^T f''[u, u] against -grad h (u^T Hess h u) / (1 + |grad h|^2)" + where));
  report.checks.push_back(MakeCheck("Christoffel acceleration = exact height-field equation", "-", 0, exact_tensor,
                                    "<=", kFormulaAgreement,
                                    "general Christoffel formula on M = J^T J against the exact equation" + where));
  report.checks.push_back(MakeCheck("pullback acceleration = Christoffel formula", "-", 0, pull_tensor, "<=",
                                    kFormulaAgreement, "the two engine formulas against each other" + where));

  // Geodesics: no closed-form distance. Reference: the log map at tol 1e-11 (self-convergence); the geodesic must
  // be no longer than the straight segment.
  const int n = Count(settings);
  std::vector<Pair> pairs;
  std::vector<Start> starts;
  double worst_ratio = 0;
  std::string ref_failure;
  const VectorXd lo = V2(-2, -2), hi = V2(2, 2);
  for (int k = 0; k < n; ++k) {
    Pair p{Uniform(rng, lo, hi), Uniform(rng, lo, hi), 0};
    const LogMapResult ref = LogMap(*pull, p.z0, p.z1, Shoot(1e-11));
    p.distance = ref.usable() ? ref.length : std::nan("");
    if (!ref.usable() && ref_failure.empty()) ref_failure = std::string(ToString(ref.status)) + ": " + ref.message;
    worst_ratio = std::max(worst_ratio, p.distance / StraightLength(*pull, p.z0, p.z1));
    if (!std::isfinite(p.distance)) worst_ratio = std::numeric_limits<double>::infinity();
    pairs.push_back(p);
    starts.push_back({Uniform(rng, lo, hi), Normal(rng, 2)});
  }
  report.checks.push_back(MakeCheck("geodesic no longer than the straight segment", kBvp, 1e-11, worst_ratio, "<=",
                                    1 + 1e-9,
                                    "largest ratio of the geodesic distance (tol 1e-11) to the metric length of the "
                                    "straight segment (Simpson, 2000 intervals) over " + std::to_string(n) +
                                        " random pairs" + (ref_failure.empty() ? "" : "; failure: " + ref_failure)));
  ShootingSweep(report, *pull, pairs, "random pairs, reference: the log map at tol 1e-11");
  ExpChecks(report, *pull, starts, "random initial velocities");
}

void RunStochastic(CaseReport& report, const Settings& settings, const MetricWrapper& wrap) {
  std::mt19937_64 rng(settings.seed + 707);
  const MatrixXd W = NormalMatrix(rng, 3, 2), C = 0.5 * NormalMatrix(rng, 3, 2);
  const VectorXd c = Normal(rng, 3), e = Normal(rng, 3).cwiseAbs().array() + 1.0;
  const auto stochastic =
      Wrap(wrap, std::make_shared<PullbackMetric>(
                     std::make_shared<StackedDecoder>(MakeLinearDecoder(W, c), MakeLinearDecoder(C, e))));
  MatrixXd WC(6, 2);
  WC << W, C;
  VectorXd ce(6);
  ce << c, e;
  const PullbackMetric stacked(MakeLinearDecoder(WC, ce));
  // Nonlinear: MLP mean and softplus standard deviation.
  Mlp mean = RandomMlp(2, 3, {5}, TimeInput::kNone, Activation::kTanh, static_cast<unsigned>(settings.seed + 21));
  Mlp sd = RandomMlp(2, 3, {5}, TimeInput::kNone, Activation::kTanh, static_cast<unsigned>(settings.seed + 22));
  sd.output_activation = Activation::kSoftplus;
  const auto m = std::make_shared<MlpDecoder>(mean);
  const auto s = std::make_shared<MlpDecoder>(sd);
  const auto mlp_decoder = std::make_shared<StackedDecoder>(m, s);
  const auto mlp_metric = Wrap(wrap, std::make_shared<PullbackMetric>(mlp_decoder));
  const TensorMetric mlp_christoffel(PullbackTensorField(mlp_decoder));

  const int n_points = settings.level == "full" ? 100 : 25;
  std::vector<Start> points;
  for (int k = 0; k < n_points; ++k) points.push_back({Normal(rng, 2), Normal(rng, 2)});
  auto flat = [](const MatrixXd& M) { return VectorXd(Eigen::Map<const VectorXd>(M.data(), M.size())); };
  const double linear_m = WorstAgreement(n_points, [&](int k) {
    const MatrixXd a = stochastic->Evaluate(points[k].z);
    return std::pair{flat(a), flat(W.transpose() * W + C.transpose() * C)};
  });
  const double stacked_m = WorstAgreement(n_points, [&](int k) {
    return std::pair{flat(stochastic->Evaluate(points[k].z)), flat(stacked.Evaluate(points[k].z))};
  });
  const double mlp_m = WorstAgreement(n_points, [&](int k) {
    const MatrixXd Jm = m->Jacobian(points[k].z), Js = s->Jacobian(points[k].z);
    return std::pair{flat(mlp_metric->Evaluate(points[k].z)), flat(Jm.transpose() * Jm + Js.transpose() * Js)};
  });
  const double mlp_acc = WorstAgreement(n_points, [&](int k) {
    return std::pair{Acc(*mlp_metric, points[k].z, points[k].u), Acc(mlp_christoffel, points[k].z, points[k].u)};
  });
  const std::string where = " over " + std::to_string(n_points) + " random points; max-norm difference relative "
                            "to max(1, |reference|)";
  report.checks.push_back(MakeCheck("stochastic metric = W^T W + C^T C (linear mean and std)", "-", 0, linear_m,
                                    "<=", kFormulaAgreement, "expected metric of mu = W z + c, sigma = C z + e" + where));
  report.checks.push_back(MakeCheck("stochastic metric = pullback of the stacked linear map [W; C]", "-", 0,
                                    stacked_m, "<=", kFormulaAgreement, "against PullbackMetric of [W; C] z + [c; e]" +
                                    where));
  report.checks.push_back(MakeCheck("stochastic MLP metric = J_mu^T J_mu + J_sigma^T J_sigma", "-", 0, mlp_m, "<=",
                                    kFormulaAgreement, "MLP mean (tanh) and softplus std" + where));
  report.checks.push_back(MakeCheck("stochastic MLP acceleration = Christoffel formula of the stacked map", "-", 0,
                                    mlp_acc, "<=", kFormulaAgreement,
                                    "cheap pullback acceleration against the general Christoffel formula" + where));

  const int n = Count(settings);
  std::vector<Pair> pairs;
  std::vector<Start> starts;
  for (int k = 0; k < n; ++k) {
    Pair p{Normal(rng, 2), Normal(rng, 2), 0};
    p.distance = LinearDistance(WC, p.z0, p.z1);
    pairs.push_back(p);
    // Exp-map starts near the origin with metric speed in [0.3, 1]: far out the tanh layers saturate and the
    // metric becomes singular (which the engine reports, but that is not what this check is about).
    const VectorXd z = Normal(rng, 2, 0.5), dir = Normal(rng, 2);
    const double speed = std::uniform_real_distribution<double>(0.3, 1.0)(rng);
    starts.push_back({z, dir * (speed / std::sqrt(dir.dot(mlp_metric->Evaluate(z) * dir)))});
  }
  ShootingSweep(report, *stochastic, pairs, "random pairs, d = ||[W; C] (z1 - z0)||");
  ExpChecks(report, *mlp_metric, starts, "stochastic MLP decoder");
}

const std::vector<Spec>& Specs() {
  static const std::vector<Spec> specs = {
      {"GEO-linear", "geodesics of a linear decoder f = W z + c: straight lines, d = ||W (z1 - z0)||", RunLinear},
      {"GEO-sphere",
       "geodesics of the unit sphere (inverse stereographic projection): great circles, d = arccos <f(z0), f(z1)>; "
       "near-antipodal pairs",
       RunSphere},
      {"GEO-fisher-rao",
       "geodesics of the Fisher-Rao metric of univariate normals (mu, sigma): closed-form distance; sigma <= 0 "
       "refused",
       [](CaseReport& r, const Settings& s, const MetricWrapper& w) { RunHalfPlane(r, s, w, true); }},
      {"GEO-poincare", "geodesics of the Poincare half-plane M = I / y^2: d = arccosh(1 + |dz|^2 / (2 y0 y1))",
       [](CaseReport& r, const Settings& s, const MetricWrapper& w) { RunHalfPlane(r, s, w, false); }},
      {"GEO-torus", "geodesics of a torus (R = 2, r = 0.7): meridian distances and the Clairaut invariant", RunTorus},
      {"GEO-height-field",
       "height field (Gaussian bump): pullback and Christoffel accelerations against the exact equation",
       RunHeightField},
      {"GEO-stochastic",
       "expected metric of a stochastic decoder = pullback of the stacked map (mean, std); linear and MLP",
       RunStochastic},
  };
  return specs;
}

class GeodesicCase : public Case {
 public:
  GeodesicCase(Spec spec, MetricWrapper wrap) : spec_(std::move(spec)), wrap_(std::move(wrap)) {}
  std::string description() const override { return spec_.description; }
  CaseReport Run(const Settings& settings) override {
    CaseReport report;
    report.name = spec_.name;
    report.description = spec_.description;
    spec_.run(report, settings, wrap_);
    return report;
  }

 private:
  Spec spec_;
  MetricWrapper wrap_;
};

}  // namespace

std::vector<std::string> GeodesicCaseNames() {
  std::vector<std::string> names;
  for (const auto& s : Specs()) names.push_back(s.name);
  return names;
}

std::unique_ptr<Case> MakeGeodesicCase(const std::string& name, MetricWrapper wrap) {
  for (const auto& s : Specs()) {
    if (s.name == name) return std::make_unique<GeodesicCase>(s, std::move(wrap));
  }
  throw InputError(detail::UnknownTypeMessage("validate_cases", name, GeodesicCaseNames()));
}

void RegisterGeodesicCases(Registry<Case>& registry) {
  for (const auto& s : Specs()) {
    registry.Register(s.name, s.description, [name = s.name]() { return MakeGeodesicCase(name); });
  }
}

}  // namespace pushpull::validation
