// Collocation: the geodesic system as a first-order system y = (g, g'), y' = F(y) = (g', a(g, g')), discretised on
// a mesh 0 = t_0 < ... < t_N = 1 by the three-stage Lobatto IIIA formula (MIRK4, Hermite-Simpson; the method of
// MATLAB's bvp4c): with h = t_{i+1} - t_i and F_i = F(y_i),
//   y_{i+1/2} = (y_i + y_{i+1}) / 2 + h (F_i - F_{i+1}) / 8,
//   R_i = (y_{i+1} - y_i) / h - (F_i + 4 F(y_{i+1/2}) + F_{i+1}) / 6 = 0,           i = 0 .. N-1,
// with g_0 = z0 and g_N = z1 fixed: 2d N equations in the 2d N unknowns v_0, (g_i, v_i) for 0 < i < N, and v_N.
// The error is O(h^4). No trial trajectory is ever integrated: every equation involves the metric only next to the
// current curve, so a trial step cannot run off into a degenerate region of the decoder the way a shot can.
//
// Newton: Ceres Levenberg-Marquardt with sparse normal Cholesky on the block-bidiagonal Jacobian (each R_i depends
// on four parameter blocks g_i, v_i, g_{i+1}, v_{i+1}); F and its exact Jacobian dF = [0 I; da/dg da/dv]
// (Metric::AccelerationJacobian) are evaluated once per node and midpoint per trial point, in an
// EvaluationCallback shared by all residual blocks.
//
// Error control: the continuous solution is the C^1 cubic Hermite interpolant S of (y_i, F_i) on each interval;
// its defect r(t) = S'(t) - F(S(t)) vanishes at the nodes and the midpoint, and its relative size
// |r|_inf / (1 + |F(S)|_inf) at t_i + h/4 and t_i + 3h/4 is the interval's defect estimate. Intervals above
// -bvp_collocation_tol are split (into (defect / tol)^(1/3) pieces, at most 4) and the refined mesh is solved again
// from the interpolant, up to -bvp_collocation_max_intervals intervals.
//
// The answer is then checked like every other solver's: the initial velocity v_0 is integrated over [0, 1] by the
// verification integrator, polished by Newton steps on those shots (bvp::Refine, with the end-point Jacobian of one
// loose sensitivity shot), and judged against -bvp_tol (bvp::Judge). When that fails but the collocation converged,
// the result is kApproximate with the collocation's curve and length.
#include <ceres/cost_function.h>
#include <ceres/evaluation_callback.h>
#include <ceres/problem.h>
#include <ceres/solver.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
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

// The discrete unknowns on a mesh: g_i and v_i at every node (g_0 and g_N are held fixed).
struct MeshFunction {
  std::vector<double> t;
  std::vector<VectorXd> g, v;
  int intervals() const { return static_cast<int>(t.size()) - 1; }
};

// F, dF at every node and midpoint of the current iterate; filled by PrepareForEvaluation.
class CollocationSystem : public ceres::EvaluationCallback {
 public:
  CollocationSystem(const Metric& metric, MeshFunction* y, CallbackBarrier* barrier)
      : metric_(metric), y_(y), barrier_(barrier) {
    const std::size_t n = y->t.size();
    const int d = metric.dim();
    node_f_.assign(n, VectorXd(2 * d));
    node_df_.assign(n, MatrixXd::Zero(2 * d, 2 * d));
    mid_y_.assign(n - 1, VectorXd(2 * d));
    mid_f_.assign(n - 1, VectorXd(2 * d));
    mid_df_.assign(n - 1, MatrixXd::Zero(2 * d, 2 * d));
  }

  void PrepareForEvaluation(bool evaluate_jacobians, bool new_evaluation_point) override {
    const bool done = barrier_->Run("the collocation evaluation", false, [&] {
      Prepare(evaluate_jacobians, new_evaluation_point);
      return true;
    });
    if (!done) {
      ok_ = false;
      failure_ = barrier_->message();
    }
  }

