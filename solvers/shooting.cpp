// The logarithm map by single shooting: unknown u = g'(0), residual g_u(1) - z1, solved by Ceres
// Levenberg-Marquardt. The residual's Jacobian d g(1) / d u comes from the CVODES variational equations
// (ExpMapWithJacobian). Convergence is declared only after the final u is re-integrated with the verification
// integrator (tight tolerances) and its end point lies within bvp_tol of z1.
#include <ceres/cost_function.h>
#include <ceres/problem.h>
#include <ceres/solver.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string>

#include "pushpull/errors.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

using Eigen::MatrixXd;
using Eigen::VectorXd;

void ShootingOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix) {
  geodesic.SetFromOptions(db, prefix);
  verify.SetFromOptions(db, std::string(prefix) + "verify_");
  db.SetSection("Geodesic shooting (prefix '" + std::string(prefix) + "')");
  db.Real(prefix, "bvp_tol", bvp_tol,
          "Convergence test of the logarithm map: max |g_u(1) - z1| after re-integrating the final u with the "
          "verification integrator",
          "ShootingOptions::bvp_tol", RealBounds::Positive());
  db.Int(prefix, "max_iterations", max_iterations, "Levenberg-Marquardt iterations of the shooting method",
         "ShootingOptions::max_iterations", IntBounds::AtLeast(1));
  const std::string problem = Validate();
  if (!problem.empty()) throw InputError("option -" + std::string(prefix) + problem);
}

std::string ShootingOptions::Validate() const {
  if (!(bvp_tol > 0)) return "bvp_tol: " + FormatReal(bvp_tol) + " must be > 0";
  if (max_iterations < 1) return "max_iterations: " + std::to_string(max_iterations) + " must be >= 1";
  std::string p = geodesic.Validate();
  if (!p.empty()) return p;
  p = verify.Validate();
  if (!p.empty()) return "verify_" + p;
  return {};
}

namespace {

// r(u) = g_u(1) - z1 with dr/du from the variational equations. A failed integration returns false, which Ceres
// treats as an unsuccessful step (the trust region shrinks).
class ShootingCost : public ceres::CostFunction {
 public:
  ShootingCost(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const GeodesicOptions& options,
               std::string* last_failure)
      : metric_(metric), z0_(z0), z1_(z1), options_(options), last_failure_(last_failure) {
    set_num_residuals(metric.dim());
    mutable_parameter_block_sizes()->push_back(metric.dim());
  }

  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
    const int d = metric_.dim();
    const VectorXd u = Eigen::Map<const VectorXd>(parameters[0], d);
    // Residual and Jacobian from the same discretisation, so that LM's cost comparisons are consistent.
    const ExpMapResult r = ExpMapWithJacobian(metric_, z0_, u, options_);
    if (!r.usable()) {
      *last_failure_ = r.message;
      return false;
    }
    Eigen::Map<VectorXd>(residuals, d) = r.end_point - z1_;
    if (jacobians && jacobians[0]) {
      Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(jacobians[0], d, d) =
          r.end_jacobian;
    }
    return true;
  }

 private:
  const Metric& metric_;
  VectorXd z0_, z1_;
  GeodesicOptions options_;
  std::string* last_failure_;
};

const char* kAdvice =
    " Possible causes: the initial guess u = z1 - z0 lies in the basin of another geodesic or of none (far or "
    "near-antipodal points; start from a graph shortest path), the metric is nearly singular along the way, or the "
    "shooting integrator is too loose for bvp_tol (-geo_shoot_ode_rtol, -geo_shoot_bvp_tol, "
    "-geo_shoot_max_iterations).";

}  // namespace

