// Single shooting: unknown u = g'(0), residual r(u) = g_u(1) - z1, solved by Ceres Levenberg-Marquardt. The
// Jacobian d g(1)/d u comes from the CVODES variational equations (ExpMapWithJacobian), from the same integration
// as the residual. Convergence is declared only by bvp::Verify (re-integration with the tight integrator).
#include <ceres/cost_function.h>
#include <ceres/problem.h>
#include <ceres/solver.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "bvp_support.hpp"
#include "common/callback_barrier.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

// r(u) with dr/du. Ceres evaluates a candidate u without Jacobian and, if it accepts the step, again with the
// Jacobian: the last sensitivity integration is kept so that the second call costs nothing. A failed integration
// returns false, which Ceres treats as an unsuccessful step (the trust region shrinks).
class ShootingCost : public ceres::CostFunction {
 public:
  ShootingCost(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const GeodesicOptions& options,
               CallbackBarrier* barrier)
      : metric_(metric), z0_(z0), z1_(z1), options_(options), barrier_(barrier) {
    set_num_residuals(metric.dim());
    mutable_parameter_block_sizes()->push_back(metric.dim());
  }

  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
    return barrier_->Run("the shooting residual", false, [&] { return Shoot(parameters, residuals, jacobians); });
  }

  const std::string& last_failure() const { return last_failure_; }
  int shots() const { return shots_; }
  // The end-point Jacobian of the last successful shot at exactly u (empty if there is none).
  MatrixXd JacobianAt(const VectorXd& u) const {
    if (has_last_ && last_.usable() && last_u_ == u) return last_.end_jacobian;
    return {};
  }

 private:
  bool Shoot(double const* const* parameters, double* residuals, double** jacobians) const {
    const int d = metric_.dim();
    const Eigen::Map<const VectorXd> u(parameters[0], d);
    if (!(has_last_ && u == last_u_)) {
      last_ = ExpMapWithJacobian(metric_, z0_, u, options_);
      last_u_ = u;
      has_last_ = true;
      ++shots_;
    }
    if (!last_.usable()) {
      last_failure_ = last_.message;
      return false;
    }
    Eigen::Map<VectorXd>(residuals, d) = last_.end_point - z1_;
    if (jacobians && jacobians[0]) {
      Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(jacobians[0], d, d) =
          last_.end_jacobian;
    }
    return true;
  }

  const Metric& metric_;
  VectorXd z0_, z1_;
  GeodesicOptions options_;
  CallbackBarrier* barrier_;
  mutable bool has_last_ = false;
  mutable VectorXd last_u_;
  mutable ExpMapResult last_;
  mutable std::string last_failure_;
  mutable int shots_ = 0;
};

const char* kAdvice =
    " Possible causes: the initial guess lies in the basin of another geodesic or of none (far or near-antipodal "
    "points: try -bvp_type multiple_shooting or -bvp_init graph), the metric is nearly singular along the way, or the "
    "shot integrator is too loose for bvp_tol (-bvp_ode_rtol, -bvp_tol, -bvp_max_iterations).";

class SingleShooting : public BvpSolver {
 public:
  explicit SingleShooting(const LogMapOptions& options) : options_(options) {}

  LogMapResult Solve(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const InitialCurve& guess,
                     BvpMonitor* monitor) override {
    bool usable = false;
    LogMapResult result = bvp::StartResult(metric, "shooting", &usable);
    if (!usable) return result;
    VectorXd u = guess.VelocityAt(0.0);
    std::string how;
    MatrixXd jacobian;  // d g(1) / d u at u from the last presolve shot
    // Presolve: the same iteration with cheap, loose shots, so that the expensive tight shots start next to the
    // solution. Its shots' end points are accurate to about the loose rtol, so iterating below a residual of that
    // size would not bring the true residual down: it stops at |r|_2 <= max(bvp_tol, bvp_presolve_rtol).
    // A coarse level (-bvp_presolve_coarse_rtol) takes the first, long steps from a rough guess with cheaper shots
    // still; a refined guess (the discrete geodesic) needs no long steps, and the coarse level's first shot would
    // only measure a residual below its own accuracy.
    const double loose = options_.presolve_rtol;
    if (loose > options_.shots.ode.rtol) {
      const GeodesicOptions shots = bvp::PresolveShots(options_, loose);
      VectorXd v = u;
      const double coarse = options_.presolve_coarse_rtol;
      if (coarse > loose && !guess.refined) {
        VectorXd w = v;
        const Phase level = Run(metric, z0, z1, bvp::PresolveShots(options_, coarse), coarse,
                                "shooting (coarse presolve)", monitor, &w, options_.presolve_coarse_trust_radius);
        result.iterations += level.iterations;
        if (level.started && w.allFinite() && level.final_norm <= coarse) {
          v = w;
          how = std::to_string(level.iterations) + " coarse presolve iterations at rtol " + FormatReal(coarse) +
                level.start + ", then ";
        }
      }
      const double presolve_stop = std::max(options_.tol, loose);
      const Phase pre = Run(metric, z0, z1, shots, presolve_stop, "shooting (presolve)", monitor, &v);
      result.iterations += pre.iterations;
      if (pre.started && v.allFinite() && pre.final_norm <= presolve_stop) {
        u = v;
        jacobian = pre.jacobian;
        how += std::to_string(pre.iterations) + " presolve iterations at rtol " + FormatReal(loose) + pre.start +
               ", then ";
      } else {  // the tight iteration starts from the guess itself
        how += "a presolve at rtol " + FormatReal(loose) + " that did not converge (" +
               (pre.started ? pre.how : "first shot: " + pre.failure) + "), then ";
      }
    }
    if (options_.refine_iterations > 0 && jacobian.size() > 0) {
      ExpMapResult shot;
      const bvp::Refinement refine =
          bvp::Refine(metric, z0, z1, jacobian, options_, "shooting (refine)", monitor, &u, &shot);
      result.iterations += refine.steps;
      if (refine.converged) {
        bvp::Judge(metric, z0, z1, u, std::move(shot), options_, how + refine.how + " from the " +
                   guess.description + " guess", kAdvice, &result);
        return result;
      }
      how += refine.how + ", then ";
    }
    const Phase tight = Run(metric, z0, z1, options_.shots, bvp::StopNorm(options_), "shooting", monitor, &u);
    if (!tight.started) {
      result.status = GeodesicStatus::kNotConverged;
      result.initial_velocity = u;
      result.message = how + "the shot from the initial guess (" + guess.description + ", u = " + FormatPoint(u) +
                       ") failed: " + tight.failure + "." + kAdvice;
      return result;
    }
    result.iterations += tight.iterations;
    how += tight.how + " from the " + guess.description + " guess";
    if (!tight.failure.empty()) how += "; last failed shot: " + tight.failure;
    bvp::Verify(metric, z0, z1, u, options_, how, kAdvice, &result);
    return result;
  }