  CallbackBarrier& barrier() const { return *barrier_; }
  bool ok() const { return ok_; }
  const std::string& failure() const { return failure_; }
  int evaluations() const { return evaluations_; }
  const VectorXd& node_f(std::size_t i) const { return node_f_[i]; }
  const MatrixXd& node_df(std::size_t i) const { return node_df_[i]; }
  const VectorXd& mid_f(std::size_t i) const { return mid_f_[i]; }
  const MatrixXd& mid_df(std::size_t i) const { return mid_df_[i]; }

 private:
  void Prepare(bool evaluate_jacobians, bool new_evaluation_point) {
    if (!new_evaluation_point && (!evaluate_jacobians || have_jacobians_)) return;
    ok_ = true;
    failure_.clear();
    have_jacobians_ = evaluate_jacobians;
    const int d = metric_.dim();
    const std::size_t n = y_->t.size();
    for (std::size_t i = 0; i < n && ok_; ++i) {
      Eval(y_->g[i], y_->v[i], evaluate_jacobians, &node_f_[i], &node_df_[i], "node", i);
    }
    for (std::size_t i = 0; i + 1 < n && ok_; ++i) {
      const double h = y_->t[i + 1] - y_->t[i];
      VectorXd& m = mid_y_[i];
      m.head(d) = 0.5 * (y_->g[i] + y_->g[i + 1]);
      m.tail(d) = 0.5 * (y_->v[i] + y_->v[i + 1]);
      m += (h / 8) * (node_f_[i] - node_f_[i + 1]);
      Eval(m.head(d), m.tail(d), evaluate_jacobians, &mid_f_[i], &mid_df_[i], "midpoint of interval", i);
    }
    ++evaluations_;
  }

  void Eval(const VectorXd& g, const VectorXd& v, bool jacobian, VectorXd* f, MatrixXd* df, const char* where,
            std::size_t i) {
    const int d = metric_.dim();
    std::string why;
    VectorXd acc;
    bool good;
    if (jacobian) {
      MatrixXd ja;
      good = metric_.AccelerationJacobian(g, v, &acc, &ja, &why);
      if (good) {
        df->setZero();
        df->topRightCorner(d, d).setIdentity();
        df->bottomRows(d) = ja;
      }
    } else {
      good = metric_.Acceleration(g, v, &acc, &why);
    }
    if (good && !acc.allFinite()) {
      good = false;
      why = "non-finite acceleration";
    }
    if (!good) {
      ok_ = false;
      failure_ = std::string(where) + " " + std::to_string(i) + " at " + FormatPoint(g) + ": " + why;
      return;
    }
    f->head(d) = v;
    f->tail(d) = acc;
  }

  const Metric& metric_;
  MeshFunction* y_;
  CallbackBarrier* barrier_;
  std::vector<VectorXd> node_f_, mid_y_, mid_f_;
  std::vector<MatrixXd> node_df_, mid_df_;
  bool ok_ = false;
  bool have_jacobians_ = false;
  std::string failure_;
  int evaluations_ = 0;
};

