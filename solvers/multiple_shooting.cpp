// Multiple shooting: [0, 1] is cut into K segments. Each segment is integrated over unit time from its own start
// state (z_k, w_k) (w_k = g'(k/K) / K, the velocity in segment time), so the unknowns are
//   w_0 (d: the first start point is z0)  and  x_k = (z_k, w_k) (2d) for k = 1 .. K-1,
// and the residuals are the continuity of the state, Phi(z_k, w_k) - x_{k+1} (2d), for k < K-1, and the end point,
// Phi_z(z_{K-1}, w_{K-1}) - z1 (d). Each residual block depends on at most two parameter blocks, so the Jacobian is
// block-sparse; its blocks d Phi / d(z, w) come from CVODES forward sensitivities of each segment
// (ExpMapWithStateJacobian). Ceres solves the Levenberg-Marquardt steps with sparse normal Cholesky (SuiteSparse
// or Eigen's sparse module, whichever Ceres was built with). The result is u = K w_0, verified like single
// shooting by one tight integration over [0, 1].
#include <ceres/cost_function.h>
#include <ceres/problem.h>
#include <ceres/solver.h>
#include <ceres/types.h>

#include <Eigen/Core>
#include <string>
#include <vector>

#include "bvp_support.hpp"
#include "pushpull/log_map.hpp"

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
              const GeodesicOptions& options)
      : metric_(metric), z0_(z0), z1_(z1), first_(first), last_(last), options_(options) {
    const int d = metric.dim();
    set_num_residuals(last ? d : 2 * d);
    mutable_parameter_block_sizes()->push_back(first ? d : 2 * d);
    if (!last) mutable_parameter_block_sizes()->push_back(2 * d);
  }

  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
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

  const std::string& failure() const { return failure_; }

 private:
  const Metric& metric_;
  VectorXd z0_, z1_;
  bool first_, last_;
  GeodesicOptions options_;
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

// The sparse linear solver Ceres was built with, dense QR when it has none.
void ChooseLinearSolver(ceres::Solver::Options* o) {
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

class MultipleShooting : public BvpSolver {
 public:
  explicit MultipleShooting(const LogMapOptions& options) : options_(options) {}

  LogMapResult Solve(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const InitialCurve& guess,
                     BvpMonitor* monitor) override {
    bool usable = false;
    LogMapResult result = bvp::StartResult(metric, "multiple_shooting", &usable);
    if (!usable) return result;
    const int d = metric.dim();
    const int K = options_.segments;
    const double h = 1.0 / K;
    // Unknowns from the initial curve: velocities in segment time are h times those in curve time.
    VectorXd w0 = h * guess.VelocityAt(0.0);
    std::vector<VectorXd> x(static_cast<std::size_t>(K));
    for (int k = 1; k < K; ++k) {
      VectorXd xk(2 * d);
      xk << guess.PointAt(k * h), h * guess.VelocityAt(k * h);
      x[static_cast<std::size_t>(k)] = xk;
    }
    ceres::Problem::Options problem_options;
    problem_options.cost_function_ownership = ceres::TAKE_OWNERSHIP;
    ceres::Problem problem(problem_options);
    std::vector<SegmentCost*> costs;
    for (int k = 0; k < K; ++k) {
      auto* cost = new SegmentCost(metric, z0, z1, k == 0, k == K - 1, options_.shots);
      costs.push_back(cost);
      std::vector<double*> blocks;
      blocks.push_back(k == 0 ? w0.data() : x[static_cast<std::size_t>(k)].data());
      if (k < K - 1) blocks.push_back(x[static_cast<std::size_t>(k + 1)].data());
      problem.AddResidualBlock(cost, nullptr, blocks);
      // The initial curve's segments must integrate, or there is nothing to iterate on.
      VectorXd r(cost->num_residuals());
      if (!cost->Evaluate(blocks.data(), r.data(), nullptr)) {
        result.status = GeodesicStatus::kNotConverged;
        result.message = "segment " + std::to_string(k) + " of " + std::to_string(K) + " of the initial curve (" +
                         guess.description + ") failed to integrate: " + cost->failure() + "." + kAdvice;
        return result;
      }
    }
    bvp::IterationObserver observer("multiple_shooting", bvp::StopNorm(options_), monitor);
    ceres::Solver::Options solver_options = bvp::SolverOptions(options_, ceres::DENSE_QR, &observer);
    ChooseLinearSolver(&solver_options);
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    result.iterations = summary.num_successful_steps + summary.num_unsuccessful_steps;
    std::string how = bvp::Describe(summary) + " with " + std::to_string(K) + " segments from the " +
                      guess.description + " guess";
    for (int k = 0; k < K; ++k) {
      if (!costs[static_cast<std::size_t>(k)]->failure().empty()) {
        how += "; segment " + std::to_string(k) + " failed once: " + costs[static_cast<std::size_t>(k)]->failure();
        break;
      }
    }
    bvp::Verify(metric, z0, z1, VectorXd(K * w0), options_, how, kAdvice, &result);
    return result;
  }

 private:
  LogMapOptions options_;
};

}  // namespace

std::unique_ptr<BvpSolver> MakeMultipleShooting(const LogMapOptions& options) {
  return std::make_unique<MultipleShooting>(options);
}

}  // namespace pushpull
