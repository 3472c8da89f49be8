// Geodesics of a Metric (metric.hpp): the exponential map, an initial-value problem on the -geo_ode_type integrator,
// and the geodesic flow with its Jacobian (CVODES forward sensitivities) on which the logarithm-map solvers
// (log_map.hpp) are built.
//
// Per-item status: numerical failure (integration failure, singular metric, non-convergence) is returned with a
// message, never thrown. Only invalid input (wrong dimensions, invalid options) throws InputError.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "pushpull/metric.hpp"
#include "pushpull/ode.hpp"

namespace pushpull {

class OptionsDatabase;

struct GeodesicOptions {
  // The integrator of the geodesic system [g; g'] (2d states) and, for the end-point Jacobian, of its variational
  // equations (CVODES forward sensitivities: Adams with fixed-point iteration for "adams", BDF with Newton
  // otherwise). Options -<prefix>ode_rtol etc.
  OdeOptions ode = DefaultOde();
  // Whether the sensitivities of ExpMapWithJacobian / ExpMapWithStateJacobian take part in error control (set by
  // -bvp_jacobian_error_control for the shots; the exponential map itself has none).
  bool jacobian_error_control = true;
  // Whether ExpMap integrates the length and energy along the curve (quadratures, one more metric evaluation per
  // step). Without them ExpMapResult::length and energy are those of the initial speed, exact for a geodesic; the
  // logarithm map's verification shots skip them (its length is sqrt(u^T M(z0) u) in any case).
  bool integrate_length = true;

  static OdeOptions DefaultOde() {
    OdeOptions o;
    o.prefix = "geo_";
    o.type = "adams";  // geodesic equations are smooth and non-stiff: high-order Adams, no Jacobians
    o.rtol = 1e-8;
    o.atol = 1e-10;
    return o;
  }
  // The integrator options a geodesic integration reads: ExpMap's (an OdeIntegrators() method, every type and the
  // linear solver; the geodesic system has no regularizer quadratures), or, with `shots`, those of the shots with
  // end-point Jacobians (IntegrateVariational: CVODES adams or bdf, with its own block-diagonal linear solver).
  static OdeOptionSet OdeOptionsRead(bool shots);
  // Declares -geo_ode_rtol and friends (prefix "geo_" by default; those OdeOptionsRead(shots) lists) and applies
  // values from the database.
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "geo_", bool shots = false);
  // Empty when valid; otherwise the error SetFromOptions would give for these values (under ode.prefix).
  std::string Validate(bool shots = false) const;
};

enum class GeodesicStatus {
  kSuccess = 0,
  kOutsideDomain,       // a start or end point lies outside the metric's domain
  kSingularMetric,      // the metric became singular, non-finite or left its domain along the curve
  kIntegrationFailure,  // the ODE integrator failed (see the message)
  kNotConverged,        // shooting: the end-point error did not fall below bvp_tol
  kApproximate,         // logarithm map: no solver was verified; the result carries the best curve found, its
                        // length and an error estimate (see the message)
  kNotMinimal,          // logarithm map: a verified geodesic that is longer than another curve between its end
                        // points, so its length is not the distance (see the message)
  kExtrapolated,        // logarithm map: converged as the limit of discrete geodesics (length and curve within
                        // -bvp_extrapolation_length_rtol); the re-integrated initial velocity misses z1 by more
                        // than -bvp_tol (endpoint_error). Usable.
};
const char* ToString(GeodesicStatus status);
// Whether a result with this status carries a usable geodesic: kSuccess, or kExtrapolated (logarithm map).
inline bool Usable(GeodesicStatus status) {
  return status == GeodesicStatus::kSuccess || status == GeodesicStatus::kExtrapolated;
}

struct ExpMapResult {
  GeodesicStatus status = GeodesicStatus::kSuccess;
  std::string message;
  bool usable() const { return status == GeodesicStatus::kSuccess; }

  Eigen::VectorXd end_point;     // g(1)
  Eigen::VectorXd end_velocity;  // g'(1)
  std::vector<double> times;     // the requested output times
  std::vector<Eigen::VectorXd> curve;  // g at those times
  double energy = 0;       // int_0^1 g'^T M g' dt (quadrature)
  double length = 0;       // int_0^1 sqrt(g'^T M g') dt (quadrature)
  double initial_speed2 = 0;  // u^T M(z) u: energy and squared length of the exact geodesic
  double speed_drift = 0;  // |g'^T M g' (1) - (0)|: zero on an exact geodesic
  Eigen::MatrixXd end_jacobian;  // d g(1) / d u (d x d), or the state Jacobian (2d x 2d), when asked for
  OdeStats stats;
};

// Exp_z(u): integrates g'' = -Gamma(g)[g', g'] with g(0) = z, g'(0) = u on t in [0, 1]. `times` (increasing, in
// (0, 1]) are the output times of the curve. With `with_jacobian`, also d g(1) / d u from CVODES forward
// sensitivities of the exact Jacobian-vector products of the geodesic system (needs
// metric.HasAccelerationTangent()).
ExpMapResult ExpMap(const Metric& metric, const Eigen::VectorXd& z, const Eigen::VectorXd& u,
                    const GeodesicOptions& options, const std::vector<double>& times = {},
                    bool with_jacobian = false);

// End point and d g(1)/d u only, as single shooting needs them: CVODES with forward sensitivities (options.ode.type
// adams, or bdf for any other type); no quadratures, so energy and length come from the initial speed.
ExpMapResult ExpMapWithJacobian(const Metric& metric, const Eigen::VectorXd& z, const Eigen::VectorXd& u,
                                const GeodesicOptions& options);

// The same with the Jacobian of the whole end state, as multiple shooting needs it: end_jacobian is then
// d [g(1); g'(1)] / d [z; u] (2d x 2d).
ExpMapResult ExpMapWithStateJacobian(const Metric& metric, const Eigen::VectorXd& z, const Eigen::VectorXd& u,
                                     const GeodesicOptions& options);

}  // namespace pushpull