// R_i / h-scaled as in the file's overview. Parameter blocks g_i, v_i, g_{i+1}, v_{i+1}.
class IntervalCost : public ceres::CostFunction {
 public:
  IntervalCost(const CollocationSystem& system, const MeshFunction& y, std::size_t i, int d)
      : system_(system), y_(y), i_(i), d_(d) {
    set_num_residuals(2 * d);
    for (int k = 0; k < 4; ++k) mutable_parameter_block_sizes()->push_back(d);
  }

  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
    return system_.barrier().Run("an interval's residual", false,
                                 [&] { return system_.ok() && Residual(parameters, residuals, jacobians); });
  }

 private:
  bool Residual(double const* const* parameters, double* residuals, double** jacobians) const {
    const int d = d_;
    const double h = y_.t[i_ + 1] - y_.t[i_];
    const Eigen::Map<const VectorXd> g0(parameters[0], d), v0(parameters[1], d), g1(parameters[2], d),
        v1(parameters[3], d);

    const VectorXd& f0 = system_.node_f(i_);
    const VectorXd& f1 = system_.node_f(i_ + 1);
    const VectorXd& fm = system_.mid_f(i_);
    Eigen::Map<VectorXd> r(residuals, 2 * d);
    r.head(d) = (g1 - g0) / h;
    r.tail(d) = (v1 - v0) / h;
    r -= (f0 + 4 * fm + f1) / 6;
    if (!jacobians) return true;
    const MatrixXd& df0 = system_.node_df(i_);
    const MatrixXd& df1 = system_.node_df(i_ + 1);
    const MatrixXd& dfm = system_.mid_df(i_);
    const MatrixXd I = MatrixXd::Identity(2 * d, 2 * d);
    const MatrixXd left = -I / h - (df0 + 4 * dfm * (0.5 * I + (h / 8) * df0)) / 6;
    const MatrixXd right = I / h - (df1 + 4 * dfm * (0.5 * I - (h / 8) * df1)) / 6;
    const MatrixXd* sides[2] = {&left, &right};
    for (int k = 0; k < 4; ++k) {
      if (!jacobians[k]) continue;
      Eigen::Map<RowMajorMatrix>(jacobians[k], 2 * d, d) = sides[k / 2]->middleCols((k % 2) * d, d);
    }
    return true;
  }

  const CollocationSystem& system_;
  const MeshFunction& y_;
  std::size_t i_;
  int d_;
};

// Cubic Hermite interpolant of (y_i, F_i), (y_{i+1}, F_{i+1}) at tau in [0, 1] of interval i: S and S'.
void Interpolate(const VectorXd& y0, const VectorXd& f0, const VectorXd& y1, const VectorXd& f1, double h,
                 double tau, VectorXd* s, VectorXd* ds) {
  const double t2 = tau * tau, t3 = t2 * tau;
  *s = (2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + tau) * h * f0 + (-2 * t3 + 3 * t2) * y1 + (t3 - t2) * h * f1;
  *ds = ((6 * t2 - 6 * tau) * y0 + (-6 * t2 + 6 * tau) * y1) / h + (3 * t2 - 4 * tau + 1) * f0 +
        (3 * t2 - 2 * tau) * f1;
}

const char* kAdvice =
    " Possible causes: the initial curve lies far from any geodesic (try -bvp_init graph with -graph_points or more "
    "-bvp_discrete_segments), the metric is singular or nearly so next to the curve (-metric_min_rcond), or the "
    "mesh limit is too small for -bvp_collocation_tol (-bvp_collocation_max_intervals).";

class Collocation : public BvpSolver {
 public:
  explicit Collocation(const LogMapOptions& options) : options_(options) {}

