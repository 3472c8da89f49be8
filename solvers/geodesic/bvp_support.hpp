// Shared pieces of the logarithm-map solvers (internal to solvers/): the Ceres Levenberg-Marquardt set-up with the
// -bvp_* stopping rules and the -bvp_monitor adapter, and the verification of a final initial velocity.
#pragma once

#include <ceres/iteration_callback.h>
#include <ceres/solver.h>

#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "common/callback_barrier.hpp"
#include "pushpull/log_map.hpp"

namespace pushpull::bvp {

// Stops the minimiser once sqrt(2 cost) = |residual|_2 <= stop_norm and forwards each iteration to a monitor.
// `barrier` is the solve's exception barrier (callback_barrier.hpp), shared with its cost functions: the monitor runs
// behind it, and the solve is aborted once any callback has thrown (the solver then calls RethrowIfCaught()).
class IterationObserver : public ceres::IterationCallback {
 public:
  IterationObserver(std::string solver, double stop_norm, BvpMonitor* monitor, CallbackBarrier* barrier)
      : solver_(std::move(solver)), stop_norm_(stop_norm), monitor_(monitor), barrier_(barrier) {}
  ceres::CallbackReturnType operator()(const ceres::IterationSummary& summary) override;
  // Stop (unconverged) once the residual norm is above `reduction` times its value `iterations` iterations before
  // (-bvp_stagnation_*; 0 iterations = never). SolverOptions sets it from the LogMapOptions.
  void SetStagnation(int iterations, double reduction) {
    stagnation_iterations_ = iterations;
    stagnation_reduction_ = reduction;
  }
  // Why the observer stopped the iteration ("" when it did not, or stopped it converged).
  const std::string& stop_reason() const { return stop_reason_; }

 private:
  ceres::CallbackReturnType Observe(const ceres::IterationSummary& summary);
  std::string solver_;
  double stop_norm_;
  int stagnation_iterations_ = 0;
  double stagnation_reduction_ = 0;
  std::vector<double> norms_;  // residual norm after each iteration
  std::string stop_reason_;
  BvpMonitor* monitor_;
  CallbackBarrier* barrier_;
};

// Levenberg-Marquardt with only the -bvp_* stopping rules: -bvp_max_iterations and the residual test of the
// observer (Ceres' relative function, gradient and parameter tests are switched off).
ceres::Solver::Options SolverOptions(const LogMapOptions& options, ceres::LinearSolverType linear_solver,
                                     IterationObserver* observer);

// The sparse linear solver Ceres was built with (SuiteSparse, else Eigen's sparse module; dense QR when it has
// none), for the block-sparse Jacobians of multiple shooting and collocation.
void ChooseSparseLinearSolver(ceres::Solver::Options* o);

// The residual norm below which the minimiser stops: bvp_stop_factor * bvp_tol.
double StopNorm(const LogMapOptions& options);

// The shot integrator of a presolve level: options.shots at relative tolerance `rtol` (atol scaled alike), limited
// to -bvp_presolve_max_steps steps.
GeodesicOptions PresolveShots(const LogMapOptions& options, double rtol);

// Fills `result` for the final initial velocity u: re-integrates it with options.verify, sets the end-point error,
// length and energy, and the status (success only if the error is within bvp_tol). `how` describes the solve
// ("12 Levenberg-Marquardt iterations ..."), `advice` is appended to failure messages.
void Verify(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1, const Eigen::VectorXd& u,
            const LogMapOptions& options, const std::string& how, const std::string& advice, LogMapResult* result);
// The same for a u whose verification shot (ExpMap with options.verify) has already been integrated.
void Judge(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1, const Eigen::VectorXd& u,
           ExpMapResult shot, const LogMapOptions& options, const std::string& how, const std::string& advice,
           LogMapResult* result);

// How a refinement ended (Refine).
struct Refinement {
  bool converged = false;  // |r|_2 <= bvp_stop_factor * bvp_tol on a verification shot
  int steps = 0;
  std::string how;
};

// Newton steps u <- u - J^{-1} r with a fixed Jacobian J = d g(1) / d u from the presolve (a chord iteration: J is
// accurate to about the presolve rtol, so each step shrinks the residual by roughly that factor) and residuals from
// the verification integrator, so that the last shot is the verification itself. Stops when the residual is below
// the stop norm (converged; *shot is that shot and *u its velocity), when it fails to fall, when a shot fails, or
// after -bvp_refine_iterations steps; *u is then the velocity of the smallest residual seen. `label` names the
// phase for the monitor.
Refinement Refine(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                  const Eigen::MatrixXd& jacobian, const LogMapOptions& options, const char* label,
                  BvpMonitor* monitor, Eigen::VectorXd* u, ExpMapResult* shot);

// A result for `solver` (status success); when the metric cannot differentiate its geodesic acceleration (no
// Jacobian of the geodesic flow, which every shooting method needs), *usable is false and the result says why.
LogMapResult StartResult(const Metric& metric, const std::string& solver, bool* usable);

// "N Levenberg-Marquardt iterations (S successful, U unsuccessful; Ceres: message)".
std::string Describe(const ceres::Solver::Summary& summary, const IterationObserver& observer);

// ---- Discrete geodesics with Richardson extrapolation (solvers/geodesic/discrete_bvp.cpp) ----
// Adds meshes to *x (-bvp_extrapolation_*, the first from `start`): -bvp_extrapolation_levels of them, and with
// `to_tolerance` more until the length's error estimate is within -bvp_extrapolation_length_rtol, or within
// `length_error` (absolute) when that is larger (up to -bvp_extrapolation_max_segments in both cases).
void ExtendExtrapolation(const Decoder& decoder, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                         const LogMapOptions& options, bool to_tolerance, const InitialCurve& start,
                         ExtrapolatedDiscreteGeodesic* x, double length_error = 0);
// The discrete solver on *x (extended to tolerance): kSuccess, kExtrapolated or kNotConverged (see log_map.hpp).
// Throws InputError for a metric without a decoder or -bvp_extrapolation_levels < 2.
LogMapResult SolveByExtrapolation(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                                  const InitialCurve& start, const LogMapOptions& options,
                                  ExtrapolatedDiscreteGeodesic* x);
// "L +- e (Richardson extrapolation of discrete geodesics on N = 64, 128, 256 segments[; ...])".
std::string DescribeExtrapolation(const ExtrapolatedDiscreteGeodesic& x);

}  // namespace pushpull::bvp

namespace pushpull {
// The registered solvers (solvers/geodesic/: single_shooting.cpp, multiple_shooting.cpp, collocation.cpp,
// discrete_bvp.cpp).
std::unique_ptr<BvpSolver> MakeSingleShooting(const LogMapOptions& options);
std::unique_ptr<BvpSolver> MakeMultipleShooting(const LogMapOptions& options);
std::unique_ptr<BvpSolver> MakeCollocation(const LogMapOptions& options);
std::unique_ptr<BvpSolver> MakeDiscreteExtrapolation(const LogMapOptions& options);
}  // namespace pushpull
