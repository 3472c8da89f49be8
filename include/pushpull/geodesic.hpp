// Geodesics of a Metric (metric.hpp): the exponential map (initial-value problem on CVODES) and the logarithm map
// by single shooting (Levenberg-Marquardt on the end-point residual, Jacobian from the variational equations).
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
  // equations (always CVODES BDF with forward sensitivities). Options -<prefix>ode_rtol etc.
  OdeOptions ode = DefaultOde();

  static OdeOptions DefaultOde() {
    OdeOptions o;
    o.type = "adams";  // geodesic equations are smooth and non-stiff: high-order Adams, no Jacobians
    o.rtol = 1e-8;
    o.atol = 1e-10;
    return o;
  }
  // Declares -geo_ode_rtol and friends (prefix "geo_" by default) and applies values from the database.
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "geo_");
  // Empty when valid; otherwise a message naming the field, its value and the violated constraint.
  std::string Validate() const;
};

enum class GeodesicStatus {
  kSuccess = 0,
  kOutsideDomain,       // a start or end point lies outside the metric's domain
  kSingularMetric,      // the metric became singular, non-finite or left its domain along the curve
  kIntegrationFailure,  // the ODE integrator failed (see the message)
  kNotConverged,        // shooting: the end-point error did not fall below bvp_tol
};
const char* ToString(GeodesicStatus status);

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
  Eigen::MatrixXd end_jacobian;  // d g(1) / d u (d x d), when asked for
  OdeStats stats;
};

// Exp_z(u): integrates g'' = -Gamma(g)[g', g'] with g(0) = z, g'(0) = u on t in [0, 1]. `times` (increasing, in
// (0, 1]) are the output times of the curve. With `with_jacobian`, also d g(1) / d u from CVODES forward
// sensitivities of the exact Jacobian-vector products of the geodesic system (needs
// metric.HasAccelerationTangent()).
ExpMapResult ExpMap(const Metric& metric, const Eigen::VectorXd& z, const Eigen::VectorXd& u,
                    const GeodesicOptions& options, const std::vector<double>& times = {},
                    bool with_jacobian = false);

// End point and d g(1)/d u only, as the shooting method needs them: CVODES BDF with forward sensitivities (the
// -geo_ode_type choice does not apply); no quadratures, so energy and length come from the initial speed.
ExpMapResult ExpMapWithJacobian(const Metric& metric, const Eigen::VectorXd& z, const Eigen::VectorXd& u,
                                const GeodesicOptions& options);

struct ShootingOptions {
  GeodesicOptions geodesic;        // integrator of the shots (-geo_shoot_ode_rtol ...)
  GeodesicOptions verify = TightGeodesic();  // re-integration of the final u (-geo_shoot_verify_ode_rtol ...)
  double bvp_tol = 1e-6;           // convergence: |g_u(1) - z1| after re-integrating the final u (max norm)
  int max_iterations = 50;         // Levenberg-Marquardt iterations

  // Declares -<prefix>bvp_tol, -<prefix>max_iterations, the integrator options -<prefix>ode_* and
  // -<prefix>verify_ode_* (prefix "geo_shoot_" by default).
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "geo_shoot_");
  std::string Validate() const;

  static GeodesicOptions TightGeodesic() {
    GeodesicOptions g;
    g.ode.rtol = 1e-11;
    g.ode.atol = 1e-13;
    return g;
  }
};

struct LogMapResult {
  GeodesicStatus status = GeodesicStatus::kSuccess;
  std::string message;
  bool usable() const { return status == GeodesicStatus::kSuccess; }

  Eigen::VectorXd initial_velocity;  // Log_{z0}(z1)
  double length = 0;                 // sqrt(u^T M(z0) u): the geodesic distance
  double energy = 0;                 // u^T M(z0) u
  double endpoint_error = 0;         // max |g_u(1) - z1| after re-integration
  int iterations = 0;                // Levenberg-Marquardt iterations
  ExpMapResult final_shot;           // the verifying integration of the final u
};

// Log_{z0}(z1) by single shooting from the initial guess u = z1 - z0 (or `initial_guess` when not empty).
LogMapResult LogMap(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                    const ShootingOptions& options, const Eigen::VectorXd& initial_guess = Eigen::VectorXd());

}  // namespace pushpull