  LogMapResult Solve(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const InitialCurve& guess,
                     BvpMonitor* monitor) override {
    static const int kEvent = EventLog::Global().Register("Collocation");
    ScopedEvent event(kEvent);
    bool usable = false;
    LogMapResult result = bvp::StartResult(metric, "collocation", &usable);
    if (!usable) return result;
    const CollocationOptions& co = options_.collocation;
    MeshFunction y;
    // Uniform in the curve's time (the discrete geodesic's times follow its data-space length), at least as fine as
    // the curve's own vertices (within -bvp_collocation_max_intervals).
    const int n0 = std::min(std::max(co.intervals, static_cast<int>(guess.times.size()) - 1), co.max_intervals);
    for (int i = 0; i <= n0; ++i) {
      const double t = static_cast<double>(i) / n0;
      y.t.push_back(t);
      y.g.push_back(i == 0 ? z0 : i == n0 ? z1 : guess.PointAt(t));
      y.v.push_back(guess.VelocityAt(t));
    }
    std::string how;
    int newton = 0;
    double defect = std::numeric_limits<double>::infinity();
    std::vector<double> defects;
    std::vector<VectorXd> node_f;  // F at the nodes of the converged mesh
    bool converged = false;
    for (int level = 0;; ++level) {
      const Newton solve = RunNewton(metric, &y, monitor);
      newton += solve.iterations;
      result.iterations += solve.iterations;
      if (!solve.converged) {
        how = solve.how + " on " + std::to_string(y.intervals()) + " intervals" +
              (level > 0 ? " (mesh refinement " + std::to_string(level) + ")" : "");
        break;
      }
      defect = Defects(metric, y, &defects, &node_f, &how);
      if (!how.empty()) break;  // the defect could not be evaluated
      if (defect <= co.tol) {
        converged = true;
        break;
      }
      if (y.intervals() >= co.max_intervals) {
        how = "the mesh limit of " + std::to_string(co.max_intervals) + " intervals (-bvp_collocation_max_intervals) "
              "was reached with a defect of " + FormatReal(defect) + " above -bvp_collocation_tol " +
              FormatReal(co.tol);
        break;
      }
      RefineMesh(metric, defects, node_f, &y);
    }
    result.defect = defect;
    result.curve = CurveOf(y, z0, z1);
    const std::string mesh = std::to_string(newton) + " Newton (Levenberg-Marquardt) iterations of collocation on " +
                             std::to_string(y.intervals()) + " intervals (defect " + FormatReal(defect) + ")";
    if (!converged) {
      result.status = GeodesicStatus::kNotConverged;
      result.initial_velocity = y.v.front();
      result.message = "collocation from the " + guess.description + " guess did not converge: " + how + "." +
                       kAdvice;
      return result;
    }
    // The independent check every solver passes: integrate v_0 over [0, 1], polish with Newton steps on those
    // shots, judge the miss against bvp_tol.
    VectorXd u = y.v.front();
    // The end-point Jacobian for the polishing Newton steps needs only about the accuracy of a presolve shot (its
    // error slows the chord iteration, it does not move its answer), with the shots' step limit: the geodesic is
    // known to exist, and on a trained decoder it may need more steps than a presolve trial is allowed.
    GeodesicOptions jacobian_shot = options_.shots;
    if (options_.presolve_rtol > jacobian_shot.ode.rtol) {
      jacobian_shot.ode.atol *= options_.presolve_rtol / jacobian_shot.ode.rtol;
      jacobian_shot.ode.rtol = options_.presolve_rtol;
    }
    const ExpMapResult sens = ExpMapWithJacobian(metric, z0, u, jacobian_shot);
    std::string polish;
    if (sens.usable() && sens.end_jacobian.allFinite()) {
      ExpMapResult shot;
      const bvp::Refinement refine =
          bvp::Refine(metric, z0, z1, sens.end_jacobian, options_, "collocation (verify)", monitor, &u, &shot);
      result.iterations += refine.steps;
      if (refine.converged) {
        bvp::Judge(metric, z0, z1, u, std::move(shot), options_,
                   mesh + " from the " + guess.description + " guess, then " + refine.how, kAdvice, &result);
        return result;
      }
      polish = refine.how;
    } else {
      polish = "the sensitivity shot of the collocation's initial velocity failed: " + sens.message;
    }
    // Not verified: the collocation's own answer, with its estimate, as an approximate result.
    LogMapResult check = result;
    bvp::Verify(metric, z0, z1, y.v.front(), options_, mesh, "", &check);
    result.status = GeodesicStatus::kApproximate;
    result.initial_velocity = y.v.front();
    result.energy = CurveEnergy(metric, y);
    result.length = std::sqrt(std::max(result.energy, 0.0));
    result.length_error = defect * result.length;
    result.endpoint_error = check.endpoint_error;
    result.final_shot = std::move(check.final_shot);
    result.message = mesh + " from the " + guess.description + " guess converged, but re-integrating its initial "
                     "velocity misses z1 (" + check.message + "; " + polish + "): the length is that of the "
                     "collocation curve, accurate to about its defect." + kAdvice;
    return result;
  }

 private:
  struct Newton {
    bool converged = false;
    int iterations = 0;
    std::string how;
  };

