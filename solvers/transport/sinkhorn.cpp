// Entropic optimal transport: Sinkhorn iterations in the log domain with epsilon scaling, and the debiased Sinkhorn
// divergence (Feydy et al., "Interpolating between optimal transport and MMD using Sinkhorn divergences", 2019).
//
// OT_eps(a, b) = min_P <P, C> + eps KL(P | a b^T) over couplings of a and b. Its dual potentials (f, g) satisfy, at
// the optimum, f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps) and g_j = -eps log sum_i a_i exp((f_i - C_ij) / eps);
// the plan is P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps) and OT_eps = sum a_i f_i + sum b_j g_j. Each iteration
// applies the two soft-min updates (log-sum-exp with the maximum taken out: no overflow for any eps). After a g
// update the column marginal is exact; the row marginal of the current (f, g) is
// sum_j P_ij = a_i exp((f_i - f_i^new) / eps) with f^new the next f update, so the L1 violation
// sum_i a_i |exp((f_i - f_i^new) / eps) - 1| comes for free with the next update: the test of -sinkhorn_tol.
// With over-relaxation (-sinkhorn_overrelaxation, see AdaptOmega) the column marginal is not exact either; its L1
// violation comes for free with the g update and is added.
// Epsilon scaling: eps_0 = max C, eps_{k+1} = max(eps, scaling * eps_k); each intermediate stage runs until the
// violation is below -sinkhorn_stage_tol or for -sinkhorn_stage_max_iterations, the final one until -sinkhorn_tol or
// -sinkhorn_max_iterations (then kIterationLimit, with the violation reached).
// The loops are row-major and vectorised (Eigen's exp); the row update is parallel over row blocks, the column
// update over column blocks (each streams all rows): every sum has a fixed order, independent of the thread count.
// A sweep is split over threads only when each gets -sinkhorn_thread_min_entries cost entries (ThreadsForWork):
// one parallel map per sweep and hundreds of sweeps make thread start-up dominate on small point sets.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "pushpull/errors.hpp"
#include "pushpull/optimal_transport.hpp"
#include "pushpull/options.hpp"
#include "pushpull/parallel.hpp"

