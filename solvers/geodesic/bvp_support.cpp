#include "bvp_support.hpp"

#include <ceres/types.h>

#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "pushpull/options.hpp"

namespace pushpull::bvp {

ceres::CallbackReturnType IterationObserver::operator()(const ceres::IterationSummary& summary) {
  return barrier_->Run("the iteration callback", ceres::SOLVER_ABORT, [&] { return Observe(summary); });
}

ceres::CallbackReturnType IterationObserver::Observe(const ceres::IterationSummary& summary) {
  if (monitor_) {
    BvpIterationEvent e;
    e.solver = solver_;
    e.iteration = summary.iteration;
    e.cost = summary.cost;
    e.gradient_max_norm = summary.gradient_max_norm;
    e.step_norm = summary.step_norm;
    e.trust_region_radius = summary.trust_region_radius;
    e.step_successful = summary.step_is_successful;
    (*monitor_)(e);
  }
  if (std::sqrt(2.0 * summary.cost) <= stop_norm_) return ceres::SOLVER_TERMINATE_SUCCESSFULLY;
  // The residual norm at the iterate (a rejected step leaves it where it was; its cost is the trial's).
  const bool moved = summary.iteration == 0 || summary.step_is_successful || norms_.empty();
  const double norm = moved ? std::sqrt(2.0 * summary.cost) : norms_.back();
  norms_.push_back(norm);
  const std::size_t k = static_cast<std::size_t>(stagnation_iterations_);
  if (k > 0 && norms_.size() > k && norm > stagnation_reduction_ * norms_[norms_.size() - 1 - k]) {
    stop_reason_ = "stagnated: the residual norm " + FormatReal(norm) + " is above " +
                   FormatReal(stagnation_reduction_) + " times its value " + std::to_string(k) +
                   " iterations before (-bvp_stagnation_iterations, -bvp_stagnation_reduction)";
    return ceres::SOLVER_ABORT;
  }
  return ceres::SOLVER_CONTINUE;
}

void ChooseSparseLinearSolver(ceres::Solver::Options* o) {
  if (ceres::IsSparseLinearAlgebraLibraryTypeAvailable(ceres::SUITE_SPARSE)) {
    o->linear_solver_type = ceres::SPARSE_NORMAL_CHOLESKY;
    o->sparse_linear_algebra_library_type = ceres::SUITE_SPARSE;
  } else if (ceres::IsSparseLinearAlgebraLibraryTypeAvailable(ceres::EIGEN_SPARSE)) {
    o->linear_solver_type = ceres::SPARSE_NORMAL_CHOLESKY;
    o->sparse_linear_algebra_library_type = ceres::EIGEN_SPARSE;
  } else {
    o->linear_solver_type = ceres::DENSE_QR;
  }
}

double StopNorm(const LogMapOptions& options) { return options.stop_factor * options.tol; }

GeodesicOptions PresolveShots(const LogMapOptions& options, double rtol) {
  GeodesicOptions shots = options.shots;
  shots.ode.atol *= rtol / shots.ode.rtol;
  shots.ode.rtol = rtol;
  shots.ode.max_steps = options.presolve_max_steps;
  return shots;
}

ceres::Solver::Options SolverOptions(const LogMapOptions& options, ceres::LinearSolverType linear_solver,
                                     IterationObserver* observer) {
  ceres::Solver::Options o;
  o.minimizer_type = ceres::TRUST_REGION;
  o.trust_region_strategy_type = ceres::LEVENBERG_MARQUARDT;
  o.linear_solver_type = linear_solver;
  o.max_num_iterations = options.max_iterations;
  // Only the -bvp_* rules decide: the observer's residual test and the iteration limit.
  o.function_tolerance = 0;
  o.gradient_tolerance = 0;
  o.parameter_tolerance = 0;
  o.num_threads = 1;  // pairs are what runs in parallel
  o.logging_type = ceres::SILENT;
  o.minimizer_progress_to_stdout = false;
  observer->SetStagnation(options.stagnation_iterations, options.stagnation_reduction);
  o.callbacks.push_back(observer);
  o.update_state_every_iteration = false;
  return o;
}

LogMapResult StartResult(const Metric& metric, const std::string& solver, bool* usable) {
  LogMapResult result;
  result.solver = solver;
  *usable = metric.HasAccelerationTangent();
  if (!*usable) {
    result.status = GeodesicStatus::kIntegrationFailure;
    result.message = solver + " needs the Jacobian of the geodesic flow, but this metric cannot differentiate its "
                     "geodesic acceleration (a MetricTensorField without second derivatives)";
  }
  return result;
}

std::string Describe(const ceres::Solver::Summary& summary, const IterationObserver& observer) {
  return std::to_string(summary.num_successful_steps + summary.num_unsuccessful_steps) +
         " Levenberg-Marquardt iterations (" + std::to_string(summary.num_successful_steps) + " successful, " +
         std::to_string(summary.num_unsuccessful_steps) + " unsuccessful; " +
         (observer.stop_reason().empty() ? "Ceres: " + summary.message : observer.stop_reason()) + ")";
}

void Verify(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1, const Eigen::VectorXd& u,
            const LogMapOptions& options, const std::string& how, const std::string& advice, LogMapResult* result) {
  if (!u.allFinite()) {
    result->initial_velocity = u;
    result->status = GeodesicStatus::kNotConverged;
    result->message = "the solve produced a non-finite initial velocity after " + how + "." + advice;
    return;
  }
  Judge(metric, z0, z1, u, ExpMap(metric, z0, u, options.verify), options, how, advice, result);
}

void Judge(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1, const Eigen::VectorXd& u,
           ExpMapResult shot, const LogMapOptions& options, const std::string& how, const std::string& advice,
           LogMapResult* result) {
  result->initial_velocity = u;
  result->final_shot = std::move(shot);
  result->energy = u.dot(metric.Evaluate(z0) * u);
  result->length = std::sqrt(std::max(result->energy, 0.0));
  if (!result->final_shot.usable()) {
    result->status = result->final_shot.status;
    result->message = "re-integrating the final initial velocity failed: " + result->final_shot.message + " (after " +
                      how + ")." + advice;
    return;
  }
  result->endpoint_error = (result->final_shot.end_point - z1).cwiseAbs().maxCoeff();
  if (!(result->endpoint_error <= options.tol)) {
    result->status = GeodesicStatus::kNotConverged;
    result->message = "end-point error " + FormatReal(result->endpoint_error) + " exceeds bvp_tol " +
                      FormatReal(options.tol) + " after " + how + "." + advice;
    return;
  }
  result->status = GeodesicStatus::kSuccess;
  result->message = "converged: end-point error " + FormatReal(result->endpoint_error) + " after " + how;
}


Refinement Refine(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                  const Eigen::MatrixXd& jacobian, const LogMapOptions& options, const char* label,
                  BvpMonitor* monitor, Eigen::VectorXd* u, ExpMapResult* shot) {
  Refinement out;
  const Eigen::PartialPivLU<Eigen::MatrixXd> lu(jacobian);
  const double stop = StopNorm(options);
  Eigen::VectorXd best = *u;
  double previous = std::numeric_limits<double>::infinity();
  std::string why;
  for (int k = 0;; ++k) {
    ExpMapResult s = ExpMap(metric, z0, *u, options.verify);
    if (!s.usable()) {
      why = "a verification shot failed: " + s.message;
      break;
    }
    const Eigen::VectorXd r = s.end_point - z1;
    const double norm = r.norm();
    const bool falling = norm < previous;
    if (falling) best = *u;
    if (monitor) {
      BvpIterationEvent e;
      e.solver = label;
      e.iteration = k;
      e.cost = 0.5 * norm * norm;
      e.step_successful = falling;
      (*monitor)(e);
    }
    if (norm <= stop) {
      out.converged = true;
      *shot = std::move(s);
      break;
    }
    if (!falling) {
      why = "the residual stopped falling (" + FormatReal(norm) + " after " + FormatReal(previous) + ")";
      break;
    }
    if (k == options.refine_iterations) {
      why = "the residual " + FormatReal(norm) + " is still above " + FormatReal(stop);
      break;
    }
    previous = norm;
    const Eigen::VectorXd step = lu.solve(r);
    if (!step.allFinite()) {
      why = "the presolve Jacobian is singular";
      break;
    }
    *u -= step;
    ++out.steps;
  }
  out.how = std::to_string(out.steps) + " Newton steps with the presolve Jacobian on verification shots";
  if (!out.converged) {
    out.how += " (" + why + ")";
    *u = best;
  }
  return out;
}

}  // namespace pushpull::bvp
