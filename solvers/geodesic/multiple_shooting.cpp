// Multiple shooting: [0, 1] is cut into K segments. Each segment is integrated over unit time from its own start
// state (z_k, w_k) (w_k = g'(k/K) / K, the velocity in segment time), so the unknowns are
//   w_0 (d: the first start point is z0)  and  x_k = (z_k, w_k) (2d) for k = 1 .. K-1,
// and the residuals are the continuity of the state, Phi(z_k, w_k) - x_{k+1} (2d), for k < K-1, and the end point,
// Phi_z(z_{K-1}, w_{K-1}) - z1 (d). Each residual block depends on at most two parameter blocks, so the Jacobian is
// block-sparse; its blocks d Phi / d(z, w) come from CVODES forward sensitivities of each segment
// (ExpMapWithStateJacobian). Ceres solves the Levenberg-Marquardt steps with sparse normal Cholesky (SuiteSparse
// or Eigen's sparse module, whichever Ceres was built with). Like single shooting it first iterates with loose shots
// (-bvp_presolve_rtol), then takes Newton steps on verification shots over [0, 1] with the end point's Jacobian
// composed from the segments (bvp::Refine); if those do not converge, the segments iterate on with the
// -bvp_ode_rtol shots. The result is u = K w_0, verified like single shooting by one tight integration over [0, 1].
#include <ceres/cost_function.h>
#include <ceres/problem.h>
#include <ceres/solver.h>
#include <ceres/types.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bvp_support.hpp"
#include "common/callback_barrier.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

// Residual of segment k. Parameter blocks: the start (w_0 for the first segment, x_k otherwise), then x_{k+1}
// unless the segment is the last one. The last sensitivity integration is kept (Ceres evaluates an accepted point
// twice: cost only, then with Jacobians).
class SegmentCost : public ceres::CostFunction {
 public:
  SegmentCost(const Metric& metric, const VectorXd& z0, const VectorXd& z1, bool first, bool last,
              const GeodesicOptions& options, CallbackBarrier* barrier)
      : metric_(metric), z0_(z0), z1_(z1), first_(first), last_(last), options_(options), barrier_(barrier) {
    const int d = metric.dim();
    set_num_residuals(last ? d : 2 * d);
    mutable_parameter_block_sizes()->push_back(first ? d : 2 * d);
    if (!last) mutable_parameter_block_sizes()->push_back(2 * d);
  }

  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
    return barrier_->Run("a segment's residual", false, [&] { return Shoot(parameters, residuals, jacobians); });
  }

  const std::string& failure() const { return failure_; }
  // The last successful integration if it started at `start` (the segment's state at the final parameters), else
  // null.
  const ExpMapResult* FlowAt(const VectorXd& start) const {
    return has_last_ && flow_.usable() && last_start_ == start ? &flow_ : nullptr;
  }

 private:
  bool Shoot(double const* const* parameters, double* residuals, double** jacobians) const {
    const int d = metric_.dim();
    VectorXd start(2 * d);
    if (first_) {
      start << z0_, Eigen::Map<const VectorXd>(parameters[0], d);
    } else {
      start = Eigen::Map<const VectorXd>(parameters[0], 2 * d);
    }
    if (!(has_last_ && start == last_start_)) {
      flow_ = ExpMapWithStateJacobian(metric_, start.head(d), start.tail(d), options_);
      last_start_ = start;
      has_last_ = true;
    }
    if (!flow_.usable()) {
      failure_ = flow_.message;
      return false;
    }
    const int m = num_residuals();
    if (last_) {
      Eigen::Map<VectorXd>(residuals, d) = flow_.end_point - z1_;
    } else {
      Eigen::Map<VectorXd> r(residuals, 2 * d);
      r << flow_.end_point, flow_.end_velocity;
      r -= Eigen::Map<const VectorXd>(parameters[1], 2 * d);
    }
    if (jacobians) {
      // Rows: the first m rows of d[g(1); g'(1)] / d[z; w].
      if (jacobians[0]) {
        const int cols = first_ ? d : 2 * d;
        Eigen::Map<RowMajorMatrix>(jacobians[0], m, cols) =
            flow_.end_jacobian.topRows(m).rightCols(cols);
      }
      if (!last_ && jacobians[1]) {
        Eigen::Map<RowMajorMatrix>(jacobians[1], m, 2 * d) = -MatrixXd::Identity(m, 2 * d);
      }
    }
    return true;
  }

  const Metric& metric_;
  VectorXd z0_, z1_;
  bool first_, last_;
  GeodesicOptions options_;
  CallbackBarrier* barrier_;
  mutable bool has_last_ = false;
  mutable VectorXd last_start_;
  mutable ExpMapResult flow_;
  mutable std::string failure_;
};

