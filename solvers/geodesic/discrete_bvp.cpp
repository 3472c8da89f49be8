// -bvp_type discrete: the geodesic as the limit of discrete geodesics. The discrete geodesic on N segments (the
// latent polyline of least decoded energy, discrete_geodesic.hpp) is the variational discretisation of the geodesic
// problem, second order in 1/N; Richardson extrapolation of its length (sqrt of the energy) and of its initial
// velocity over N0, 2 N0, 4 N0, ... raises the order, and finer meshes are added until the length's error estimate
// is below -bvp_extrapolation_length_rtol. It needs the decoder's values and Jacobians only: no geodesic equation,
// so a decoder whose second derivative jumps (elu) costs no more than a smooth one, where every shot of the shooting
// solvers crawls through the jumps with thousands of steps. Its answer is checked by the same re-integration as the
// others' (-bvp_extrapolation_verify): kSuccess when that lands within -bvp_tol, else kExtrapolated with the miss.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "bvp_support.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/options.hpp"

namespace pushpull {
namespace bvp {

namespace {

std::string Levels(const ExtrapolatedDiscreteGeodesic& x) {
  std::string levels;
  for (const int n : x.segments) levels += (levels.empty() ? "" : ", ") + std::to_string(n);
  return levels;
}

}  // namespace

std::string DescribeExtrapolation(const ExtrapolatedDiscreteGeodesic& x) {
  return FormatReal(x.length.value) + " +- " + FormatReal(x.length.error) +
         " (Richardson extrapolation of discrete geodesics on N = " + Levels(x) + " segments" +
         (x.converged ? "" : "; not every minimisation converged: " + x.message) + ")";
}

void ExtendExtrapolation(const Decoder& decoder, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                         const LogMapOptions& options, bool to_tolerance, const InitialCurve& start,
                         ExtrapolatedDiscreteGeodesic* x, double length_error) {
  static const int kEventExtrapolation = EventLog::Global().Register("DiscreteExtrapolation");
  ScopedEvent event(kEventExtrapolation);
  DiscreteGeodesicOptions o = options.discrete;
  o.segments = options.extrapolation.segments;
  o.rtol = options.extrapolation.energy_rtol;
  o.xtol = options.extrapolation.xtol;
  o.max_iterations = options.extrapolation.max_iterations;
  o.newton = options.extrapolation.newton;
  ExtrapolationTarget target;
  target.levels = options.extrapolation.levels;
  if (to_tolerance) {
    target.length_rtol = options.extrapolation.length_rtol;
    target.max_segments = options.extrapolation.max_segments;
    target.length_error = length_error;
  }
  ExtendDiscreteExtrapolation(decoder, z0, z1, o, target, &start.points, x);
}

LogMapResult SolveByExtrapolation(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                                  const InitialCurve& start, const LogMapOptions& options,
                                  ExtrapolatedDiscreteGeodesic* x) {
  const auto* pullback = dynamic_cast<const PullbackMetric*>(&metric);
  if (!pullback) {
    throw InputError("-bvp_type discrete: the metric has no decoder, and discrete geodesics need one (use shooting, "
                     "multiple_shooting or collocation)");
  }
  if (options.extrapolation.levels < 2) {
    throw InputError("-bvp_type discrete: -bvp_extrapolation_levels " +
                     std::to_string(options.extrapolation.levels) + " must be >= 2 for this solver");
  }
  ExtendExtrapolation(pullback->decoder(), z0, z1, options, true, start, x);
  LogMapResult result;
  result.solver = "discrete";
  result.iterations = x->iterations;
  result.length = x->length.value;
  result.energy = result.length * result.length;
  result.length_error = x->length.error;
  result.curve = x->finest.ToInitialCurve();
  result.initial_velocity = x->initial_velocity.size() == z0.size() ? x->initial_velocity
                            : result.curve.times.size() >= 2  ? result.curve.VelocityAt(0.0)
                                                              : Eigen::VectorXd();
  result.endpoint_error = std::numeric_limits<double>::quiet_NaN();
  const std::string what = "length " + DescribeExtrapolation(*x);
  const double allowed = options.extrapolation.length_rtol * std::abs(result.length);
  if (!x->converged || !std::isfinite(result.length) || !(result.length_error <= allowed)) {
    result.status = GeodesicStatus::kNotConverged;
    result.message = "the discrete geodesics did not converge: " + what +
                     (x->converged && std::isfinite(result.length)
                          ? ", an error estimate above -bvp_extrapolation_length_rtol " +
                                FormatReal(options.extrapolation.length_rtol) +
                                " times the length (finer meshes: -bvp_extrapolation_max_segments " +
                                std::to_string(options.extrapolation.max_segments) + ")"
                          : "");
    return result;
  }
  result.status = GeodesicStatus::kExtrapolated;
  result.message = "converged: " + what;
  if (!options.extrapolation.verify || result.initial_velocity.size() != z0.size()) {
    result.message += options.extrapolation.verify ? "; no initial velocity to verify" : "; not re-integrated";
    return result;
  }
  result.final_shot = ExpMap(metric, z0, result.initial_velocity, options.verify);
  if (!result.final_shot.usable()) {
    result.message += "; re-integrating its initial velocity failed: " + result.final_shot.message;
    return result;
  }
  result.endpoint_error = (result.final_shot.end_point - z1).cwiseAbs().maxCoeff();
  const std::string miss = "its initial velocity (extrapolation error estimate " +
                           FormatReal(x->initial_velocity_error) + "), re-integrated, lands " +
                           FormatReal(result.endpoint_error) + " from z1";
  if (result.endpoint_error <= options.tol) {
    result.status = GeodesicStatus::kSuccess;
    result.message += "; " + miss + " (within bvp_tol)";
  } else {
    result.message += "; " + miss + ", more than bvp_tol " + FormatReal(options.tol) +
                      " (the length and curve are converged; the geodesic equation is sensitive to the initial "
                      "velocity here)";
  }
  return result;
}

namespace {

class DiscreteBvp : public BvpSolver {
 public:
  explicit DiscreteBvp(const LogMapOptions& options) : options_(options) {}
  LogMapResult Solve(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                     const InitialCurve& guess, BvpMonitor* /*monitor*/) override {
    ExtrapolatedDiscreteGeodesic x;
    return SolveByExtrapolation(metric, z0, z1, guess, options_, &x);
  }

 private:
  LogMapOptions options_;
};

}  // namespace
}  // namespace bvp

std::unique_ptr<BvpSolver> MakeDiscreteExtrapolation(const LogMapOptions& options) {
  return std::make_unique<bvp::DiscreteBvp>(options);
}

}  // namespace pushpull