  Newton RunNewton(const Metric& metric, MeshFunction* y, BvpMonitor* monitor) const {
    Newton out;
    const int d = metric.dim();
    const std::size_t n = y->t.size();
    CallbackBarrier barrier;  // of the evaluation callback, the costs and the observer
    CollocationSystem system(metric, y, &barrier);
    ceres::Problem::Options problem_options;
    problem_options.cost_function_ownership = ceres::TAKE_OWNERSHIP;
    problem_options.evaluation_callback = &system;
    ceres::Problem problem(problem_options);
    for (std::size_t i = 0; i + 1 < n; ++i) {
      problem.AddResidualBlock(new IntervalCost(system, *y, i, d), nullptr,
                               {y->g[i].data(), y->v[i].data(), y->g[i + 1].data(), y->v[i + 1].data()});
    }
    problem.SetParameterBlockConstant(y->g.front().data());
    problem.SetParameterBlockConstant(y->g.back().data());
    // The start must evaluate, or there is nothing to iterate on.
    system.PrepareForEvaluation(false, true);
    barrier.RethrowIfCaught();
    if (!system.ok()) {
      out.how = "the initial curve cannot be evaluated (" + system.failure() + ")";
      return out;
    }
    const double stop = options_.stop_factor * options_.collocation.tol;
    bvp::IterationObserver observer("collocation", stop, monitor, &barrier);
    ceres::Solver::Options solver_options = bvp::SolverOptions(options_, ceres::DENSE_QR, &observer);
    bvp::ChooseSparseLinearSolver(&solver_options);
    solver_options.initial_trust_region_radius = options_.collocation.trust_radius;
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    barrier.RethrowIfCaught();
    out.iterations = summary.num_successful_steps + summary.num_unsuccessful_steps;
    const double norm = std::sqrt(2.0 * summary.final_cost);
    out.converged = norm <= stop && summary.termination_type != ceres::FAILURE;
    out.how = bvp::Describe(summary, observer) + ", residual " + FormatReal(norm);
    if (!out.converged && !system.failure().empty()) out.how += "; last failed evaluation: " + system.failure();
    for (std::size_t i = 0; i < n && out.converged; ++i) {
      out.converged = y->g[i].allFinite() && y->v[i].allFinite();
    }
    return out;
  }

  // F at node i of the converged y (false with *why on failure).
  static bool StateDerivative(const Metric& metric, const VectorXd& g, const VectorXd& v, VectorXd* f,
                              std::string* why) {
    const int d = metric.dim();
    VectorXd acc;
    if (!metric.Acceleration(g, v, &acc, why)) return false;
    f->resize(2 * d);
    *f << v, acc;
    return acc.allFinite();
  }

  // Per-interval defect estimates (see the overview) and their maximum, with F at every node (*f, for the mesh
  // refinement's interpolant); on failure sets *how.
  double Defects(const Metric& metric, const MeshFunction& y, std::vector<double>* defects, std::vector<VectorXd>* f_out,
                 std::string* how) const {
    const int d = metric.dim();
    const std::size_t n = y.t.size();
    std::vector<VectorXd> state(n);
    std::vector<VectorXd>& f = *f_out;
    f.assign(n, VectorXd());
    std::string why;
    for (std::size_t i = 0; i < n; ++i) {
      state[i].resize(2 * d);
      state[i] << y.g[i], y.v[i];
      if (!StateDerivative(metric, y.g[i], y.v[i], &f[i], &why)) {
        *how = "the converged curve cannot be evaluated at node " + std::to_string(i) + ": " + why;
        return std::numeric_limits<double>::infinity();
      }
    }
    defects->assign(n - 1, 0.0);
    double worst = 0;
    VectorXd s, ds, fs;
    for (std::size_t i = 0; i + 1 < n; ++i) {
      const double h = y.t[i + 1] - y.t[i];
      for (const double tau : {0.25, 0.75}) {
        Interpolate(state[i], f[i], state[i + 1], f[i + 1], h, tau, &s, &ds);
        if (!StateDerivative(metric, s.head(d), s.tail(d), &fs, &why)) {
          (*defects)[i] = std::numeric_limits<double>::infinity();
          continue;
        }
        const double defect = (ds - fs).cwiseAbs().maxCoeff() / (1 + fs.cwiseAbs().maxCoeff());
        (*defects)[i] = std::max((*defects)[i], defect);
      }
      worst = std::max(worst, (*defects)[i]);
    }
    return worst;
  }