namespace pushpull {

namespace {

constexpr std::int64_t kRowBlock = 32;    // rows per work item of the row update
constexpr std::int64_t kColBlock = 512;   // columns per work item of the column update

using Eigen::ArrayXd;
using Eigen::VectorXd;

std::string Num(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

// out_i = -eps log sum_j exp((h_j - C_ij) / eps).
void SoftMinRows(const PointMatrix& c, const VectorXd& h, double eps, VectorXd& out, int threads) {
  const std::int64_t n = c.rows(), m = c.cols();
  out.resize(n);
  const std::int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  ParallelForOrdered(static_cast<std::size_t>(blocks), threads, [&](int, std::size_t block) {
    ArrayXd t(m);
    const std::int64_t i0 = static_cast<std::int64_t>(block) * kRowBlock, i1 = std::min(n, i0 + kRowBlock);
    for (std::int64_t i = i0; i < i1; ++i) {
      t = (h.array() - c.row(i).transpose().array()) / eps;
      const double mx = t.maxCoeff();
      out[i] = -eps * (mx + std::log((t - mx).exp().sum()));
    }
  });
}

// out_j = -eps log sum_i exp((h_i - C_ij) / eps), streaming the rows of C over a block of columns.
void SoftMinCols(const PointMatrix& c, const VectorXd& h, double eps, VectorXd& out, int threads) {
  const std::int64_t n = c.rows(), m = c.cols();
  out.resize(m);
  const std::int64_t blocks = (m + kColBlock - 1) / kColBlock;
  ParallelForOrdered(static_cast<std::size_t>(blocks), threads, [&](int, std::size_t block) {
    const std::int64_t j0 = static_cast<std::int64_t>(block) * kColBlock, j1 = std::min(m, j0 + kColBlock);
    const std::int64_t w = j1 - j0;
    ArrayXd mx = ArrayXd::Constant(w, -std::numeric_limits<double>::infinity()), s = ArrayXd::Zero(w);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto ci = c.row(i).segment(j0, w).transpose().array();
      mx = mx.max((h[i] - ci) / eps);
    }
    for (std::int64_t i = 0; i < n; ++i) {
      const auto ci = c.row(i).segment(j0, w).transpose().array();
      s += ((h[i] - ci) / eps - mx).exp();
    }
    out.segment(j0, w) = (-eps * (mx + s.log())).matrix();
  });
}

double PlanCost(const PointMatrix& c, const VectorXd& a, const VectorXd& b, const VectorXd& f, const VectorXd& g,
                double eps, int threads);

// Threads for the sweeps over an n x m cost matrix (-sinkhorn_threads, -sinkhorn_thread_min_entries).
int SweepThreads(std::int64_t n, std::int64_t m, const SinkhornOptions& o) {
  return ThreadsForWork(o.threads, static_cast<double>(n) * static_cast<double>(m), o.thread_min_entries);
}

// The epsilon-scaling schedule of both solves: stages from max(C, -sinkhorn_epsilon) (when -sinkhorn_scaling < 1)
// down to -sinkhorn_epsilon, each run by stage(eps, limit, tol, &violation) -> converged with the stage's iteration
// limit and tolerance (-sinkhorn_stage_* before the last stage). False (r->status kNumericalFailure) when a stage
// leaves a non-finite violation or potentials (finite() false); a last stage that does not converge sets
// kIterationLimit. *eps is the final epsilon.
template <class Stage, class Finite>
bool RunEpsilonStages(double cmax, const SinkhornOptions& o, Stage stage, Finite finite, SinkhornSolve* r,
                      double* eps, double* violation) {
  *eps = o.scaling < 1 ? cmax : o.epsilon;
  *violation = std::numeric_limits<double>::infinity();
  while (true) {
    const bool final_stage = *eps <= o.epsilon;
    if (final_stage) *eps = o.epsilon;
    ++r->stages;
    const int limit = final_stage ? o.max_iterations : o.stage_max_iterations;
    const double tol = final_stage ? o.tol : o.stage_tol;
    const bool converged = stage(*eps, limit, tol, violation);
    if (!std::isfinite(*violation) || !finite()) {
      r->status = TransportStatus::kNumericalFailure;
      r->message = "non-finite Sinkhorn potentials at epsilon " + Num(*eps);
      return false;
    }
    if (final_stage) {
      if (!converged) {
        r->status = TransportStatus::kIterationLimit;
        r->message = "Sinkhorn stopped at -sinkhorn_max_iterations " + std::to_string(o.max_iterations) +
                     " with marginal violation " + Num(*violation) + " > -sinkhorn_tol " + Num(o.tol) +
                     " (raise -sinkhorn_max_iterations or -sinkhorn_epsilon)";
      }
      return true;
    }
    *eps = std::max(o.epsilon, *eps * o.scaling);
  }
}

// Over-relaxation (SOR applied to the two blocks of potentials): f <- f + omega (T_f(g) - f), then
// g <- g + omega (T_g(f) - g). Near the solution the plain iteration (omega = 1) contracts the error by lambda per
// iteration, lambda the squared second singular value of the normalised plan (close to 1 for small eps); the
// alternating updates are a block Gauss-Seidel sweep of a 2-cyclic system, so Young's SOR theory applies: with
// omega <= omega* = 2 / (1 + sqrt(1 - lambda)) the observed rate mu satisfies (mu + omega - 1)^2 = omega^2 lambda mu,
// and omega* gives mu = omega* - 1 ~ 1 - 2 sqrt(1 - lambda) instead of lambda ~ 1 - (1 - lambda). Every
// -sinkhorn_overrelaxation_window iterations, mu is measured from the marginal violation over the second half of
// the window (the first half lets the last change of omega settle), lambda
// recovered from Young's relation and omega raised towards omega* (never above -sinkhorn_overrelaxation_max; never
// lowered while the violation falls). A half window in which the violation did not fall halves omega - 1. Each stage
// starts at omega = 1. The schedule depends on computed values only: the same for every thread count.
double AdaptOmega(double omega, double window_ratio, int iterations, const SinkhornOptions& o) {
  if (!(window_ratio < 1.0)) return 1.0 + 0.5 * (omega - 1.0);
  const double mu = std::pow(window_ratio, 1.0 / iterations);
  const double lambda = std::min(1.0, (mu + omega - 1.0) * (mu + omega - 1.0) / (omega * omega * mu));
  const double target = 2.0 / (1.0 + std::sqrt(1.0 - lambda));
  return std::max(omega, std::min(o.overrelaxation_max, target));
}

SinkhornSolve SolveOne(const PointMatrix& c, const VectorXd& a, const VectorXd& b, const SinkhornOptions& o) {
  SinkhornSolve r;
  const std::int64_t n = c.rows(), m = c.cols();
  const int threads = SweepThreads(n, m, o);
  const double cmax = std::max(c.maxCoeff(), o.epsilon);
  const VectorXd loga = a.array().log().matrix(), logb = b.array().log().matrix();
  VectorXd f = VectorXd::Zero(n), g = VectorXd::Zero(m), f_new, g_new;
  const auto stage = [&](double eps, int limit, double tol, double* violation) {
    double omega = 1.0;           // over-relaxation factor of this stage (1 = plain Sinkhorn)
    double column_violation = 0;  // L1 violation of the column marginal of the current (f, g): 0 when omega = 1
    double window_violation = 0;  // the violation at the start of the current rate window
    for (int it = 0; it <= limit; ++it) {
      SoftMinRows(c, g + eps * logb, eps, f_new, threads);
      if (it > 0) {  // the row violation of (f, g) comes with the next f update
        *violation = (a.array() * (((f - f_new) / eps).array().exp() - 1.0).abs()).sum() + column_violation;
        if (o.monitor) o.monitor(0, eps, r.iterations, *violation);
        if (!std::isfinite(*violation)) return false;
        if (*violation <= tol) return true;
        // The rate is measured over the second half of each window (the first half lets the change of omega at
        // the window's start settle).
        const int w = o.overrelaxation_window, half = w / 2;
        if (o.overrelaxation && it % w == half) window_violation = *violation;
        if (o.overrelaxation && it % w == 0) {
          if (window_violation > 0) omega = AdaptOmega(omega, *violation / window_violation, w - half, o);
        }
      }
      if (it == limit) return false;
      f = omega == 1.0 ? f_new : VectorXd(f + omega * (f_new - f));
      SoftMinCols(c, f + eps * loga, eps, g_new, threads);
      if (omega == 1.0) {
        g.swap(g_new);
        column_violation = 0;
      } else {  // g - T(f) = (1 - omega)(g_old - T(f)): the column marginal b_j exp((g_j - T(f)_j) / eps)
        column_violation = (b.array() * (((1.0 - omega) * (g - g_new) / eps).array().exp() - 1.0).abs()).sum();
        g += omega * (g_new - g);
      }
      ++r.iterations;
    }
    return false;
  };
  double eps = 0, violation = 0;
  if (!RunEpsilonStages(cmax, o, stage, [&] { return f.allFinite() && g.allFinite(); }, &r, &eps, &violation)) {
    return r;
  }
  r.marginal_violation = violation;
  r.f = f;
  r.g = g;
  r.entropic_cost = a.dot(f) + b.dot(g);
  r.transport_cost = PlanCost(c, a, b, f, g, eps, threads);
  return r;
}

// OT_eps(a, a) on a symmetric cost: the potentials are equal (f = g), and the symmetric fixed point
// f = T(f), T(f)_i = -eps log sum_j a_j exp((f_j - C_ij) / eps), is reached by the averaged iteration
// f <- (f + T(f)) / 2 (Feydy et al. 2019), which converges quickly where the alternating updates of SolveOne
// oscillate. The row (and column) marginal of P_ij = a_i a_j exp((f_i + f_j - C_ij) / eps) is
// a_i exp((f_i - T(f)_i) / eps): its L1 violation is the convergence test, with the same tolerances and stages.
SinkhornSolve SolveSymmetric(const PointMatrix& c, const VectorXd& a, const SinkhornOptions& o, int solve) {
  SinkhornSolve r;
  const std::int64_t n = c.rows();
  const int threads = SweepThreads(n, n, o);
  const double cmax = std::max(c.maxCoeff(), o.epsilon);
  const VectorXd loga = a.array().log().matrix();
  VectorXd f = VectorXd::Zero(n), t;
  const auto stage = [&](double eps, int limit, double tol, double* violation) {
    for (int it = 0; it <= limit; ++it) {
      SoftMinRows(c, f + eps * loga, eps, t, threads);
      *violation = (a.array() * (((f - t) / eps).array().exp() - 1.0).abs()).sum();
      if (o.monitor) o.monitor(solve, eps, r.iterations, *violation);
      if (!std::isfinite(*violation)) return false;
      if (*violation <= tol) return true;
      if (it == limit) return false;
      f = 0.5 * (f + t);
      ++r.iterations;
    }
    return false;
  };
  double eps = 0, violation = 0;
  if (!RunEpsilonStages(cmax, o, stage, [&] { return f.allFinite(); }, &r, &eps, &violation)) return r;
  r.marginal_violation = violation;
  r.f = f;
  r.g = f;
  r.entropic_cost = 2.0 * a.dot(f);
  r.transport_cost = PlanCost(c, a, a, f, f, eps, threads);
  return r;
}

}  // namespace

namespace {
// <P, C> with P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps), summed per row block in a fixed order.
double PlanCost(const PointMatrix& c, const VectorXd& a, const VectorXd& b, const VectorXd& f, const VectorXd& g,
                double eps, int threads) {
  const std::int64_t n = c.rows();
  const std::int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  ParallelForOrdered(static_cast<std::size_t>(blocks), threads, [&](int, std::size_t block) {
    const std::int64_t i0 = static_cast<std::int64_t>(block) * kRowBlock, i1 = std::min(n, i0 + kRowBlock);
    double s = 0;
    for (std::int64_t i = i0; i < i1; ++i) {
      const ArrayXd ci = c.row(i).transpose().array();
      s += a[i] * (b.array() * ((f[i] + g.array() - ci) / eps).exp() * ci).sum();
    }
    partial[block] = s;
  });
  double total = 0;
  for (const double p : partial) total += p;
  return total;
}

}  // namespace

void SinkhornOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix) {
  const std::string p(prefix);
  db.SetSection("Entropic optimal transport (Sinkhorn)" + (p.empty() ? std::string() : " (prefix '" + p + "')"));
  db.Enum(prefix, "sinkhorn_cost", cost, "Ground cost: sqeuclidean (approximates W2^2) or euclidean (W1)",
          "SinkhornOptions::cost", {"sqeuclidean", "euclidean"});
  db.Real(prefix, "sinkhorn_epsilon", epsilon,
          "Entropic regularisation eps of OT_eps = min <P, C> + eps KL(P | a b^T), in cost units (absolute)",
          "SinkhornOptions::epsilon", RealBounds::Positive());
  db.Real(prefix, "sinkhorn_scaling", scaling,
          "Epsilon scaling: stages at eps = max C, scaling * max C, ... down to -sinkhorn_epsilon; 1 = no scaling",
          "SinkhornOptions::scaling", RealBounds{0.0, 1.0, true, false});
  db.Real(prefix, "sinkhorn_tol", tol,
          "Convergence: L1 violation of the marginals at the final epsilon (row + column; without over-relaxation the "
          "column marginal is exact)",
          "SinkhornOptions::tol", RealBounds::Positive());
  db.Real(prefix, "sinkhorn_stage_tol", stage_tol, "The same test ends each intermediate epsilon stage",
          "SinkhornOptions::stage_tol", RealBounds::Positive());
  db.Bool(prefix, "sinkhorn_overrelaxation", overrelaxation,
          "Over-relax the alternating updates (SOR) by a factor omega adapted from the observed convergence rate "
          "(Young's relation); false = plain Sinkhorn",
          "SinkhornOptions::overrelaxation");
  db.Int(prefix, "sinkhorn_overrelaxation_window", overrelaxation_window,
         "Iterations per convergence-rate measurement (each may raise omega towards its optimum)",
         "SinkhornOptions::overrelaxation_window", IntBounds::AtLeast(2));
  db.Real(prefix, "sinkhorn_overrelaxation_max", overrelaxation_max, "Upper bound of the over-relaxation factor omega",
          "SinkhornOptions::overrelaxation_max", RealBounds{1.0, 2.0, false, true});
  db.Int(prefix, "sinkhorn_max_iterations", max_iterations,
         "Iterations at the final epsilon; reaching it without -sinkhorn_tol gives status iteration_limit",
         "SinkhornOptions::max_iterations", IntBounds::AtLeast(1));
  db.Int(prefix, "sinkhorn_stage_max_iterations", stage_max_iterations,
         "Iterations at most at each intermediate epsilon (the stage then moves on: only the final one counts)",
         "SinkhornOptions::stage_max_iterations", IntBounds::AtLeast(1));
  db.Bool(prefix, "sinkhorn_debiased", debiased,
          "Also solve OT_eps(a, a) and OT_eps(b, b) for the debiased divergence OT_eps(a, b) - (OT_eps(a, a) + "
          "OT_eps(b, b)) / 2",
          "SinkhornOptions::debiased");
  db.Int(prefix, "sinkhorn_threads", threads, "Worker threads; 0 = all cores (results do not depend on it)",
         "SinkhornOptions::threads", IntBounds::AtLeast(0));
  db.Real(prefix, "sinkhorn_thread_min_entries", thread_min_entries,
          "Cost-matrix entries each thread must get per sweep before a sweep is split over threads (fewer: fewer "
          "threads, down to one; starting threads for every sweep costs more than small sweeps); 0 = always use "
          "-sinkhorn_threads. Results do not depend on it",
          "SinkhornOptions::thread_min_entries", RealBounds::NonNegative());
}