LogMapResult LogMap(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const ShootingOptions& options,
                    const VectorXd& initial_guess) {
  const int d = metric.dim();
  if (z0.size() != d || z1.size() != d || (initial_guess.size() != 0 && initial_guess.size() != d)) {
    throw InputError("LogMap: z0, z1 (and the initial guess) must have the metric's dimension " + std::to_string(d));
  }
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError("ShootingOptions: " + problem);

  LogMapResult result;
  std::string why;
  if (!metric.InDomain(z0, &why) || !metric.InDomain(z1, &why)) {
    result.status = GeodesicStatus::kOutsideDomain;
    result.message = "end point outside the domain: " + why;
    return result;
  }

  if (!metric.HasAccelerationTangent()) {
    result.status = GeodesicStatus::kIntegrationFailure;
    result.message = "single shooting needs d g(1)/d u, but this metric cannot differentiate its geodesic "
                     "acceleration (a MetricTensorField without second derivatives)";
    return result;
  }
  VectorXd u = initial_guess.size() == d ? initial_guess : VectorXd(z1 - z0);
  std::string last_failure;
  ceres::Problem::Options problem_options;
  problem_options.cost_function_ownership = ceres::TAKE_OWNERSHIP;
  ceres::Problem problem_lm(problem_options);
  problem_lm.AddResidualBlock(new ShootingCost(metric, z0, z1, options.geodesic, &last_failure), nullptr, u.data());
  ceres::Solver::Options solver_options;
  solver_options.minimizer_type = ceres::TRUST_REGION;
  solver_options.trust_region_strategy_type = ceres::LEVENBERG_MARQUARDT;
  solver_options.linear_solver_type = ceres::DENSE_QR;
  solver_options.max_num_iterations = options.max_iterations;
  solver_options.function_tolerance = 1e-16;
  solver_options.gradient_tolerance = 1e-20;
  solver_options.parameter_tolerance = 1e-14;
  solver_options.num_threads = 1;
  solver_options.logging_type = ceres::SILENT;
  solver_options.minimizer_progress_to_stdout = false;
  ceres::Solver::Summary summary;
  ceres::Solve(solver_options, &problem_lm, &summary);
  result.iterations = summary.num_successful_steps + summary.num_unsuccessful_steps;
  result.initial_velocity = u;
  if (!u.allFinite()) {
    result.status = GeodesicStatus::kNotConverged;
    result.message = "shooting produced a non-finite initial velocity (" + summary.message + ")." + kAdvice;
    return result;
  }

  // Verification: the final u re-integrated with the tight verification integrator.
  result.final_shot = ExpMap(metric, z0, u, options.verify);
  result.energy = u.dot(metric.Evaluate(z0) * u);
  result.length = std::sqrt(std::max(result.energy, 0.0));
  if (!result.final_shot.usable()) {
    result.status = result.final_shot.status;
    result.message = "re-integrating the final initial velocity failed: " + result.final_shot.message +
                     (last_failure.empty() ? "" : " (last failed shot: " + last_failure + ")") + "." + kAdvice;
    return result;
  }
  result.endpoint_error = (result.final_shot.end_point - z1).cwiseAbs().maxCoeff();
  if (!(result.endpoint_error <= options.bvp_tol)) {
    result.status = GeodesicStatus::kNotConverged;
    result.message = "end-point error " + FormatReal(result.endpoint_error) + " exceeds bvp_tol " +
                     FormatReal(options.bvp_tol) + " after " + std::to_string(result.iterations) +
                     " Levenberg-Marquardt iterations (Ceres: " + summary.message + ")" +
                     (last_failure.empty() ? "" : "; last failed shot: " + last_failure) + "." + kAdvice;
    return result;
  }
  result.status = GeodesicStatus::kSuccess;
  result.message = "converged: end-point error " + FormatReal(result.endpoint_error) + " after " +
                   std::to_string(result.iterations) + " Levenberg-Marquardt iterations (" +
                   std::to_string(summary.num_successful_steps) + " successful, " +
                   std::to_string(summary.num_unsuccessful_steps) + " unsuccessful; Ceres: " + summary.message + ")";
  return result;
}

}  // namespace pushpull