  // Splits every interval whose defect exceeds the tolerance and fills the new nodes from the interpolant (node
  // derivatives f from Defects).
  void RefineMesh(const Metric& metric, const std::vector<double>& defects, const std::vector<VectorXd>& f,
                  MeshFunction* y) const {
    const int d = metric.dim();
    const CollocationOptions& co = options_.collocation;
    MeshFunction out;
    const std::size_t n = y->t.size();
    int budget = co.max_intervals - y->intervals();
    for (std::size_t i = 0; i + 1 < n; ++i) {
      out.t.push_back(y->t[i]);
      out.g.push_back(y->g[i]);
      out.v.push_back(y->v[i]);
      if (!(defects[i] > co.tol) || budget <= 0) continue;
      const double ratio = std::isfinite(defects[i]) ? defects[i] / co.tol : 64.0;
      int pieces = std::clamp(static_cast<int>(std::ceil(std::cbrt(ratio))), 2, 4);
      pieces = std::min(pieces, budget + 1);
      budget -= pieces - 1;
      VectorXd y0(2 * d), y1(2 * d), s, ds;
      y0 << y->g[i], y->v[i];
      y1 << y->g[i + 1], y->v[i + 1];
      const double h = y->t[i + 1] - y->t[i];
      for (int k = 1; k < pieces; ++k) {
        const double tau = static_cast<double>(k) / pieces;
        Interpolate(y0, f[i], y1, f[i + 1], h, tau, &s, &ds);
        out.t.push_back(y->t[i] + tau * h);
        out.g.push_back(s.head(d));
        out.v.push_back(s.tail(d));
      }
    }
    out.t.push_back(y->t.back());
    out.g.push_back(y->g.back());
    out.v.push_back(y->v.back());
    *y = std::move(out);
  }

  // int_0^1 v^T M(g) v dt by Simpson's rule on the mesh (midpoints from the node values' average, to the
  // discretisation's order): the energy of the collocation curve, its squared length for a constant-speed curve.
  static double CurveEnergy(const Metric& metric, const MeshFunction& y) {
    double energy = 0;
    for (std::size_t i = 0; i + 1 < y.t.size(); ++i) {
      const double h = y.t[i + 1] - y.t[i];
      const VectorXd gm = 0.5 * (y.g[i] + y.g[i + 1]) + (h / 8) * (y.v[i] - y.v[i + 1]);
      const VectorXd vm = 1.5 * (y.g[i + 1] - y.g[i]) / h - 0.25 * (y.v[i] + y.v[i + 1]);
      const double e0 = y.v[i].dot(metric.Evaluate(y.g[i]) * y.v[i]);
      const double e1 = y.v[i + 1].dot(metric.Evaluate(y.g[i + 1]) * y.v[i + 1]);
      const double em = vm.dot(metric.Evaluate(gm) * vm);
      energy += h * (e0 + 4 * em + e1) / 6;
    }
    return energy;
  }

  static InitialCurve CurveOf(const MeshFunction& y, const VectorXd& z0, const VectorXd& z1) {
    InitialCurve c;
    c.times = y.t;
    c.points = y.g;
    c.points.front() = z0;
    c.points.back() = z1;
    c.velocities = y.v;
    c.refined = true;
    c.description = "collocation curve (" + std::to_string(y.intervals()) + " intervals)";
    return c;
  }

  LogMapOptions options_;
};

}  // namespace

std::unique_ptr<BvpSolver> MakeCollocation(const LogMapOptions& options) {
  return std::make_unique<Collocation>(options);
}

}  // namespace pushpull