std::string SinkhornOptions::Validate() const {
  SinkhornOptions copy = *this;
  return CheckDeclared([&](OptionsDatabase& db) { copy.SetFromOptions(db); });
}

SinkhornResult SolveSinkhorn(const PointMatrix& x, const PointMatrix& y, const Eigen::VectorXd& a_in,
                             const Eigen::VectorXd& b_in, const SinkhornOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (const std::string problem = options.Validate(); !problem.empty()) throw InputError(problem);
  if (x.rows() == 0 || y.rows() == 0) throw InputError("Sinkhorn: empty point set");
  if (x.cols() != y.cols()) {
    throw InputError("Sinkhorn: source points have dimension " + std::to_string(x.cols()) + ", target points " +
                     std::to_string(y.cols()));
  }
  if (!x.allFinite() || !y.allFinite()) throw InputError("Sinkhorn: non-finite point coordinates");
  auto weights = [](const VectorXd& w, Eigen::Index count, const char* name) -> VectorXd {
    if (w.size() == 0) return VectorXd::Constant(count, 1.0 / static_cast<double>(count));
    if (w.size() != count || !w.allFinite() || (w.array() <= 0).any()) {
      throw InputError(std::string("Sinkhorn: ") + name + " weights must be " + std::to_string(count) +
                       " finite positive values");
    }
    return w / w.sum();
  };
  const VectorXd a = weights(a_in, x.rows(), "source"), b = weights(b_in, y.rows(), "target");
  const TransportCost type = ParseTransportCost(options.cost);
  SinkhornResult r;
  r.epsilon = options.epsilon;
  r.cost_name = OptimalCostName(type);
  r.xy = SolveOne(TransportCostMatrix(x, y, type, SweepThreads(x.rows(), y.rows(), options)), a, b, options);
  r.status = r.xy.status;
  r.message = r.xy.message;
  if (options.debiased) {
    r.xx = SolveSymmetric(TransportCostMatrix(x, x, type, SweepThreads(x.rows(), x.rows(), options)), a, options, 1);
    r.yy = SolveSymmetric(TransportCostMatrix(y, y, type, SweepThreads(y.rows(), y.rows(), options)), b, options, 2);
    for (const SinkhornSolve* s : {&r.xx, &r.yy}) {
      if (r.status == TransportStatus::kSuccess && s->status != TransportStatus::kSuccess) {
        r.status = s->status;
        r.message = (s == &r.xx ? "OT_eps(a, a): " : "OT_eps(b, b): ") + s->message;
      }
    }
    r.divergence = r.xy.entropic_cost - 0.5 * (r.xx.entropic_cost + r.yy.entropic_cost);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace pushpull