 private:
  struct Phase {
    bool started = false;  // the first shot integrated
    int iterations = 0;
    double final_norm = 0;  // |r|_2 at the end
    std::string how, failure;
    std::string start;      // " (started from ...)" when the guess's velocity had to be halved
    MatrixXd jacobian;      // of the last shot at the final u, when it is known
  };

  // Levenberg-Marquardt on u (in place) with the given shot integrator until |r|_2 <= stop_norm, from the initial
  // trust-region radius `initial_radius` (0: Ceres' default).
  static Phase Run(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const GeodesicOptions& shots,
                   double stop_norm, const char* label, BvpMonitor* monitor, const LogMapOptions& options,
                   VectorXd* u, double initial_radius) {
    Phase phase;
    CallbackBarrier barrier;  // of the cost and the observer; declared before the problem, which holds the cost
    auto* cost = new ShootingCost(metric, z0, z1, shots, &barrier);
    ceres::Problem::Options problem_options;
    problem_options.cost_function_ownership = ceres::TAKE_OWNERSHIP;
    ceres::Problem problem(problem_options);
    problem.AddResidualBlock(cost, nullptr, u->data());
    // The initial shot first: if it fails there is nothing to iterate on. A geodesic shot along the guess's
    // velocity can run into a singularity of the metric before t = 1 although a shorter one (the same curve up to
    // an earlier time) integrates: the velocity is halved up to -bvp_start_halvings times. If no shot integrates,
    // the reason is the integrator's.
    VectorXd r(metric.dim());
    const double* p = u->data();
    int halvings = 0;
    while (!cost->Evaluate(&p, r.data(), nullptr)) {
      barrier.RethrowIfCaught();  // an exception is no failed shot: halving would not help
      if (halvings == options.start_halvings) {
        phase.failure = cost->last_failure();
        if (halvings > 0) {
          phase.failure += " (also with the initial velocity halved " + std::to_string(halvings) + " times)";
        }
        return phase;
      }
      *u *= 0.5;
      ++halvings;
    }
    phase.started = true;
    bvp::IterationObserver observer(label, stop_norm, monitor, &barrier);
    ceres::Solver::Options solver_options = bvp::SolverOptions(options, ceres::DENSE_QR, &observer);
    if (initial_radius > 0) solver_options.initial_trust_region_radius = initial_radius;
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    barrier.RethrowIfCaught();
    phase.iterations = summary.num_successful_steps + summary.num_unsuccessful_steps;
    if (halvings > 0) {
      phase.start = " (started from the guess's initial velocity halved " + std::to_string(halvings) +
                    " times: the full one's shot failed)";
    }
    phase.how = bvp::Describe(summary, observer) + phase.start;
    phase.final_norm = std::sqrt(2.0 * summary.final_cost);
    phase.failure = cost->last_failure();
    phase.jacobian = cost->JacobianAt(*u);
    return phase;
  }
  Phase Run(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const GeodesicOptions& shots,
            double stop_norm, const char* label, BvpMonitor* monitor, VectorXd* u, double initial_radius = 0) const {
    return Run(metric, z0, z1, shots, stop_norm, label, monitor, options_, u, initial_radius);
  }

  LogMapOptions options_;
};

}  // namespace

std::unique_ptr<BvpSolver> MakeSingleShooting(const LogMapOptions& options) {
  return std::make_unique<SingleShooting>(options);
}

}  // namespace pushpull