const char* kAdvice =
    " Possible causes: the initial curve is far from any geodesic (try -bvp_init graph with -graph_points), "
    "more segments are needed (-bvp_segments), the metric is nearly singular along the way, or the geodesic is so "
    "sensitive to its initial velocity that one integration over [0, 1] cannot reproduce it within bvp_tol "
    "(-bvp_verify_ode_rtol, -bvp_tol).";

class MultipleShooting : public BvpSolver {
 public:
  explicit MultipleShooting(const LogMapOptions& options) : options_(options) {}

  LogMapResult Solve(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const InitialCurve& guess,
                     BvpMonitor* monitor) override {
    static const int kEvent = EventLog::Global().Register("MultipleShooting");
    ScopedEvent event(kEvent);
    bool usable = false;
    LogMapResult result = bvp::StartResult(metric, "multiple_shooting", &usable);
    if (!usable) return result;
    const int d = metric.dim();
    const int K = options_.segments;
    const double h = 1.0 / K;
    // Unknowns from the initial curve: velocities in segment time are h times those in curve time.
    Unknowns x;
    x.w0 = h * guess.VelocityAt(0.0);
    x.x.resize(static_cast<std::size_t>(K));
    for (int k = 1; k < K; ++k) {
      VectorXd xk(2 * d);
      xk << guess.PointAt(k * h), h * guess.VelocityAt(k * h);
      x.x[static_cast<std::size_t>(k)] = xk;
    }
    // Presolve as single shooting does: the same iteration with loose shots first, down to a residual of
    // max(bvp_tol, bvp_presolve_rtol) (the loose shots' own accuracy), then the -bvp_ode_rtol shots.
    std::string how;
    const double loose = options_.presolve_rtol;
    if (loose > options_.shots.ode.rtol) {
      Unknowns y = x;
      const double stop = std::max(options_.tol, loose);
      const Phase pre =
          Run(metric, z0, z1, bvp::PresolveShots(options_, loose), stop, "multiple_shooting (presolve)", monitor, &y);
      result.iterations += pre.iterations;
      if (pre.started && pre.final_norm <= stop && y.AllFinite()) {
        x = y;
        how = std::to_string(pre.iterations) + " presolve iterations at rtol " + FormatReal(loose) + ", then ";
        // As single shooting does: Newton steps on verification shots over [0, 1] with the end point's Jacobian
        // d g(1) / d u, here the product of the segments' state Jacobians (the segments join within the presolve's
        // residual). Where one integration over [0, 1] is too sensitive for that, the residual stops falling and
        // the segments' own iteration below takes over.
        if (options_.refine_iterations > 0 && pre.jacobian.size() > 0) {
          VectorXd u = K * x.w0;
          ExpMapResult shot;
          const bvp::Refinement refine = bvp::Refine(metric, z0, z1, pre.jacobian, options_,
                                                     "multiple_shooting (refine)", monitor, &u, &shot);
          result.iterations += refine.steps;
          if (refine.converged) {
            bvp::Judge(metric, z0, z1, u, std::move(shot), options_,
                       how + refine.how + " (the Jacobian composed from " + std::to_string(K) +
                           " segments) from the " + guess.description + " guess",
                       kAdvice, &result);
            return result;
          }
          how += refine.how + ", then ";
        }
      } else {
        how = "a presolve at rtol " + FormatReal(loose) + " that did not converge (" +
              (pre.started ? pre.how : pre.failure) + "), then ";
      }
    }
    const Phase tight = Run(metric, z0, z1, options_.shots, bvp::StopNorm(options_), "multiple_shooting", monitor, &x);
    if (!tight.started) {
      result.status = GeodesicStatus::kNotConverged;
      result.message = how + tight.failure + " (the " + guess.description + " guess)." + kAdvice;
      return result;
    }
    result.iterations += tight.iterations;
    how += tight.how + " with " + std::to_string(K) + " segments from the " + guess.description + " guess";
    if (!tight.failure.empty()) how += "; " + tight.failure;
    bvp::Verify(metric, z0, z1, VectorXd(K * x.w0), options_, how, kAdvice, &result);
    return result;
  }

 private:
  struct Unknowns {
    VectorXd w0;                // first segment's velocity (segment time)
    std::vector<VectorXd> x;    // x[k] = (z_k, w_k) for k >= 1 (x[0] unused)
    bool AllFinite() const {
      if (!w0.allFinite()) return false;
      for (std::size_t k = 1; k < x.size(); ++k) {
        if (!x[k].allFinite()) return false;
      }
      return true;
    }
  };

  struct Phase {
    bool started = false;   // every segment of the start integrated
    int iterations = 0;
    double final_norm = 0;  // |r|_2 at the end
    std::string how;
    std::string failure;    // the first failed segment (at the start: why nothing could be iterated)
    MatrixXd jacobian;      // d g(1) / d u (u = K w_0) composed from the segments at the final unknowns, if known
  };

  // Levenberg-Marquardt on the unknowns (in place) with the given segment integrator until |r|_2 <= stop_norm.
  Phase Run(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const GeodesicOptions& shots,
            double stop_norm, const char* label, BvpMonitor* monitor, Unknowns* u) const {
    Phase phase;
    const int K = options_.segments;
    CallbackBarrier barrier;  // of the costs and the observer; declared before the problem, which holds the costs
    ceres::Problem::Options problem_options;
    problem_options.cost_function_ownership = ceres::TAKE_OWNERSHIP;
    ceres::Problem problem(problem_options);
    std::vector<SegmentCost*> costs;
    for (int k = 0; k < K; ++k) {
      auto* cost = new SegmentCost(metric, z0, z1, k == 0, k == K - 1, shots, &barrier);
      costs.push_back(cost);
      std::vector<double*> blocks;
      blocks.push_back(k == 0 ? u->w0.data() : u->x[static_cast<std::size_t>(k)].data());
      if (k < K - 1) blocks.push_back(u->x[static_cast<std::size_t>(k + 1)].data());
      problem.AddResidualBlock(cost, nullptr, blocks);
      // The start's segments must integrate, or there is nothing to iterate on.
      VectorXd r(cost->num_residuals());
      if (!cost->Evaluate(blocks.data(), r.data(), nullptr)) {
        barrier.RethrowIfCaught();
        phase.failure = "segment " + std::to_string(k) + " of " + std::to_string(K) + " failed to integrate at the " +
                        "start: " + cost->failure();
        return phase;
      }
    }
    phase.started = true;
    bvp::IterationObserver observer(label, stop_norm, monitor, &barrier);
    ceres::Solver::Options solver_options = bvp::SolverOptions(options_, ceres::DENSE_QR, &observer);
    bvp::ChooseSparseLinearSolver(&solver_options);
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    barrier.RethrowIfCaught();
    phase.iterations = summary.num_successful_steps + summary.num_unsuccessful_steps;
    phase.final_norm = std::sqrt(2.0 * summary.final_cost);
    phase.how = bvp::Describe(summary, observer);
    phase.jacobian = ComposedJacobian(costs, z0, *u);
    for (int k = 0; k < K; ++k) {
      if (!costs[static_cast<std::size_t>(k)]->failure().empty()) {
        phase.failure =
            "segment " + std::to_string(k) + " failed once: " + costs[static_cast<std::size_t>(k)]->failure();
        break;
      }
    }
    return phase;
  }

  // d g(1) / d u for the single shot with u = K w_0: the product of the segments' state Jacobians
  // d[g; w](end) / d[g; w](start), last one first, its top-right d x d block divided by K. Empty unless every
  // segment's last integration started at the final unknowns.
  MatrixXd ComposedJacobian(const std::vector<SegmentCost*>& costs, const VectorXd& z0, const Unknowns& u) const {
    const Eigen::Index d = z0.size();
    const int K = options_.segments;
    MatrixXd product = MatrixXd::Identity(2 * d, 2 * d);
    for (int k = 0; k < K; ++k) {
      VectorXd start(2 * d);
      if (k == 0) {
        start << z0, u.w0;
      } else {
        start = u.x[static_cast<std::size_t>(k)];
      }
      const ExpMapResult* flow = costs[static_cast<std::size_t>(k)]->FlowAt(start);
      if (!flow || flow->end_jacobian.rows() != 2 * d || flow->end_jacobian.cols() != 2 * d) return {};
      product = flow->end_jacobian * product;
    }
    MatrixXd jacobian = product.topRightCorner(d, d) / K;
    if (!jacobian.allFinite()) return {};
    return jacobian;
  }

  LogMapOptions options_;
};

}  // namespace

std::unique_ptr<BvpSolver> MakeMultipleShooting(const LogMapOptions& options) {
  return std::make_unique<MultipleShooting>(options);
}

}  // namespace pushpull
